// Scaled dot-product attention for one head of one sequence, read straight from a fused q|k|v buffer.
// q, k, v: (L, d) rows strided by `stride` -> out: (L, d) rows strided by `outStride`; scratch: attentionScratch(L, d).

import KernelIntrinsics

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
    // Every line of the head's rows is requested up front, so the misses overlap instead of stalling the loop that
    // first touches each line: the rows are 3C floats apart (no hardware prefetcher follows them) and, at batch 8,
    // no longer in L2. k and q (read first) into L1, v (read last) into L2. Measured (clip-bench --matmul, AVX2):
    // one L = 50 head 26 -> 17 µs, 8 sequences of 50 on 2 threads 33-39 -> 12 µs wall per head.
    @inline(__always) func request(_ row: UnsafePointer<Float>, l1: Bool) {
        let raw = UnsafeRawPointer(row), bytes = d &* 4
        var offset = 0
        while offset < bytes {
            if l1 { prefetchL1(raw + offset) } else { prefetchL2(raw + offset) }
            offset &+= 64
        }
        if l1 { prefetchL1(raw + (bytes &- 1)) } else { prefetchL2(raw + (bytes &- 1)) }   // a row not line-aligned
    }
    for j in 0..<len {
        request(h.k + j &* stride, l1: true)
        request(h.q + j &* stride, l1: true)
        request(h.v + j &* stride, l1: false)
    }
    let kt = h.scratch                 // (d, lp): kt[t·lp + j] = k[j][t], zero past L
    let p = h.scratch + d * lp         // (L, lp): scores, then probabilities
    for j in 0..<len {
        let src = h.k + j &* stride
        var dst = kt + j
        for t in 0..<d {
            dst.pointee = src[t]
            dst += lp
        }
    }
    if lp > len { for t in 0..<d { (kt + (t &* lp &+ len)).update(repeating: 0, count: lp &- len) } }
    // scores[i, j] = q_i · k_j for 4 rows (the last block repeats its final row) × 2w keys: 8 independent
    // accumulator chains, enough to hide the multiply-add latency
    var i = 0
    while i < len {
        let q0 = h.q + i * stride, q1 = h.q + min(i + 1, len - 1) * stride
        let q2 = h.q + min(i + 2, len - 1) * stride, q3 = h.q + min(i + 3, len - 1) * stride
        let rows = min(4, len - i)
        var jc = 0
        while jc < lp {
            let pair = jc + w < lp
            var s0 = V(), s1 = V(), s2 = V(), s3 = V(), t0 = V(), t1 = V(), t2 = V(), t3 = V()
            var kp = UnsafeRawPointer(kt + jc)
            for t in 0..<d {
                let a0 = V(repeating: q0[t]), a1 = V(repeating: q1[t]), a2 = V(repeating: q2[t]), a3 = V(repeating: q3[t])
                let kv = kp.loadUnaligned(as: V.self)
                s0 = I.madd(s0, a0, kv); s1 = I.madd(s1, a1, kv); s2 = I.madd(s2, a2, kv); s3 = I.madd(s3, a3, kv)
                if pair {
                    let kw = kp.loadUnaligned(fromByteOffset: w &* 4, as: V.self)
                    t0 = I.madd(t0, a0, kw); t1 = I.madd(t1, a1, kw); t2 = I.madd(t2, a2, kw); t3 = I.madd(t3, a3, kw)
                }
                kp += lp &* 4
            }
            @inline(__always) func store(_ r: Int, _ x: V, _ y: V) {
                let dst = UnsafeMutableRawPointer(p + (i + r) * lp + jc)
                dst.storeBytes(of: x, as: V.self)
                if pair { dst.storeBytes(of: y, toByteOffset: w * 4, as: V.self) }
            }
            store(0, s0, t0)
            if rows > 1 { store(1, s1, t1) }
            if rows > 2 { store(2, s2, t2) }
            if rows > 3 { store(3, s3, t3) }
            jc += pair ? 2 * w : w
        }
        i += 4
    }
    // probabilities = softmax(scale · scores), future keys masked when causal
    softmaxBody(I.self, p, rows: len, cols: len, ld: lp, scale: h.scale, causal: h.causal)
    // out_i = Σ_j p[i, j] v_j for 4 rows × 2w columns of d (8 accumulator chains). Column slices outermost: every
    // row block then reads the same 2w-float slice of v's rows, which stays in L1 (rows i outermost read all of v,
    // lines 3C floats apart, for every block of 4 rows).
    var dc = 0
    while dc < d {
        let cols = min(2 * w, d - dc)
        i = 0
        while i < len {
            let p0 = p + i * lp, p1 = p + min(i + 1, len - 1) * lp
            let p2 = p + min(i + 2, len - 1) * lp, p3 = p + min(i + 3, len - 1) * lp
            let visible = h.causal ? min(i + 4, len) : len   // later keys have probability 0 for these rows
            let rows = min(4, len - i)
            var o0 = V(), o1 = V(), o2 = V(), o3 = V(), u0 = V(), u1 = V(), u2 = V(), u3 = V()
            for j in 0..<visible {
                let (v0, v1): (V, V) = loadPair(h.v + j * stride + dc, count: cols)
                let a0 = V(repeating: p0[j]), a1 = V(repeating: p1[j]), a2 = V(repeating: p2[j]), a3 = V(repeating: p3[j])
                o0 = I.madd(o0, a0, v0); o1 = I.madd(o1, a1, v0); o2 = I.madd(o2, a2, v0); o3 = I.madd(o3, a3, v0)
                u0 = I.madd(u0, a0, v1); u1 = I.madd(u1, a1, v1); u2 = I.madd(u2, a2, v1); u3 = I.madd(u3, a3, v1)
            }
            @inline(__always) func store(_ r: Int, _ x: V, _ y: V) {
                storePair(x, y, to: h.out + (i + r) * h.outStride + dc, count: cols)
            }
            store(0, o0, u0)
            if rows > 1 { store(1, o1, u1) }
            if rows > 2 { store(2, o2, u2) }
            if rows > 3 { store(3, o3, u3) }
            i += 4
        }
        dc += 2 * w
    }
}
