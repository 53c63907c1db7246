// Layer normalisation over the last dimension (torch.nn.LayerNorm, biased variance, eps inside the sqrt).
// x: (T, C), gamma: (C), beta: (C) -> out: (T, C); out may alias x.

/// SIMD layer norm: `out[t] = (x[t] − mean) / sqrt(var + eps) · gamma + beta` for each of `rows` rows.
///
/// ```swift
/// layerNorm(x, rows: 50, cols: 768, gamma: g, beta: b, eps: 1e-5, out: y)
/// ```
@inlinable
public func layerNorm(
    _ x: UnsafePointer<Float>, rows: Int, cols: Int,
    gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
    out: UnsafeMutablePointer<Float>
) {
    let vecCols = cols & ~7
    let invC = 1 / Float(cols)
    for t in 0..<rows {
        let xr = x + t * cols
        let yr = out + t * cols
        // Two passes (mean, then centred sum of squares) keep float32 precision close to torch's.
        var acc = SIMD8<Float>(repeating: 0)
        var c = 0
        while c < vecCols { acc += SIMD8<Float>(UnsafeBufferPointer(start: xr + c, count: 8)); c += 8 }
        var sum = acc.sum()
        while c < cols { sum += xr[c]; c += 1 }
        let mean = sum * invC
        let meanV = SIMD8<Float>(repeating: mean)
        var acc2 = SIMD8<Float>(repeating: 0)
        c = 0
        while c < vecCols {
            let d = SIMD8<Float>(UnsafeBufferPointer(start: xr + c, count: 8)) - meanV
            acc2 += d * d
            c += 8
        }
        var sq = acc2.sum()
        while c < cols { let d = xr[c] - mean; sq += d * d; c += 1 }
        let rstd = 1 / (sq * invC + eps).squareRoot()
        let rstdV = SIMD8<Float>(repeating: rstd)
        c = 0
        while c < vecCols {
            let v = (SIMD8<Float>(UnsafeBufferPointer(start: xr + c, count: 8)) - meanV) * rstdV
            let g = SIMD8<Float>(UnsafeBufferPointer(start: gamma + c, count: 8))
            let b = SIMD8<Float>(UnsafeBufferPointer(start: beta + c, count: 8))
            let y = v * g + b
            for i in 0..<8 { yr[c + i] = y[i] }
            c += 8
        }
        while c < cols { yr[c] = (xr[c] - mean) * rstd * gamma[c] + beta[c]; c += 1 }
    }
}

/// Scalar reference for ``layerNorm(_:rows:cols:gamma:beta:eps:out:)``, accumulating in Double.
///
/// ```swift
/// layerNormReference(x, rows: 1, cols: 4, gamma: g, beta: b, eps: 1e-5, out: y)
/// ```
public func layerNormReference(
    _ x: UnsafePointer<Float>, rows: Int, cols: Int,
    gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
    out: UnsafeMutablePointer<Float>
) {
    for t in 0..<rows {
        var mean = 0.0
        for c in 0..<cols { mean += Double(x[t * cols + c]) }
        mean /= Double(cols)
        var variance = 0.0
        for c in 0..<cols { let d = Double(x[t * cols + c]) - mean; variance += d * d }
        variance /= Double(cols)
        let rstd = 1 / (variance + Double(eps)).squareRoot()
        for c in 0..<cols {
            out[t * cols + c] = Float((Double(x[t * cols + c]) - mean) * rstd * Double(gamma[c]) + Double(beta[c]))
        }
    }
}
