// Scaled dot-product attention for one head of one sequence, reading q, k, v from a fused q|k|v buffer.
// q, k, v: (L, d) rows strided by `stride` -> out: (L, d) rows strided by `outStride`; scores: (L, L) scratch.

/// SIMD attention: `out = softmax(scale · q kᵀ [+ causal mask]) · v` for one head.
///
/// ```swift
/// // head h of a (L, 3C) q|k|v buffer, written into columns h·d… of a (L, C) context buffer
/// attentionHead(q: qkv + h * d, k: qkv + c + h * d, v: qkv + 2 * c + h * d, stride: 3 * c, length: L,
///               headDim: d, scale: 0.125, causal: false, scores: scratch, out: ctx + h * d, outStride: c)
/// ```
@inlinable
public func attentionHead(
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, stride: Int, length: Int,
    headDim d: Int, scale: Float, causal: Bool, scores: UnsafeMutablePointer<Float>,
    out: UnsafeMutablePointer<Float>, outStride: Int
) {
    let vecD = d & ~7
    for i in 0..<length {
        let qi = q + i * stride
        let row = scores + i * length
        let visible = causal ? i + 1 : length
        // scores[i, j] = scale · q_i · k_j
        for j in 0..<visible {
            let kj = k + j * stride
            var acc = SIMD8<Float>()
            var t = 0
            while t < vecD {
                acc += UnsafeRawPointer(qi + t).loadUnaligned(as: SIMD8<Float>.self)
                    * UnsafeRawPointer(kj + t).loadUnaligned(as: SIMD8<Float>.self)
                t += 8
            }
            var s = acc.sum()
            while t < d { s += qi[t] * kj[t]; t += 1 }
            row[j] = s * scale
        }
        softmax(row, rows: 1, cols: visible)
        // out_i = Σ_j p_ij v_j
        let oi = out + i * outStride
        var t = 0
        while t < vecD {
            var acc = SIMD8<Float>()
            for j in 0..<visible {
                acc += SIMD8<Float>(repeating: row[j]) * UnsafeRawPointer(v + j * stride + t).loadUnaligned(as: SIMD8<Float>.self)
            }
            UnsafeMutableRawPointer(oi + t).storeBytes(of: acc, as: SIMD8<Float>.self)
            t += 8
        }
        while t < d {
            var s: Float = 0
            for j in 0..<visible { s += row[j] * v[j * stride + t] }
            oi[t] = s
            t += 1
        }
    }
}

/// Scalar reference for ``attentionHead(q:k:v:stride:length:headDim:scale:causal:scores:out:outStride:)``,
/// built from the reference GEMM and softmax.
///
/// ```swift
/// attentionHeadReference(q: q, k: k, v: v, stride: 96, length: 7, headDim: 8, scale: 0.35, causal: true,
///                        scores: s, out: o, outStride: 32)
/// ```
public func attentionHeadReference(
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
