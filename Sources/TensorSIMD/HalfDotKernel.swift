// Dot products of one float query with rows of IEEE half floats (the search index's scan).
// q: (d) float32, rows: (n, d) binary16 bit patterns, row stride d -> out: (n) float32.

/// `out[i] = Σ_k Float(half(rows[i·d + k])) · q[k]`, accumulated in float32 lanes. Halves become floats by
/// moving exponent and mantissa into place and scaling by 2^112, exact for normal and subnormal values (the
/// index never stores infinities or NaN).
extension Kernels {
    @inline(never)
    @inlinable package static func halfDot(_ q: UnsafePointer<Float>, _ rows: UnsafePointer<UInt16>, _ n: Int, _ d: Int,
                                           _ out: UnsafeMutablePointer<Float>) {
        typealias V = I.V
        let w = V.scalarCount
        let vectorEnd = d - d % (4 * w)
        for i in 0..<n {
            let row = rows + i * d
            var a0 = V(), a1 = V(), a2 = V(), a3 = V()
            var k = 0
            while k < vectorEnd {
                a0 = I.madd(a0, halfToFloat(row + k), UnsafeRawPointer(q + k).loadUnaligned(as: V.self))
                a1 = I.madd(a1, halfToFloat(row + k + w), UnsafeRawPointer(q + k + w).loadUnaligned(as: V.self))
                a2 = I.madd(a2, halfToFloat(row + k + 2 * w), UnsafeRawPointer(q + k + 2 * w).loadUnaligned(as: V.self))
                a3 = I.madd(a3, halfToFloat(row + k + 3 * w), UnsafeRawPointer(q + k + 3 * w).loadUnaligned(as: V.self))
                k += 4 * w
            }
            var s = ((a0 + a1) + (a2 + a3)).sum()
            while k < d {
                s += halfToFloatScalar(row[k]) * q[k]
                k += 1
            }
            out[i] = s
        }
    }

    /// W halves to W floats.
    @inlinable @inline(__always) static func halfToFloat(_ p: UnsafePointer<UInt16>) -> I.V {
        var bits = I.Acc()
        for l in 0..<I.Acc.scalarCount { bits[l] = Int32(p[l]) }
        let sign = (bits & 0x8000) &<< 16
        let magnitude = unsafeBitCast((bits & 0x7fff) &<< 13, to: I.V.self) * I.V(repeating: 0x1p112)
        return unsafeBitCast(unsafeBitCast(magnitude, to: I.Acc.self) | sign, to: I.V.self)
    }
}

/// One half to float, the same arithmetic as the vector path.
@inlinable @inline(__always) package func halfToFloatScalar(_ h: UInt16) -> Float {
    let bits = UInt32(h)
    let magnitude = Float(bitPattern: (bits & 0x7fff) << 13) * 0x1p112
    return Float(bitPattern: magnitude.bitPattern | ((bits & 0x8000) << 16))
}

/// The plain reference: Swift's own `Float16` conversion and a sequential sum.
package func halfDotReference(_ q: UnsafePointer<Float>, _ rows: UnsafePointer<UInt16>, _ n: Int, _ d: Int,
                              _ out: UnsafeMutablePointer<Float>) {
    for i in 0..<n {
        var s: Float = 0
        for k in 0..<d { s += Float(Float16(bitPattern: rows[i * d + k])) * q[k] }
        out[i] = s
    }
}
