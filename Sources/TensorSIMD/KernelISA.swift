// The instruction-set tag every kernel body is generic over: its vector type, multiply-accumulate and min/max.

import KernelIntrinsics
// Each ISA target defines its own tag, so every specialisation it emits carries that tag in its symbol name and
// can never be merged by the linker with a baseline copy (which would run AVX code on a CPU without it).

/// An instruction-set tier as the kernels see it.
@usableFromInline package protocol KernelISA: SendableMetatype {
    /// The float vector one register holds (SIMD4 for SSE2/NEON, SIMD8 for AVX2, SIMD16 for AVX-512).
    associatedtype V: SIMD where V.Scalar == Float
    /// `acc + a·b`: one fused instruction on targets with FMA. Without an FMA target, `addingProduct` becomes a
    /// libm call per lane (about 0.6 GFLOP/s), so the baseline multiplies, then adds.
    static func madd(_ acc: V, _ a: V, _ b: V) -> V
    /// The GEMM's k-block: a (kc, 2·V) panel block fits in L1 next to its rows of x.
    static var kc: Int { get }
    /// Rows per GEMM tile: 2 × tileRows accumulators must fit in the vector registers with room to spare (12 with
    /// AVX-512's 32 registers, 6 with 16).
    static var tileRows: Int { get }
    /// Lane-wise minimum and maximum, NaN-propagating (one instruction; see KernelIntrinsics).
    static func minimum(_ a: V, _ b: V) -> V
    static func maximum(_ a: V, _ b: V) -> V

    // The int8 GEMM (quantized weights).
    /// One int32 accumulator lane per float lane.
    associatedtype Acc: SIMD where Acc.Scalar == Int32
    /// Four bytes per accumulator lane: one k-group of 4 values per output column.
    associatedtype Quad: SIMD where Quad.Scalar == UInt8
    /// One byte per float lane.
    associatedtype Bytes: SIMD where Bytes.Scalar == UInt8
    /// `acc[i] + Σ_{t<4} a[4i+t] · Int8(bitPattern: b[4i+t])`, exactly (a: activations as unsigned bytes).
    static func dot4(_ acc: Acc, _ a: Quad, _ b: Quad) -> Acc
    /// Int32 lanes to float.
    static func toFloat(_ v: Acc) -> V
    /// The low byte of each int32 lane.
    static func toBytes(_ v: Acc) -> Bytes
    /// Activations are quantized to `-int8Levels...int8Levels` and stored as bytes `q + int8Levels + 1`: 127
    /// where `dot4` is exact on full bytes, 63 where it saturates above 7-bit activations (AVX2's vpmaddubsw).
    static var int8Levels: Int32 { get }
}

/// The baseline tier: SIMD4 (one SSE2 or NEON register), multiply-then-add.
@usableFromInline package enum Portable: KernelISA {
    @usableFromInline package typealias V = SIMD4<Float>
    @inlinable @inline(__always)
    package static func madd(_ acc: V, _ a: V, _ b: V) -> V { acc + a * b }
    @inlinable package static var kc: Int { 1024 }
    @inlinable package static var tileRows: Int { 6 }
    @inlinable @inline(__always) package static func minimum(_ a: V, _ b: V) -> V { KernelIntrinsics.minimum(a, b) }
    @inlinable @inline(__always) package static func maximum(_ a: V, _ b: V) -> V { KernelIntrinsics.maximum(a, b) }

    @usableFromInline package typealias Acc = SIMD4<Int32>
    @usableFromInline package typealias Quad = SIMD16<UInt8>
    @usableFromInline package typealias Bytes = SIMD4<UInt8>
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
    @inlinable @inline(__always) package static func toFloat(_ v: Acc) -> V { convertToFloat(v) }
    @inlinable @inline(__always) package static func toBytes(_ v: Acc) -> Bytes { truncateToBytes(v) }
    @inlinable package static var int8Levels: Int32 { 127 }
}
