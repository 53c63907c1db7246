// Layer normalisation over the last dimension (torch.nn.LayerNorm, biased variance, eps inside the sqrt).
// x: (T, C), gamma: (C), beta: (C) -> out: (T, C); out may alias x.

/// Scalar reference for the layer-norm kernels (TensorSIMD's layerNormBody), accumulating in Double.
package func layerNormReference(
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
