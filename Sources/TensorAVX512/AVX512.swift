// The AVX-512 tier: this target alone is compiled with `-target-cpu cascadelake` (see Package.swift).
// Entry point only; Tensor calls it after clip_cpu_features() reported CLIP_CPU_AVX512 and CLIP_CPU_AVX512_VNNI.

import AVX512Intrinsics
import KernelIntrinsics
import TensorSIMD

/// SIMD16 (one ZMM register), 12×32 GEMM tiles, fused multiply-add.
package enum AVX512: KernelISA {
    package typealias V = SIMD16<Float>
    @inline(__always) package static func madd(_ acc: V, _ a: V, _ b: V) -> V { acc.addingProduct(a, b) }
    @inline(__always) package static func minimum(_ a: V, _ b: V) -> V { KernelIntrinsics.minimum(a, b) }
    @inline(__always) package static func maximum(_ a: V, _ b: V) -> V { KernelIntrinsics.maximum(a, b) }
    package typealias Acc = SIMD16<Int32>
    package typealias Quad = SIMD64<UInt8>
    package typealias Bytes = SIMD16<UInt8>
    /// vpdpbusd: exact on full unsigned bytes.
    @inline(__always) package static func dot4(_ acc: Acc, _ a: Quad, _ b: Quad) -> Acc { dotProductAccumulate(acc, a, b) }
    @inline(__always) package static func toFloat(_ v: Acc) -> V { convertToFloat(v) }
    @inline(__always) package static func toBytes(_ v: Acc) -> Bytes { truncateToBytes(v) }
    @inline(__always) package static var int8Levels: Int32 { 127 }
    @inline(__always) package static var tileRows: Int { 12 }
    @inline(__always) package static var kc: Int { 256 }
    /// The kernel table; AVX-512 (F, CD, BW, DQ, VL, VNNI) must have been detected.
    @inline(never) package static func kernels() -> KernelTable { Kernels<AVX512>.table(.avx512) }
}
