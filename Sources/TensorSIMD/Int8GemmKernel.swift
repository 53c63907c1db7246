// Int8 GEMM: y = ((x_q · w_qᵀ) − offset · Σ_k w_q) · (x scale ⊗ w scale) + b, optionally activated or added to y.
// x is quantized per row at run time (symmetric, ±int8Levels, stored as bytes q + offset), w per output column at
// load. x_q: ⌈M/5⌉ blocks of (G, 5, 4) bytes; w_q: ⌈N/NR⌉ panels of (G, NR, 4) bytes, G = ⌈K/4⌉ k-groups, or in the
// paired layout (G/2 steps, 2 halves, 2 groups, NR/2, 4) bytes, G even; y: (M, N) rows strided by ldc.

import KernelIntrinsics

/// Rows of x per int8 tile and per quantized row block, on every tier: 5 rows × 2 vectors is 10 accumulators, which
/// with the two panel vectors, the broadcast, the product and vpmaddwd's ones fit AVX2's 16 registers (6 rows spilled
/// one accumulator to the stack on every k-step), and ViT-B/32's 50 tokens are whole tiles (no 2-row edge tile that
/// streams every panel for 2 rows).
@inlinable @inline(__always)
package var int8TileRows: Int { 5 }

/// The operands of one int8 GEMM: the packed GEMM's, over bytes, and the scales that dequantise the int32 sums.
@usableFromInline package struct Int8GemmOperands: @unchecked Sendable {
    /// x quantized by ``quantizeRowsBody(_:_:lda:m:k:groups:into:scales:rows:)``, the weight panels, and
    /// k = ⌈K/4⌉ k-groups; the bias is padded to whole panels.
    @usableFromInline package var gemm: GemmOperands<UInt8>
    /// One scale per row of x (`x ≈ scale · q`).
    @usableFromInline package var rowScales: UnsafePointer<Float>
    /// Per output column, padded to whole panels: `w ≈ scale · q`, and Σ_k q.
    @usableFromInline package var columnScales: UnsafePointer<Float>
    @usableFromInline package var columnSums: UnsafePointer<Int32>
    /// Whether the panels are in the paired layout (two k-groups per step, weights within ±``int8PairWeightLimit``).
    @usableFromInline package var paired: Bool

    @inlinable
    package init(a: UnsafePointer<UInt8>, rowScales: UnsafePointer<Float>, m: Int, packed: UnsafePointer<UInt8>, groups: Int,
                 n: Int, columnScales: UnsafePointer<Float>, columnSums: UnsafePointer<Int32>, paired: Bool = false,
                 c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>?, epilogue: GemmEpilogue) {
        gemm = GemmOperands(a: a, m: m, packed: packed, k: groups, n: n, c: c, ldc: ldc, bias: bias, epilogue: epilogue)
        self.rowScales = rowScales; self.columnScales = columnScales; self.columnSums = columnSums; self.paired = paired
    }
}

/// k-groups per step of the int8 tile: ``OneGroup`` (8-bit weights) or ``TwoGroups`` (the paired layout).
@usableFromInline package protocol Int8StepGroups { static var count: Int { get } }

/// One k-group per step: ``KernelISA/dot4(_:_:_:)``.
@usableFromInline package enum OneGroup: Int8StepGroups { @inlinable package static var count: Int { 1 } }

/// Two k-groups per step: ``KernelISA/dot4Pair(_:_:_:_:_:)``, weights within ±``int8PairWeightLimit``.
@usableFromInline package enum TwoGroups: Int8StepGroups { @inlinable package static var count: Int { 2 } }

/// One R × NR tile over all k-groups (R ≤ ``int8TileRows``; int32 sums are exact, so there is no k-blocking), then
/// the epilogue: dequantise with the row and column scales, add the bias, activate or add to y, store. x's row block
/// holds ``int8TileRows`` interleaved rows of 4 bytes per k-group.
/// With ``TwoGroups`` a step reads two k-groups: x's two row blocks one after the other, and 4 panel vectors
/// (groups g and g + 1 of the panel's first NR/2 columns, then of the other half).
@usableFromInline package struct Int8Tile<I: KernelISA, G: Int8StepGroups>: TileKernel {
    @usableFromInline package var steps: TileSteps
    @usableFromInline var rowScales: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>
    @usableFromInline let ldc: Int, columns: Int
    @usableFromInline let correction0: I.Acc, correction1: I.Acc, scale0: I.V, scale1: I.V, bias0: I.V, bias1: I.V
    @usableFromInline let activation: ActivationKind?, residual: Bool

    @inlinable @inline(__always)
    package init(steps: TileSteps, rowScales: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int, columns: Int,
                 correction0: I.Acc, correction1: I.Acc, scale0: I.V, scale1: I.V, bias0: I.V, bias1: I.V,
                 activation: ActivationKind?, residual: Bool) {
        self.steps = steps; self.rowScales = rowScales; self.c = c; self.ldc = ldc; self.columns = columns
        self.correction0 = correction0; self.correction1 = correction1; self.scale0 = scale0; self.scale1 = scale1
        self.bias0 = bias0; self.bias1 = bias1; self.activation = activation; self.residual = residual
    }

    @inlinable @inline(__always)
    package mutating func advance() {
        steps.advance()
        rowScales += int8TileRows
        c += int8TileRows &* ldc
    }

    /// One k-step (one k-group, or two in the paired layout) per trip: unrolled by 4 like the float tile, the 8-bit
    /// tile ran slower (int8 batch-8 shapes 0.80-1.02x in 6 interleaved `clip-bench --matmul` runs), and the paired
    /// one unrolled by 2 was no faster: their dot products need more registers per step.
    @inlinable @inline(__always)
    package static var unroll: Int { 1 }

    @inlinable @inline(__always)
    package static var rowBlockStride: Int { G.count &* 4 &* int8TileRows }

    @inlinable @inline(__always)
    package static var panelStride: Int { G.count &* 2 &* MemoryLayout<I.Quad>.size }

    /// One k-step of R rows: one k-group (the shared ``broadcastStep(_:_:_:_:)``), or two with
    /// ``KernelISA/dot4Pair(_:_:_:_:_:)``. The two-group step needs 10 accumulators + 4 panel vectors + 4
    /// temporaries, more than AVX2's 16 registers: LLVM keeps 3 accumulators on the stack. Measured against
    /// half a panel at a time (12 registers, no spills, x broadcast twice), this ran faster: the int8 GEMM shapes
    /// 0.97–1.21× (median 1.09×) as fast as with 8-bit weights, against 0.97–1.08× (median 1.02×)
    /// (`clip-bench --matmul`, each layout interleaved with the 8-bit one in one process).
    @inlinable @inline(__always)
    package static func step<R: RowCount>(_ t: inout TileAccumulators<I.Acc>, _ a: UnsafeRawPointer,
                                          _ b: UnsafeRawPointer, _: R.Type) {
        guard G.count == 2 else { return broadcastStep(&t, a, b, R.self) }
        let rows = R.value
        let q = MemoryLayout<I.Quad>.size
        let b0 = b.loadUnaligned(as: I.Quad.self), b0Next = b.loadUnaligned(fromByteOffset: q, as: I.Quad.self)
        let b1 = b.loadUnaligned(fromByteOffset: 2 &* q, as: I.Quad.self)
        let b1Next = b.loadUnaligned(fromByteOffset: 3 &* q, as: I.Quad.self)
        let next = a + 4 &* int8TileRows   // group g + 1's row block
        @inline(__always) func row(_ r: Int, _ lo: inout I.Acc, _ hi: inout I.Acc) {
            let x = broadcast(a, row: r), xNext = broadcast(next, row: r)
            lo = I.dot4Pair(lo, x, b0, xNext, b0Next)
            hi = I.dot4Pair(hi, x, b1, xNext, b1Next)
        }
        row(0, &t.c00, &t.c01)
        if rows > 1 { row(1, &t.c10, &t.c11) }
        if rows > 2 { row(2, &t.c20, &t.c21) }
        if rows > 3 { row(3, &t.c30, &t.c31) }
        if rows > 4 { row(4, &t.c40, &t.c41) }
        if rows > 5 { row(5, &t.c50, &t.c51) }
        if rows > 6 { row(6, &t.c60, &t.c61) }
        if rows > 7 { row(7, &t.c70, &t.c71) }
        if rows > 8 { row(8, &t.c80, &t.c81) }
        if rows > 9 { row(9, &t.c90, &t.c91) }
        if rows > 10 { row(10, &t.c100, &t.c101) }
        if rows > 11 { row(11, &t.c110, &t.c111) }
    }

    /// Row r's k-group (4 bytes) in every lane.
    @inlinable @inline(__always)
    package static func broadcast(_ a: UnsafeRawPointer, row r: Int) -> I.Quad {
        unsafeBitCast(I.Acc(repeating: a.loadUnaligned(fromByteOffset: 4 &* r, as: Int32.self)), to: I.Quad.self)
    }

    @inlinable @inline(__always)
    package static func accumulate(_ acc: I.Acc, _ x: I.Quad, _ b: I.Quad) -> I.Acc { I.dot4(acc, x, b) }

    /// Zero sums; and row r's output lines are requested into L2 now, so the k-loop hides their miss: the epilogue
    /// reads them (the residual) or writes them, and they are ldc floats apart, past L2 at batch 8. Without it the
    /// residual loads were the epilogue's hottest instructions under `perf`; with it, int8 batch 8 went from 34.2 to
    /// 30.5 ms/image (`clip-bench`, 5 interleaved rounds, min; batch 1, whose y stays in L2, unchanged).
    @inlinable @inline(__always)
    package func initial(row r: Int) -> (I.Acc, I.Acc) {
        let row = UnsafeRawPointer(c + r &* ldc)
        prefetchL2(row)
        prefetchL2(row + (columns &* 4 &- 1))   // the row's second line when it is not 64-byte aligned
        return (I.Acc(), I.Acc())
    }

    @inlinable @inline(__always)
    package func store(row r: Int, _ lo: I.Acc, _ hi: I.Acc) {
        typealias V = I.V
        let s = V(repeating: rowScales[r])
        var y0 = V.convertToFloat(lo &- correction0) * (scale0 * s) + bias0
        var y1 = V.convertToFloat(hi &- correction1) * (scale1 * s) + bias1
        if let activation {
            y0 = activate(I.self, activation, y0)
            y1 = activate(I.self, activation, y1)
        }
        let row = c + r * ldc
        if residual {
            let (r0, r1): (V, V) = loadPair(row, count: columns)
            y0 += r0
            y1 += r1
        }
        storePair(y0, y1, to: row, count: columns)
    }
}

/// The int8 GEMM over `panels` for all M rows: tiles of ``int8TileRows`` rows, the last one shorter when M is not a
/// multiple; each panel's tiles prefetch the next panel (it follows in memory).
@inlinable @inline(__always)
package func int8GemmBody<I: KernelISA>(_: I.Type, _ q: Int8GemmOperands, panels: Range<Int>) {
    if q.paired {
        int8GemmBody(I.self, TwoGroups.self, q, panels: panels)
    } else {
        int8GemmBody(I.self, OneGroup.self, q, panels: panels)
    }
}

/// ``int8GemmBody(_:_:panels:)`` with `G` k-groups per tile step.
@inlinable @inline(__always)
package func int8GemmBody<I: KernelISA, G: Int8StepGroups>(_: I.Type, _: G.Type, _ q: Int8GemmOperands, panels: Range<Int>) {
    typealias V = I.V
    typealias Acc = I.Acc
    let g = q.gemm
    let w = V.scalarCount, nr = 2 * w
    let activation = g.epilogue.activation, residual = g.epilogue.accumulates
    let offset = I.int8Levels + 1
    let panelBytes = g.k * nr * 4
    let mr = int8TileRows
    let tiles = (g.m + mr - 1) / mr
    let linesPerTile = g.prefetch ? (panelBytes / 64 + tiles - 1) / tiles : 0
    for p in panels {
        let col0 = p * nr
        let columns = min(nr, g.n - col0)
        guard columns > 0 else { continue }
        @inline(__always) func vector(_ from: UnsafePointer<Float>) -> (V, V) {
            (UnsafeRawPointer(from + col0).loadUnaligned(as: V.self), UnsafeRawPointer(from + col0 + w).loadUnaligned(as: V.self))
        }
        let (scale0, scale1) = vector(q.columnScales)
        let (bias0, bias1) = g.bias.map(vector) ?? (V(), V())
        let sums = UnsafeRawPointer(q.columnSums + col0)
        let correction0 = sums.loadUnaligned(as: Acc.self) &* Acc(repeating: offset)
        let correction1 = sums.loadUnaligned(fromByteOffset: w * 4, as: Acc.self) &* Acc(repeating: offset)
        let b = g.packed + p * panelBytes
        let next = UnsafeRawPointer(b + panelBytes)
        let steps = g.k / G.count, trips = steps / Int8Tile<I, G>.unroll
        let tile = Int8Tile<I, G>(
            steps: TileSteps(a: UnsafeRawPointer(g.a), b: UnsafeRawPointer(b), count: steps,
                             prefetch: PrefetchSlice(start: next, lines: linesPerTile, trips: trips),
                             rowBlockBytes: g.k * 4 * mr, prefetchStride: linesPerTile * 64),
            rowScales: q.rowScales, c: g.c + col0, ldc: g.ldc, columns: columns,
            correction0: correction0, correction1: correction1, scale0: scale0, scale1: scale1, bias0: bias0,
            bias1: bias1, activation: activation, residual: residual)
        tile.runTiles(rows: mr, count: g.m / mr, rest: g.m % mr)
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
    let mr = int8TileRows, stride = 4 * mr
    for r in rows {
        let base = blocks + (r / mr) * groups * stride + (r % mr) * 4
        guard r < m else {
            for g in 0..<groups { (base + g * stride).initialize(repeating: offset, count: 4) }
            continue
        }
        let row = x + r * lda
        // max |x|, in four independent chains: `maximum` (NaN-propagating) is several dependent instructions on
        // AVX2, and one chain made this pass latency-bound (half of quantizeRows' time under `perf`)
        @inline(__always) func magnitude(_ c: Int) -> V {
            let v = UnsafeRawPointer(row + c).loadUnaligned(as: V.self)
            return unsafeBitCast(unsafeBitCast(v, to: V.MaskStorage.self) & signMask, to: V.self)
        }
        var m0 = V(), m1 = V(), m2 = V(), m3 = V()
        var c = 0
        while c + 4 * w <= k {
            m0 = V.maximum(m0, magnitude(c))
            m1 = V.maximum(m1, magnitude(c + w))
            m2 = V.maximum(m2, magnitude(c + 2 * w))
            m3 = V.maximum(m3, magnitude(c + 3 * w))
            c += 4 * w
        }
        while c + w <= k {
            m0 = V.maximum(m0, magnitude(c))
            c += w
        }
        let vmax = V.maximum(V.maximum(m0, m1), V.maximum(m2, m3))
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
            let bytes = V.truncateToBytes(q)
            withUnsafeBytes(of: bytes) { raw in
                for j in 0..<(w / 4) {
                    (base + (c / 4 + j) * stride).withMemoryRebound(to: UInt32.self, capacity: 1) {
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
            base[(c / 4) * stride + c % 4] = UInt8(truncatingIfNeeded: q)
            c += 1
        }
    }
}
