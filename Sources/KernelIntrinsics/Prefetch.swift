// Software prefetch from Swift through the compiler's Builtin module (llvm.prefetch): prefetcht1 on x86-64,
// prfm on arm64. p: any address (a prefetch never faults) -> no effect but the cache.

import Builtin

/// Asks the CPU to bring the cache line holding `p` into L2 (and L3) for a read soon.
///
/// The GEMM streams each weight panel from memory once per call at batch 1; the hardware prefetcher alone
/// does not run far enough ahead, so the kernel prefetches the next k-block while it computes the current one.
@_alwaysEmitIntoClient @_transparent
public func prefetchL2(_ p: UnsafeRawPointer) {
    Builtin.int_prefetch_RawPointer(p._rawValue, Int32(0)._value, Int32(2)._value, Int32(1)._value)
}

/// Asks the CPU to bring the cache line holding `p` into L1 (prefetcht0) for a read soon.
///
/// Attention reads each head's q, k and v rows 3C floats apart: requesting all their lines when the head starts
/// overlaps the misses instead of stalling on each line the first loop touches.
@_alwaysEmitIntoClient @_transparent
public func prefetchL1(_ p: UnsafeRawPointer) {
    Builtin.int_prefetch_RawPointer(p._rawValue, Int32(0)._value, Int32(3)._value, Int32(1)._value)
}
