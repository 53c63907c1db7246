// Int8 GEMM: y = ((x_q · w_qᵀ) − offset · Σ_k w_q) · (x scale ⊗ w scale) + b, optionally activated or added to y.
// x is quantized per row at run time (symmetric, ±int8Levels, stored as bytes q + offset), w per output column at
// load. x_q: ⌈M/6⌉ blocks of (G, 6, 4) bytes; w_q: ⌈N/NR⌉ panels of (G, NR, 4) bytes, G = ⌈K/4⌉ k-groups;
// y: (M, N) rows strided by ldc.

import KernelIntrinsics

/// The operands of one int8 GEMM. Raw pointers: the caller keeps the buffers alive for the call.
@usableFromInline package struct Int8GemmOperands: @unchecked Sendable {
    /// x quantized by ``quantizeRowsBody(_:_:)``.
    @usableFromInline package var a: UnsafePointer<UInt8>
    /// One scale per row of x (`x ≈ scale · q`).
    @usableFromInline package var rowScales: UnsafePointer<Float>
    @usableFromInline package var m: Int
    /// The weight panels.
    @usableFromInline package var packed: UnsafePointer<UInt8>
    /// ⌈K/4⌉
    @usableFromInline package var groups: Int
    @usableFromInline package var n: Int
    /// Per output column, padded to whole panels: `w ≈ scale · q`, and Σ_k q.
    @usableFromInline package var columnScales: UnsafePointer<Float>
    @usableFromInline package var columnSums: UnsafePointer<Int32>
    @usableFromInline package var c: UnsafeMutablePointer<Float>
    @usableFromInline package var ldc: Int
    /// Padded to whole panels, or nil.
    @usableFromInline package var bias: UnsafePointer<Float>?
    @usableFromInline package var epilogue: GemmEpilogue

    @inlinable
    package init(a: UnsafePointer<UInt8>, rowScales: UnsafePointer<Float>, m: Int, packed: UnsafePointer<UInt8>, groups: Int,
                 n: Int, columnScales: UnsafePointer<Float>, columnSums: UnsafePointer<Int32>, c: UnsafeMutablePointer<Float>,
                 ldc: Int, bias: UnsafePointer<Float>?, epilogue: GemmEpilogue) {
        self.a = a; self.rowScales = rowScales; self.m = m; self.packed = packed; self.groups = groups; self.n = n
        self.columnScales = columnScales; self.columnSums = columnSums; self.c = c; self.ldc = ldc
        self.bias = bias; self.epilogue = epilogue
    }
}

/// One R × NR tile over all k-groups (int32 sums are exact, so there is no k-blocking), then the epilogue:
/// dequantise with the row and column scales, add the bias, activate or add to y, store.
@inlinable @inline(__always)
package func int8Tile<I: KernelISA, R: RowCount>(
    _: I.Type, _: R.Type, a: UnsafePointer<UInt8>, b: UnsafePointer<UInt8>, groups: Int, prefetch: PrefetchSlice,
    rowScales: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int, columns: Int,
    correction0: I.Acc, correction1: I.Acc, scale0: I.V, scale1: I.V, bias0: I.V, bias1: I.V,
    activation: ActivationKind?, residual: Bool
) {
    typealias V = I.V
    typealias Acc = I.Acc
    typealias Quad = I.Quad
    let w = V.scalarCount, quad = Quad.scalarCount
    let rows = R.value
    var c00 = Acc(), c01 = Acc(), c10 = Acc(), c11 = Acc(), c20 = Acc(), c21 = Acc()
    var c30 = Acc(), c31 = Acc(), c40 = Acc(), c41 = Acc(), c50 = Acc(), c51 = Acc()
    @inline(__always) func broadcast(_ offset: Int, _ p: UnsafeRawPointer) -> Quad {
        unsafeBitCast(Acc(repeating: p.loadUnaligned(fromByteOffset: offset, as: Int32.self)), to: Quad.self)
    }
    var bp = UnsafeRawPointer(b)
    var ap = UnsafeRawPointer(a)
    var pf = prefetch.start
    var countdown = prefetch.every
    for _ in 0..<groups {
        countdown &-= 1
        if countdown == 0 {
            countdown = prefetch.every
            for _ in 0..<prefetch.perStep { prefetchL2(pf); pf += 64 }
        }
        let b0 = bp.loadUnaligned(as: Quad.self)
        let b1 = bp.loadUnaligned(fromByteOffset: quad, as: Quad.self)
        var x = broadcast(0, ap)
        c00 = I.dot4(c00, x, b0); c01 = I.dot4(c01, x, b1)
        if rows > 1 { x = broadcast(4, ap); c10 = I.dot4(c10, x, b0); c11 = I.dot4(c11, x, b1) }
        if rows > 2 { x = broadcast(8, ap); c20 = I.dot4(c20, x, b0); c21 = I.dot4(c21, x, b1) }
        if rows > 3 { x = broadcast(12, ap); c30 = I.dot4(c30, x, b0); c31 = I.dot4(c31, x, b1) }
        if rows > 4 { x = broadcast(16, ap); c40 = I.dot4(c40, x, b0); c41 = I.dot4(c41, x, b1) }
        if rows > 5 { x = broadcast(20, ap); c50 = I.dot4(c50, x, b0); c51 = I.dot4(c51, x, b1) }
        bp += 2 &* quad
        ap += 24
    }
    @inline(__always) func storeRow(_ r: Int, _ lo: Acc, _ hi: Acc) {
        let s = V(repeating: rowScales[r])
        var y0 = I.toFloat(lo &- correction0) * (scale0 * s) + bias0
        var y1 = I.toFloat(hi &- correction1) * (scale1 * s) + bias1
        if let activation {
            y0 = activate(I.self, activation, y0)
            y1 = activate(I.self, activation, y1)
        }
        let row = c + r * ldc
        if columns == 2 * w {
            if residual {
                y0 += UnsafeRawPointer(row).loadUnaligned(as: V.self)
                y1 += UnsafeRawPointer(row + w).loadUnaligned(as: V.self)
            }
            UnsafeMutableRawPointer(row).storeBytes(of: y0, as: V.self)
            UnsafeMutableRawPointer(row + w).storeBytes(of: y1, as: V.self)
        } else {
            for j in 0..<columns {
                let v = j < w ? y0[j] : y1[j - w]
                row[j] = residual ? row[j] + v : v
            }
        }
    }
    storeRow(0, c00, c01)
    if rows > 1 { storeRow(1, c10, c11) }
    if rows > 2 { storeRow(2, c20, c21) }
    if rows > 3 { storeRow(3, c30, c31) }
    if rows > 4 { storeRow(4, c40, c41) }
    if rows > 5 { storeRow(5, c50, c51) }
}

/// The int8 GEMM over `panels` for all M rows: 6-row tiles, then one tile of the remaining 1–5 rows; each panel's
/// tiles prefetch the next panel (it follows in memory).
@inlinable @inline(__always)
package func int8GemmBody<I: KernelISA>(_: I.Type, _ g: Int8GemmOperands, panels: Range<Int>) {
    typealias V = I.V
    typealias Acc = I.Acc
    let w = V.scalarCount, nr = 2 * w
    let activation: ActivationKind?
    if case .activation(let kind) = g.epilogue { activation = kind } else { activation = nil }
    let residual = g.epilogue == .accumulate
    let offset = I.int8Levels + 1
    let panelBytes = g.groups * nr * 4
    let tiles = (g.m + 5) / 6
    let linesPerTile = (panelBytes / 64 + tiles - 1) / tiles
    for p in panels {
        let col0 = p * nr
        let columns = min(nr, g.n - col0)
        guard columns > 0 else { continue }
        @inline(__always) func vector(_ from: UnsafePointer<Float>) -> (V, V) {
            (UnsafeRawPointer(from + col0).loadUnaligned(as: V.self), UnsafeRawPointer(from + col0 + w).loadUnaligned(as: V.self))
        }
        let (scale0, scale1) = vector(g.columnScales)
        let (bias0, bias1) = g.bias.map(vector) ?? (V(), V())
        let sums = UnsafeRawPointer(g.columnSums + col0)
        let correction0 = sums.loadUnaligned(as: Acc.self) &* Acc(repeating: offset)
        let correction1 = sums.loadUnaligned(fromByteOffset: w * 4, as: Acc.self) &* Acc(repeating: offset)
        let b = g.packed + p * panelBytes
        let next = UnsafeRawPointer(b + panelBytes)
        var i = 0
        while i < g.m {
            let rows = min(6, g.m - i)
            let slice = PrefetchSlice(start: next + (i / 6) * linesPerTile * 64, lines: linesPerTile, steps: g.groups)
            let a = g.a + (i / 6) * g.groups * 24, c = g.c + i * g.ldc + col0, scales = g.rowScales + i
            @inline(__always) func tile<R: RowCount>(_ r: R.Type) {
                int8Tile(I.self, r, a: a, b: b, groups: g.groups, prefetch: slice, rowScales: scales, c: c, ldc: g.ldc,
                         columns: columns, correction0: correction0, correction1: correction1, scale0: scale0,
                         scale1: scale1, bias0: bias0, bias1: bias1, activation: activation, residual: residual)
            }
            switch rows {
            case 6: tile(Rows6.self)
            case 5: tile(Rows5.self)
            case 4: tile(Rows4.self)
            case 3: tile(Rows3.self)
            case 2: tile(Rows2.self)
            default: tile(Rows1.self)
            }
            i += 6
        }
    }
}

/// Quantizes rows `rows` of x (M, K), rows strided by `lda`, into the int8 GEMM's row blocks: per row, scale =
/// max|x| / L and q = round(x / scale) (ties to even) in −L…L, L = `I.int8Levels`, stored as q + L + 1. The k-groups
/// past K, and the rows past M in the last block, hold q = 0. An all-zero row gets scale 0 and q = 0.
@inlinable @inline(__always)
package func quantizeRowsBody<I: KernelISA>(
    _: I.Type, _ x: UnsafePointer<Float>, lda: Int, m: Int, k: Int, groups: Int,
    into blocks: UnsafeMutablePointer<UInt8>, scales: UnsafeMutablePointer<Float>, rows: Range<Int>
) {
    typealias V = I.V
    typealias Acc = I.Acc
    let w = V.scalarCount
    let levels = Float(I.int8Levels)
    let offset = UInt8(I.int8Levels + 1)
    let signMask = V.MaskStorage(repeating: V.MaskStorage.Scalar.max)
    let magic: Float = 12582912.0   // 1.5·2^23: adding it rounds to an integer held in the low mantissa bits
    let magicBits = Acc(repeating: Int32(bitPattern: magic.bitPattern))
    for r in rows {
        let base = blocks + (r / 6) * groups * 24 + (r % 6) * 4
        guard r < m else {
            for g in 0..<groups { (base + g * 24).initialize(repeating: offset, count: 4) }
            continue
        }
        let row = x + r * lda
        // max |x|
        var vmax = V()
        var c = 0
        while c + w <= k {
            let v = UnsafeRawPointer(row + c).loadUnaligned(as: V.self)
            vmax = I.maximum(vmax, unsafeBitCast(unsafeBitCast(v, to: V.MaskStorage.self) & signMask, to: V.self))
            c += w
        }
        var amax: Float = 0
        for j in 0..<w where vmax[j] > amax || vmax[j].isNaN { amax = vmax[j] }
        while c < k { let a = abs(row[c]); if a > amax || a.isNaN { amax = a }; c += 1 }
        scales[r] = amax / levels
        let inverse = amax > 0 ? levels / amax : 0
        let inv = V(repeating: inverse)
        // q + offset, a vector (w/4 groups) at a time
        c = 0
        while c + w <= k {
            let t = UnsafeRawPointer(row + c).loadUnaligned(as: V.self) * inv + magic
            let q = unsafeBitCast(t, to: Acc.self) &- magicBits &+ Acc(repeating: Int32(offset))
            let bytes = I.toBytes(q)
            withUnsafeBytes(of: bytes) { raw in
                for j in 0..<(w / 4) {
                    (base + (c / 4 + j) * 24).withMemoryRebound(to: UInt32.self, capacity: 1) {
                        $0.pointee = raw.loadUnaligned(fromByteOffset: 4 * j, as: UInt32.self)
                    }
                }
            }
            c += w
        }
        // the tail, and the zero padding up to whole k-groups
        while c < groups * 4 {
            var q = Int32(offset)
            if c < k {
                let v = (row[c] * inverse).rounded(.toNearestOrEven)
                if v.isFinite { q += Int32(max(-levels, min(levels, v))) }
            }
            base[(c / 4) * 24 + c % 4] = UInt8(truncatingIfNeeded: q)
            c += 1
        }
    }
}
