// The instruction-set tag every kernel body is generic over: its vector type, multiply-accumulate and min/max.

import KernelIntrinsics
// Each ISA target defines its own tag, so every specialisation it emits carries that tag in its symbol name and
// can never be merged by the linker with a baseline copy (which would run AVX code on a CPU without it).

/// An instruction-set tier as the kernels see it.
@usableFromInline package protocol KernelISA {
    /// The float vector one register holds (SIMD4 for SSE2/NEON, SIMD8 for AVX2, SIMD16 for AVX-512).
    associatedtype V: SIMD where V.Scalar == Float
    /// `acc + a·b`: one fused instruction on targets with FMA. Without an FMA target, `addingProduct` becomes a
    /// libm call per lane (about 0.6 GFLOP/s), so the baseline multiplies, then adds.
    static func madd(_ acc: V, _ a: V, _ b: V) -> V
    /// The GEMM's k-block: a (kc, 2·V) panel block fits in L1 next to its rows of x.
    static var kc: Int { get }
    /// Lane-wise minimum and maximum, NaN-propagating (one instruction; see KernelIntrinsics).
    static func minimum(_ a: V, _ b: V) -> V
    static func maximum(_ a: V, _ b: V) -> V
}

/// The baseline tier: SIMD4 (one SSE2 or NEON register), multiply-then-add.
@usableFromInline package enum Portable: KernelISA {
    @usableFromInline package typealias V = SIMD4<Float>
    @inlinable @inline(__always)
    package static func madd(_ acc: V, _ a: V, _ b: V) -> V { acc + a * b }
    @inlinable package static var kc: Int { 1024 }
    @inlinable @inline(__always) package static func minimum(_ a: V, _ b: V) -> V { KernelIntrinsics.minimum(a, b) }
    @inlinable @inline(__always) package static func maximum(_ a: V, _ b: V) -> V { KernelIntrinsics.maximum(a, b) }
}
