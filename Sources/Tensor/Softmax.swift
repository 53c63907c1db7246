// Row-wise softmax, max-subtracted, with an optional causal mask (row i sees columns 0...i).
// x: (R, N) -> in place.

/// In-place SIMD softmax of each of `rows` rows of length `cols`.
///
/// With `causal: true`, row `i` is normalised over columns `0...i` only and the rest are set to 0
/// (the same result as adding −inf above the diagonal, as CLIP's text encoder does).
/// ```swift
/// softmax(scores, rows: 7, cols: 7, causal: true)
/// ```
@inlinable
public func softmax(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, causal: Bool = false) {
    for r in 0..<rows {
        let row = x + r * cols
        let n = causal ? min(r + 1, cols) : cols
        let vecN = n & ~7
        // max
        var m = -Float.infinity
        var c = 0
        if vecN > 0 {
            var mv = SIMD8<Float>(repeating: -.infinity)
            while c < vecN { mv = pointwiseMax(mv, SIMD8<Float>(UnsafeBufferPointer(start: row + c, count: 8))); c += 8 }
            m = mv.max()
        }
        while c < n { m = max(m, row[c]); c += 1 }
        if m == -.infinity { m = 0 }   // an all −inf row stays finite until the division (gives NaN like torch)
        // exp and sum
        let mV = SIMD8<Float>(repeating: m)
        var sv = SIMD8<Float>(repeating: 0)
        c = 0
        while c < vecN {
            let e = vexp(SIMD8<Float>(UnsafeBufferPointer(start: row + c, count: 8)) - mV)
            for j in 0..<8 { row[c + j] = e[j] }
            sv += e
            c += 8
        }
        var s = sv.sum()
        while c < n { let e = Float(exp(Double(row[c] - m))); row[c] = e; s += e; c += 1 }
        // normalise
        let inv = 1 / s
        for j in 0..<n { row[j] *= inv }
        for j in n..<cols { row[j] = 0 }
    }
}

/// Scalar reference for ``softmax(_:rows:cols:causal:)``, accumulating in Double.
///
/// ```swift
/// softmaxReference(scores, rows: 1, cols: 10)
/// ```
public func softmaxReference(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, causal: Bool = false) {
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
