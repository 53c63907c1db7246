// The instruction-set tag every kernel body is generic over: its vector type, its int8 dot product and its tier,
// whose facts (fused multiply-add, tile rows, int8 levels) and the vector's operations give the rest.

import KernelIntrinsics
// Each ISA target defines its own tag, so every specialisation it emits carries that tag in its symbol name and
// can never be merged by the linker with a baseline copy (which would run AVX code on a CPU without it).

/// An instruction-set tier as the kernels see it.
@usableFromInline package protocol KernelISA: SendableMetatype {
    /// The float vector one register holds (SIMD4 for SSE2/NEON, SIMD8 for AVX2, SIMD16 for AVX-512), with its
    /// lane-wise minimum, maximum and conversions (see KernelIntrinsics).
    associatedtype V: KernelVector
    /// The tier.
    static var isa: ISA { get }
    /// `acc[i] + Σ_{t<4} a[4i+t] · Int8(bitPattern: b[4i+t])`, exactly (a: activations as unsigned bytes, see
    /// ``ISA/int8Levels``).
    static func dot4(_ acc: V.Int32Lanes, _ a: V.ByteQuads, _ b: V.ByteQuads) -> V.Int32Lanes
    /// `dot4(dot4(acc, a0, b0), a1, b1)`: two k-groups at once, exactly, when every weight byte is within
    /// ±``int8PairWeightLimit`` (the paired weight layout guarantees it). AVX2 adds the two groups' 16-bit pair sums
    /// before widening them (one `vpmaddwd` for two `vpmaddubsw`); the default is two ``dot4(_:_:_:)``.
    static func dot4Pair(_ acc: V.Int32Lanes, _ a0: V.ByteQuads, _ b0: V.ByteQuads, _ a1: V.ByteQuads,
                         _ b1: V.ByteQuads) -> V.Int32Lanes
}

/// The largest |weight| of the paired int8 layout: with activation bytes ≤ 127 (``ISA/int8Levels`` 63), four
/// products sum to at most 4 · 127 · 64 = 32512, inside a 16-bit lane.
@inlinable @inline(__always)
package var int8PairWeightLimit: Int32 { 64 }

extension KernelISA {
    @inlinable @inline(__always)
    package static func dot4Pair(_ acc: V.Int32Lanes, _ a0: V.ByteQuads, _ b0: V.ByteQuads, _ a1: V.ByteQuads,
                                 _ b1: V.ByteQuads) -> V.Int32Lanes {
        dot4(dot4(acc, a0, b0), a1, b1)
    }

    /// One int32 accumulator lane per float lane (the int8 GEMM).
    @usableFromInline package typealias Acc = V.Int32Lanes
    /// Four bytes per accumulator lane: one k-group of 4 values per output column.
    @usableFromInline package typealias Quad = V.ByteQuads
    /// One byte per float lane.
    @usableFromInline package typealias Bytes = V.ByteLanes

    /// `acc + a·b`: one fused instruction where the tier has FMA. Without an FMA target a fused multiply-add is a
    /// libm call per lane (about 0.6 GFLOP/s), so the baseline multiplies, then adds.
    @inlinable @inline(__always)
    package static func madd(_ acc: V, _ a: V, _ b: V) -> V {
        isa.fusedMultiplyAdd ? V.fusedMultiplyAdd(acc, a, b) : acc + a * b
    }

    /// The GEMM's k-block: kc k-steps of a panel (2·V floats each) are 16 KiB on every tier, half of a 32 KiB L1, so
    /// the block stays there while the row tiles stream their x through the other half. At 32 KiB (the whole L1)
    /// each tile's x evicted part of it: batch 8 ran slower in 7 of 9 interleaved pairs (`clip-bench --profile`,
    /// AVX2, e.g. 613 vs 666 ms per pass).
    @inlinable @inline(__always)
    package static var kc: Int { (16 << 10) / (2 * MemoryLayout<V>.size) }

    /// Rows per GEMM tile (``ISA/tileRows``).
    @inlinable @inline(__always)
    package static var tileRows: Int { isa.tileRows }

    /// The int8 activation range (``ISA/int8Levels``).
    @inlinable @inline(__always)
    package static var int8Levels: Int32 { isa.int8Levels }
}

/// The baseline tier: SIMD4 (one SSE2 or NEON register), multiply-then-add.
@usableFromInline package enum Portable: KernelISA {
    @usableFromInline package typealias V = SIMD4<Float>
    @inlinable @inline(__always) package static var isa: ISA { .portable }

    /// Scalar byte products: exact and portable, not fast (the AVX tiers use their dot-product instructions).
    @inlinable @inline(__always)
    package static func dot4(_ acc: Acc, _ a: Quad, _ b: Quad) -> Acc {
        var r = acc
        for i in 0..<4 {
            var s: Int32 = 0
            for t in 0..<4 { s &+= Int32(a[4 &* i &+ t]) &* Int32(Int8(bitPattern: b[4 &* i &+ t])) }
            r[i] &+= s
        }
        return r
    }
}
