// Scalar references for the int8 path: per-row activation quantization, the paired layout's weight requantization
// and the int8 linear layer.
// x: (M, K) float, q: (N, K) int8 with per-row scales -> y: (M, N) = dequantised x_q · q_wᵀ + b.

/// Quantizes one row as the kernels do: scale = max|x| / levels, q = round(x · levels / max|x|) ties to even,
/// clamped to ±levels (q = 0 for an all-zero or non-finite row).
package func quantizeRowReference(_ x: UnsafePointer<Float>, count: Int, levels: Int32) -> (q: [Int32], scale: Float) {
    var amax: Float = 0
    for i in 0..<count where abs(x[i]) > amax || x[i].isNaN { amax = abs(x[i]) }
    let l = Float(levels)
    let inverse = amax > 0 ? l / amax : 0
    let q = (0..<count).map { i -> Int32 in
        let v = (x[i] * inverse).rounded(.toNearestOrEven)
        return v.isFinite ? Int32(max(-l, min(l, v))) : 0
    }
    return (q, amax / l)
}

/// The int8 linear layer: each row of x quantized with ``quantizeRowReference(_:count:levels:)``, exact integer
/// dot products with `q`, dequantised as `Float(Σ) · (wScale[n] · xScale[m]) + bias[n]`.
package func int8LinearReference(
    _ x: UnsafePointer<Float>, rows m: Int, inFeatures k: Int, q: UnsafePointer<Int8>, scales: UnsafePointer<Float>,
    outFeatures n: Int, bias: UnsafePointer<Float>?, levels: Int32, out: UnsafeMutablePointer<Float>
) {
    for r in 0..<m {
        let (xq, xs) = quantizeRowReference(x + r * k, count: k, levels: levels)
        for j in 0..<n {
            var s: Int32 = 0
            for kk in 0..<k { s &+= xq[kk] &* Int32(q[j * k + kk]) }
            out[r * n + j] = Float(s) * (scales[j] * xs) + (bias?[j] ?? 0)
        }
    }
}

/// The paired layout's weights (``Int8WeightLayout/pairs``): each row of `q` (N, K) whose largest |q| is above 64
/// becomes `round(q · 64 / max|q|)` (ties to even, computed in Double) with scale `scale · max|q| / 64`; other rows
/// are unchanged.
package func pairedWeightsReference(_ q: [Int8], scales: [Float], outFeatures n: Int, inFeatures k: Int)
    -> (q: [Int8], scales: [Float]) {
    var q = q, scales = scales
    for j in 0..<n {
        let largest = (0..<k).map { Int(abs(Int(q[j * k + $0]))) }.max() ?? 0
        guard largest > 64 else { continue }
        for kk in 0..<k {
            q[j * k + kk] = Int8((Double(q[j * k + kk]) * 64 / Double(largest)).rounded(.toNearestOrEven))
        }
        scales[j] = scales[j] * Float(largest) / 64
    }
    return (q, scales)
}
