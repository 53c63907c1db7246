// Matrix multiply through OpenBLAS cblas_sgemm (the BLAS backends, and products outside the model's layers).
// C = alpha·op(A)·op(B) + beta·C, row-major, with explicit leading dimensions.

import CBLAS

/// Row-major `C = alpha · op(A) · op(B) + beta · C` (OpenBLAS `sgemm`). `op(A)` is `M×K`, `op(B)` is `K×N`.
@inlinable
package func blasGemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    guard m > 0, n > 0 else { return }
    cblas_sgemm(
        CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// Scalar reference for ``blasGemm(transA:transB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)``, accumulating in Double.
package func gemmReference(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0
            for p in 0..<k {
                let av = transA ? a[p * lda + i] : a[i * lda + p]
                let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                s += Double(av) * Double(bv)
            }
            let prior = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
            c[i * ldc + j] = Float(Double(alpha) * s + prior)
        }
    }
}

/// Scalar reference for a linear layer: `y = x · wᵀ + b`, `w` in `[out, in]` layout.
package func linearReference(
    _ x: UnsafePointer<Float>, rows: Int, inFeatures: Int,
    weight: UnsafePointer<Float>, outFeatures: Int, bias: UnsafePointer<Float>?,
    out: UnsafeMutablePointer<Float>
) {
    gemmReference(transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures, alpha: 1,
                  a: x, lda: inFeatures, b: weight, ldb: inFeatures, beta: 0, c: out, ldc: outFeatures)
    if let bias { for r in 0..<rows { for c in 0..<outFeatures { out[r * outFeatures + c] += bias[c] } } }
}
