// Row-wise softmax of scaled scores, max-subtracted, with an optional causal mask (row i sees columns 0...i).
// x: (R, N) rows strided by ld -> in place; columns past a row's visible range become 0.

import KernelIntrinsics

/// `x[r] = softmax(scale · x[r, 0..<visible])`, where `visible` is `cols`, or `r + 1` when `causal`.
@inlinable @inline(__always)
package func softmaxBody<I: KernelISA>(
    _: I.Type, _ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int, scale: Float, causal: Bool
) {
    typealias V = I.V
    let w = V.scalarCount
    for r in 0..<rows {
        let row = x + r * ld
        let raw = UnsafeMutableRawPointer(row)
        let n = causal ? min(r + 1, cols) : cols
        let vecN = n - n % w
        // max of the scaled row
        var m = -Float.infinity
        var c = 0
        if vecN > 0 {
            var mv = V(repeating: -.infinity)
            while c < vecN {
                mv = V.maximum(mv, raw.loadUnaligned(fromByteOffset: c * 4, as: V.self))
                c += w
            }
            for j in 0..<w where mv[j] > m || mv[j].isNaN { m = mv[j] }
        }
        while c < n {
            if row[c] > m || row[c].isNaN { m = row[c] }
            c += 1
        }
        m *= scale
        if m == -.infinity { m = 0 }   // an all −inf row stays finite until the division (gives NaN like torch)
        // exp and sum; the tail goes through a zero-padded vector so every element uses the same exp
        let mV = V(repeating: m), sV = V(repeating: scale)
        var sum = V()
        c = 0
        while c < vecN {
            let e = vexp(I.self, raw.loadUnaligned(fromByteOffset: c * 4, as: V.self) * sV - mV)
            raw.storeBytes(of: e, toByteOffset: c * 4, as: V.self)
            sum += e
            c += w
        }
        var s = sum.sum()
        if c < n {
            var tail = V(repeating: -.infinity)
            for j in 0..<(n - c) { tail[j] = row[c + j] * scale - m }
            let e = vexp(I.self, tail)
            for j in 0..<(n - c) { row[c + j] = e[j]; s += e[j] }
        }
        // normalise
        let inv = V(repeating: 1 / s)
        c = 0
        while c < vecN {
            raw.storeBytes(of: raw.loadUnaligned(fromByteOffset: c * 4, as: V.self) * inv, toByteOffset: c * 4, as: V.self)
            c += w
        }
        while c < n { row[c] *= inv[0]; c += 1 }
        for j in n..<cols { row[j] = 0 }
    }
}
