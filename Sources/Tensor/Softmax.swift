// Row-wise softmax, max-subtracted, with an optional causal mask (row i sees columns 0...i).
// x: (R, N) -> in place.

import TensorSIMD

/// In-place softmax of each of `rows` rows of length `cols` (baseline SIMD kernel; used outside the model's
/// layers, e.g. over classification logits). With `causal`, row `i` is normalised over columns `0...i` only.
package func softmax(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, causal: Bool = false) {
    Kernels<Portable>.softmax(x, rows: rows, cols: cols, ld: cols, scale: 1, causal: causal)
}

/// Scalar reference for the softmax kernels, accumulating in Double.
package func softmaxReference(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, causal: Bool = false) {
    for r in 0..<rows {
        let n = causal ? min(r + 1, cols) : cols
        var m = -Double.infinity
        for c in 0..<n { m = max(m, Double(x[r * cols + c])) }
        if m == -.infinity { m = 0 }
        var s = 0.0
        var e = [Double](repeating: 0, count: n)
        for c in 0..<n { e[c] = exp(Double(x[r * cols + c]) - m); s += e[c] }
        for c in 0..<n { x[r * cols + c] = Float(e[c] / s) }
        for c in n..<cols { x[r * cols + c] = 0 }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
