// Elementwise add (residual connections and position embeddings; the GEMM epilogue fuses most of them).
// x: (N), y: (N) -> x += y.

/// `x += y` over `count` floats.
package func addInPlace(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        let v = SIMD8<Float>(UnsafeBufferPointer(start: x + i, count: 8))
            + SIMD8<Float>(UnsafeBufferPointer(start: y + i, count: 8))
        for j in 0..<8 { x[i + j] = v[j] }
        i += 8
    }
    while i < count { x[i] += y[i]; i += 1 }
}
