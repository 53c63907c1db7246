// Matrix multiply through OpenBLAS cblas_sgemm, with the weight in Hugging Face's [out, in] layout.
// linear: x: (M, K), w: (N, K), b: (N) -> y: (M, N) = x·wᵀ + b.   gemm: C = alpha·op(A)·op(B) + beta·C.

import CBLAS

/// Row-major `C = alpha · op(A) · op(B) + beta · C` with explicit leading dimensions (OpenBLAS sgemm).
///
/// `op(A)` is `M×K`, `op(B)` is `K×N`, `C` is `M×N`. Leading dimensions let callers address one attention
/// head inside a `(T, C)` activation without copying.
/// ```swift
/// // scores (T×T) = q_h (T×d) · k_hᵀ, with q and k rows strided by the model width C
/// gemm(transA: false, transB: true, m: T, n: T, k: d, alpha: scale, a: q, lda: C, b: k, ldb: C,
///      beta: 0, c: scores, ldc: T)
/// ```
@inlinable
public func gemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    guard m > 0, n > 0 else { return }
    cblas_sgemm(
        CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// Scalar reference for ``gemm(transA:transB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)``, accumulating in Double.
///
/// ```swift
/// gemmReference(transA: false, transB: true, m: 2, n: 3, k: 4, alpha: 1, a: a, lda: 4, b: b, ldb: 4,
///               beta: 0, c: c, ldc: 3)
/// ```
public func gemmReference(
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

/// A fully connected layer: `y = x · wᵀ + b` with `w` in `[out, in]` layout (torch.nn.Linear).
///
/// ```swift
/// linear(x, rows: 50, inFeatures: 768, weight: w, outFeatures: 3072, bias: b, out: y)
/// ```
@inlinable
public func linear(
    _ x: UnsafePointer<Float>, rows: Int, inFeatures: Int,
    weight: UnsafePointer<Float>, outFeatures: Int, bias: UnsafePointer<Float>?,
    out: UnsafeMutablePointer<Float>
) {
    gemm(transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures, alpha: 1,
         a: x, lda: inFeatures, b: weight, ldb: inFeatures, beta: 0, c: out, ldc: outFeatures)
    if let bias { addBias(out, rows: rows, cols: outFeatures, bias: bias) }
}

/// ``linear(_:rows:inFeatures:weight:outFeatures:bias:out:)`` with the output columns split over `threads`
/// single-threaded BLAS calls. OpenBLAS's own threading synchronises (and spin-yields) on every call, which
/// dominates at batch 1; splitting the weight rows ourselves keeps both cores busy without that cost.
///
/// ```swift
/// linearSplit(x, rows: 50, inFeatures: 768, weight: w, outFeatures: 3072, bias: b, out: y, threads: 2)
/// ```
public func linearSplit(
    _ x: UnsafePointer<Float>, rows: Int, inFeatures: Int,
    weight: UnsafePointer<Float>, outFeatures: Int, bias: UnsafePointer<Float>?,
    out: UnsafeMutablePointer<Float>, threads: Int
) {
    let t = max(1, min(threads, outFeatures / 16))
    parallelFor(t) { part in
        // 16-aligned column ranges
        let n0 = (outFeatures * part / t) & ~15, n1 = part == t - 1 ? outFeatures : (outFeatures * (part + 1) / t) & ~15
        guard n1 > n0 else { return }
        gemm(transA: false, transB: true, m: rows, n: n1 - n0, k: inFeatures, alpha: 1,
             a: x, lda: inFeatures, b: weight + n0 * inFeatures, ldb: inFeatures, beta: 0, c: out + n0, ldc: outFeatures)
        if let bias {
            for r in 0..<rows { addInPlace(out + r * outFeatures + n0, bias + n0, count: n1 - n0) }
        }
    }
}

/// Scalar reference for ``linear(_:rows:inFeatures:weight:outFeatures:bias:out:)``.
///
/// ```swift
/// linearReference(x, rows: 2, inFeatures: 4, weight: w, outFeatures: 3, bias: nil, out: y)
/// ```
public func linearReference(
    _ x: UnsafePointer<Float>, rows: Int, inFeatures: Int,
    weight: UnsafePointer<Float>, outFeatures: Int, bias: UnsafePointer<Float>?,
    out: UnsafeMutablePointer<Float>
) {
    gemmReference(transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures, alpha: 1,
                  a: x, lda: inFeatures, b: weight, ldb: inFeatures, beta: 0, c: out, ldc: outFeatures)
    if let bias { addBiasReference(out, rows: rows, cols: outFeatures, bias: bias) }
}

/// Sets the number of OpenBLAS threads (the `CLIP_THREADS` knob applies it at model load).
///
/// ```swift
/// setBLASThreads(2)
/// ```
public func setBLASThreads(_ n: Int) {
    openblas_set_num_threads(Int32(max(1, n)))
}

/// The number of threads OpenBLAS currently uses.
///
/// ```swift
/// print(blasThreads())
/// ```
public func blasThreads() -> Int { Int(openblas_get_num_threads()) }
