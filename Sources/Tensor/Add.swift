// Bias add (broadcast over rows) and residual add.
// x: (T, C), bias: (C) -> in place;  x: (N), y: (N) -> x += y.

/// Adds `bias` (length `cols`) to each of `rows` rows of `x`, in place.
///
/// ```swift
/// addBias(y, rows: 50, cols: 768, bias: b)
/// ```
@inlinable
public func addBias(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, bias: UnsafePointer<Float>) {
    let vecCols = cols & ~7
    for r in 0..<rows {
        let row = x + r * cols
        var c = 0
        while c < vecCols {
            let v = SIMD8<Float>(UnsafeBufferPointer(start: row + c, count: 8))
                + SIMD8<Float>(UnsafeBufferPointer(start: bias + c, count: 8))
            for j in 0..<8 { row[c + j] = v[j] }
            c += 8
        }
        while c < cols { row[c] += bias[c]; c += 1 }
    }
}

/// `x += y` over `count` floats (the residual connection).
///
/// ```swift
/// addInPlace(hidden, residual, count: 50 * 768)
/// ```
@inlinable
public func addInPlace(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        let v = SIMD8<Float>(UnsafeBufferPointer(start: x + i, count: 8))
            + SIMD8<Float>(UnsafeBufferPointer(start: y + i, count: 8))
        for j in 0..<8 { x[i + j] = v[j] }
        i += 8
    }
    while i < count { x[i] += y[i]; i += 1 }
}

/// Scalar reference for ``addBias(_:rows:cols:bias:)``.
///
/// ```swift
/// addBiasReference(y, rows: 2, cols: 3, bias: b)
/// ```
public func addBiasReference(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, bias: UnsafePointer<Float>) {
    for r in 0..<rows { for c in 0..<cols { x[r * cols + c] += bias[c] } }
}
