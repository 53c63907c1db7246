// Reference attention for one head of one sequence, reading q, k, v from a fused q|k|v buffer.
// q, k, v: (L, d) rows strided by `stride` -> out: (L, d) rows strided by `outStride`; scores: (L, L) scratch.

/// Scalar reference for one head of ``Compute``'s attention, built from the reference GEMM and softmax.
package func attentionHeadReference(
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, stride: Int, length: Int,
    headDim d: Int, scale: Float, causal: Bool, scores: UnsafeMutablePointer<Float>,
    out: UnsafeMutablePointer<Float>, outStride: Int
) {
    gemmReference(transA: false, transB: true, m: length, n: length, k: d, alpha: scale,
                  a: q, lda: stride, b: k, ldb: stride, beta: 0, c: scores, ldc: length)
    softmaxReference(scores, rows: length, cols: length, causal: causal)
    gemmReference(transA: false, transB: false, m: length, n: d, k: length, alpha: 1,
                  a: scores, lda: length, b: v, ldb: stride, beta: 0, c: out, ldc: outStride)
}
