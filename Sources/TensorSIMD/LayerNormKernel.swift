// Layer normalisation over the last dimension (torch.nn.LayerNorm: biased variance, eps inside the sqrt).
// x: (T, C), gamma: (C), beta: (C) -> out: (T, C); out may alias x.

/// Two passes per row (mean, then the centred sum of squares) keep float32 precision close to torch's.
@inlinable @inline(__always)
package func layerNormBody<I: KernelISA>(
    _: I.Type, _ x: UnsafePointer<Float>, rows: Int, cols: Int,
    gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float, out: UnsafeMutablePointer<Float>
) {
    typealias V = I.V
    let w = V.scalarCount
    let vecCols = cols - cols % w
    let invC = 1 / Float(cols)
    for t in 0..<rows {
        let xr = UnsafeRawPointer(x + t * cols)
        let yr = out + t * cols
        var acc = V()
        var c = 0
        while c < vecCols { acc += xr.loadUnaligned(fromByteOffset: c * 4, as: V.self); c += w }
        var sum = acc.sum()
        while c < cols { sum += x[t * cols + c]; c += 1 }
        let mean = sum * invC
        let meanV = V(repeating: mean)
        var acc2 = V()
        c = 0
        while c < vecCols {
            let d = xr.loadUnaligned(fromByteOffset: c * 4, as: V.self) - meanV
            acc2 = I.madd(acc2, d, d)
            c += w
        }
        var sq = acc2.sum()
        while c < cols { let d = x[t * cols + c] - mean; sq += d * d; c += 1 }
        let rstd = 1 / (sq * invC + eps).squareRoot()
        let rstdV = V(repeating: rstd)
        c = 0
        while c < vecCols {
            let v = (xr.loadUnaligned(fromByteOffset: c * 4, as: V.self) - meanV) * rstdV
            let g = UnsafeRawPointer(gamma + c).loadUnaligned(as: V.self)
            let b = UnsafeRawPointer(beta + c).loadUnaligned(as: V.self)
            UnsafeMutableRawPointer(yr + c).storeBytes(of: I.madd(b, v, g), as: V.self)
            c += w
        }
        while c < cols { yr[c] = (x[t * cols + c] - mean) * rstd * gamma[c] + beta[c]; c += 1 }
    }
}
