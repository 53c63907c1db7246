// The AVX2+FMA tier: this target alone is compiled with `-target-cpu haswell` (see Package.swift).
// Entry point only; Tensor calls it after clip_cpu_features() reported CLIP_CPU_AVX2_FMA.

import AVX2Intrinsics
import KernelIntrinsics
import TensorSIMD

/// SIMD8 (one YMM register), 6×16 GEMM tiles, fused multiply-add.
package enum AVX2: KernelISA {
    package typealias V = SIMD8<Float>
    @inline(__always) package static var isa: ISA { .avx2 }
    /// vpmaddubsw + vpmaddwd: exact because activations stay within 7 bits (``ISA/int8Levels`` 63).
    @inline(__always) package static func dot4(_ acc: Acc, _ a: Quad, _ b: Quad) -> Acc { dotProductAccumulate(acc, a, b) }
    /// Two vpmaddubsw, vpaddw, one vpmaddwd: exact for the paired layout's weights (±64).
    @inline(__always) package static func dot4Pair(_ acc: Acc, _ a0: Quad, _ b0: Quad, _ a1: Quad, _ b1: Quad) -> Acc {
        dotProductPairAccumulate(acc, a0, b0, a1, b1)
    }
    /// The kernel table; AVX2 and FMA must have been detected.
    @inline(never) package static func kernels() -> KernelTable { Kernels<AVX2>.table() }
}
