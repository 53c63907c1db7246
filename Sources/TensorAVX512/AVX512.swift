// The AVX-512 tier: this target alone is compiled with `-target-cpu cascadelake` (see Package.swift).
// Entry point only; Tensor calls it after clip_cpu_features() reported CLIP_CPU_AVX512 and CLIP_CPU_AVX512_VNNI.

import AVX512Intrinsics
import KernelIntrinsics
import TensorSIMD

/// SIMD16 (one ZMM register), 12×32 GEMM tiles, fused multiply-add.
package enum AVX512: KernelISA {
    package typealias V = SIMD16<Float>
    @inline(__always) package static var isa: ISA { .avx512 }
    /// vpdpbusd: exact on full unsigned bytes.
    @inline(__always) package static func dot4(_ acc: Acc, _ a: Quad, _ b: Quad) -> Acc { dotProductAccumulate(acc, a, b) }
    /// The kernel table; AVX-512 (F, CD, BW, DQ, VL, VNNI) must have been detected.
    @inline(never) package static func kernels() -> KernelTable { Kernels<AVX512>.table() }
}
