// Scaled dot-product attention for one head of one sequence, read straight from a fused q|k|v buffer.
// q, k, v: (L, d) rows strided by `stride` -> out: (L, d) rows strided by `outStride`; scratch: attentionScratch(L, d).

/// The operands of one head. Raw pointers: the caller keeps the buffers alive for the call.
@usableFromInline package struct AttentionOperands: @unchecked Sendable {
    @usableFromInline package var q: UnsafePointer<Float>
    @usableFromInline package var k: UnsafePointer<Float>
    @usableFromInline package var v: UnsafePointer<Float>
    @usableFromInline package var stride: Int
    @usableFromInline package var length: Int
    @usableFromInline package var headDim: Int
    @usableFromInline package var scale: Float
    @usableFromInline package var causal: Bool
    @usableFromInline package var out: UnsafeMutablePointer<Float>
    @usableFromInline package var outStride: Int
    /// At least ``attentionScratchCount(length:headDim:)`` floats.
    @usableFromInline package var scratch: UnsafeMutablePointer<Float>

    @inlinable
    package init(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, stride: Int, length: Int,
                 headDim: Int, scale: Float, causal: Bool, out: UnsafeMutablePointer<Float>, outStride: Int,
                 scratch: UnsafeMutablePointer<Float>) {
        self.q = q; self.k = k; self.v = v; self.stride = stride; self.length = length; self.headDim = headDim
        self.scale = scale; self.causal = causal; self.out = out; self.outStride = outStride; self.scratch = scratch
    }
}

/// Scratch floats one head needs: kᵀ (d, L′) and the scores (L, L′), L′ = L rounded up to 16.
@inlinable
package func attentionScratchCount(length: Int, headDim: Int) -> Int {
    let padded = (length + 15) / 16 * 16
    return (headDim + length) * padded
}

/// `out = softmax(scale · q kᵀ [causal]) · v` for one head, in three register-tiled passes with no packing:
/// kᵀ is transposed once into scratch; scores are computed 4 query rows × one vector of keys at a time; the
/// softmax runs in place; then `out` 4 rows × one vector of d at a time, reading v's rows where they are.
@inlinable @inline(__always)
package func attentionHeadBody<I: KernelISA>(_: I.Type, _ h: AttentionOperands) {
    typealias V = I.V
    let w = V.scalarCount
    let len = h.length, d = h.headDim, stride = h.stride
    guard len > 0 else { return }
    let lp = (len + w - 1) / w * w
    let kt = h.scratch                 // (d, lp): kt[t·lp + j] = k[j][t], zero past L
    let p = h.scratch + d * lp         // (L, lp): scores, then probabilities
    for t in 0..<d {
        let row = kt + t * lp
        for j in 0..<len { row[j] = h.k[j * stride + t] }
        for j in len..<lp { row[j] = 0 }
    }
    // scores[i, j] = q_i · k_j for 4 rows (the last block repeats its final row) × w keys
    var i = 0
    while i < len {
        let q0 = h.q + i * stride, q1 = h.q + min(i + 1, len - 1) * stride
        let q2 = h.q + min(i + 2, len - 1) * stride, q3 = h.q + min(i + 3, len - 1) * stride
        var jc = 0
        while jc < lp {
            var s0 = V(), s1 = V(), s2 = V(), s3 = V()
            var kp = UnsafeRawPointer(kt + jc)
            for t in 0..<d {
                let kv = kp.loadUnaligned(as: V.self)
                s0 = I.madd(s0, V(repeating: q0[t]), kv)
                s1 = I.madd(s1, V(repeating: q1[t]), kv)
                s2 = I.madd(s2, V(repeating: q2[t]), kv)
                s3 = I.madd(s3, V(repeating: q3[t]), kv)
                kp += lp &* 4
            }
            let rows = min(4, len - i)
            UnsafeMutableRawPointer(p + i * lp + jc).storeBytes(of: s0, as: V.self)
            if rows > 1 { UnsafeMutableRawPointer(p + (i + 1) * lp + jc).storeBytes(of: s1, as: V.self) }
            if rows > 2 { UnsafeMutableRawPointer(p + (i + 2) * lp + jc).storeBytes(of: s2, as: V.self) }
            if rows > 3 { UnsafeMutableRawPointer(p + (i + 3) * lp + jc).storeBytes(of: s3, as: V.self) }
            jc += w
        }
        i += 4
    }
    // probabilities = softmax(scale · scores), future keys masked when causal
    softmaxBody(I.self, p, rows: len, cols: len, ld: lp, scale: h.scale, causal: h.causal)
    // out_i = Σ_j p[i, j] v_j for 4 rows × w columns of d
    i = 0
    while i < len {
        let p0 = p + i * lp, p1 = p + min(i + 1, len - 1) * lp
        let p2 = p + min(i + 2, len - 1) * lp, p3 = p + min(i + 3, len - 1) * lp
        let visible = h.causal ? min(i + 4, len) : len   // later keys have probability 0 for these rows
        let rows = min(4, len - i)
        var dc = 0
        while dc < d {
            let cols = min(w, d - dc)
            var o0 = V(), o1 = V(), o2 = V(), o3 = V()
            for j in 0..<visible {
                let vr = h.v + j * stride + dc
                var vv = V()
                if cols == w {
                    vv = UnsafeRawPointer(vr).loadUnaligned(as: V.self)
                } else {
                    for c in 0..<cols { vv[c] = vr[c] }
                }
                o0 = I.madd(o0, V(repeating: p0[j]), vv)
                o1 = I.madd(o1, V(repeating: p1[j]), vv)
                o2 = I.madd(o2, V(repeating: p2[j]), vv)
                o3 = I.madd(o3, V(repeating: p3[j]), vv)
            }
            @inline(__always) func store(_ r: Int, _ o: V) {
                let dst = h.out + (i + r) * h.outStride + dc
                if cols == w {
                    UnsafeMutableRawPointer(dst).storeBytes(of: o, as: V.self)
                } else {
                    for c in 0..<cols { dst[c] = o[c] }
                }
            }
            store(0, o0)
            if rows > 1 { store(1, o1) }
            if rows > 2 { store(2, o2) }
            if rows > 3 { store(3, o3) }
            dc += w
        }
        i += 4
    }
}
