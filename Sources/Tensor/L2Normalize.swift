// L2 normalisation of rows (embeddings before cosine similarity), as `x / x.norm(dim=-1, keepdim=True)`.
// x: (N, D) -> in place.

/// Divides each row by its Euclidean norm, in place. A zero row stays zero (no NaN).
package func l2Normalize(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
    let vecCols = cols & ~7
    for r in 0..<rows {
        let row = x + r * cols
        var acc = SIMD8<Float>(repeating: 0)
        var c = 0
        while c < vecCols {
            let v = SIMD8<Float>(UnsafeBufferPointer(start: row + c, count: 8))
            acc += v * v
            c += 8
        }
        var s = acc.sum()
        while c < cols { s += row[c] * row[c]; c += 1 }
        guard s > 0 else { continue }
        let inv = 1 / s.squareRoot()
        for j in 0..<cols { row[j] *= inv }
    }
}

/// Scalar reference for ``l2Normalize(_:rows:cols:)``, accumulating in Double.
package func l2NormalizeReference(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
    for r in 0..<rows {
        var s = 0.0
        for c in 0..<cols { s += Double(x[r * cols + c]) * Double(x[r * cols + c]) }
        guard s > 0 else { continue }
        let n = s.squareRoot()
        for c in 0..<cols { x[r * cols + c] = Float(Double(x[r * cols + c]) / n) }
    }
}
