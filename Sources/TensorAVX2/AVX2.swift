// The AVX2+FMA tier: this target alone is compiled with `-target-cpu haswell` (see Package.swift).
// Entry point only; Tensor calls it after clip_cpu_features() reported CLIP_CPU_AVX2_FMA.

import AVX2Intrinsics
import KernelIntrinsics
import TensorSIMD

/// SIMD8 (one YMM register), 6×16 GEMM tiles, fused multiply-add.
package enum AVX2: KernelISA {
    package typealias V = SIMD8<Float>
    @inline(__always) package static func madd(_ acc: V, _ a: V, _ b: V) -> V { acc.addingProduct(a, b) }
    @inline(__always) package static func minimum(_ a: V, _ b: V) -> V { KernelIntrinsics.minimum(a, b) }
    @inline(__always) package static func maximum(_ a: V, _ b: V) -> V { KernelIntrinsics.maximum(a, b) }
    package typealias Acc = SIMD8<Int32>
    package typealias Quad = SIMD32<UInt8>
    package typealias Bytes = SIMD8<UInt8>
    /// vpmaddubsw + vpmaddwd: exact because activations stay within 7 bits (``int8Levels`` 63).
    @inline(__always) package static func dot4(_ acc: Acc, _ a: Quad, _ b: Quad) -> Acc { dotProductAccumulate(acc, a, b) }
    @inline(__always) package static func toFloat(_ v: Acc) -> V { convertToFloat(v) }
    @inline(__always) package static func toBytes(_ v: Acc) -> Bytes { truncateToBytes(v) }
    @inline(__always) package static var int8Levels: Int32 { 63 }
    @inline(__always) package static var tileRows: Int { 6 }
    @inline(__always) package static var kc: Int { 512 }
    /// The kernel table; AVX2 and FMA must have been detected.
    @inline(never) package static func kernels() -> KernelTable { Kernels<AVX2>.table(.avx2) }
}
