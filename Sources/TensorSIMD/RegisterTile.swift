// The register tile both GEMMs compute in: R ≤ 12 rows × two vectors of accumulators over the k-steps of one row
// block of x and one panel of w, R a type so each tile height is compiled on its own; and a row's two vectors loaded
// from or stored to `count` floats (the last panel's partial rows).

import KernelIntrinsics

/// A row count known at compile time, so a tile's accumulators live in registers.
@usableFromInline package protocol RowCount { static var value: Int { get } }

/// The row count `n`.
@usableFromInline package enum Rows<let n: Int>: RowCount { @inlinable package static var value: Int { n } }

/// A tile's accumulators: two vectors for each of up to 12 rows (those below the tile's height stay unused). One
/// value the k-step updates in place, so each unrolled step is the same inlined code; after inlining they are
/// registers.
@usableFromInline package struct TileAccumulators<Acc: SIMD> {
    @usableFromInline package var c00 = Acc(), c01 = Acc(), c10 = Acc(), c11 = Acc(), c20 = Acc(), c21 = Acc()
    @usableFromInline package var c30 = Acc(), c31 = Acc(), c40 = Acc(), c41 = Acc(), c50 = Acc(), c51 = Acc()
    @usableFromInline package var c60 = Acc(), c61 = Acc(), c70 = Acc(), c71 = Acc(), c80 = Acc(), c81 = Acc()
    @usableFromInline package var c90 = Acc(), c91 = Acc(), c100 = Acc(), c101 = Acc(), c110 = Acc(), c111 = Acc()

    @inlinable @inline(__always)
    package init() {}
}

/// The k-loop operands of one tile.
@usableFromInline package struct TileSteps {
    /// x's row block at the tile's first k-step (``TileKernel/rowBlockStride`` bytes per k-step).
    @usableFromInline package var a: UnsafeRawPointer
    /// w's panel at the tile's first k-step: two ``TileKernel/Panel`` vectors per k-step.
    @usableFromInline package var b: UnsafeRawPointer
    /// k-steps.
    @usableFromInline package var count: Int
    @usableFromInline package var prefetch: PrefetchSlice
    /// Bytes from one row block of x to the next, and from one tile's prefetch share to the next
    /// (``TileKernel/runTiles(_:count:)`` moves down by these).
    @usableFromInline package var rowBlockBytes: Int, prefetchStride: Int

    @inlinable
    package init(a: UnsafeRawPointer, b: UnsafeRawPointer, count: Int, prefetch: PrefetchSlice, rowBlockBytes: Int,
                 prefetchStride: Int) {
        self.a = a; self.b = b; self.count = count; self.prefetch = prefetch
        self.rowBlockBytes = rowBlockBytes; self.prefetchStride = prefetchStride
    }

    /// The next row block's operands: the same panel and k-steps, and the next share of the prefetching.
    @inlinable @inline(__always)
    package mutating func advance() {
        a += rowBlockBytes
        prefetch.restart(at: prefetch.start + prefetchStride)
    }
}

/// The share of the next k-block a tile prefetches: `perStep` cache lines every `every` trips of the tile's loop
/// (``TileKernel/unroll`` k-steps each), from `next` on.
/// The lines of a block are spread over all its row tiles, so the requests trickle out at the pace the CPU can
/// keep in flight instead of in a burst that would be dropped.
@usableFromInline package struct PrefetchSlice {
    /// The first line of this share, and the next line to prefetch.
    @usableFromInline package var start: UnsafeRawPointer, next: UnsafeRawPointer
    @usableFromInline package var perStep: Int
    @usableFromInline package var every: Int
    /// Trips until the next prefetching one.
    @usableFromInline package var countdown: Int

    /// `lines` cache lines from `start` over `trips` trips of the tile's loop.
    @inlinable
    package init(start: UnsafeRawPointer, lines: Int, trips: Int) {
        self.start = start
        next = start
        if lines >= trips {
            perStep = trips > 0 ? (lines + trips - 1) / trips : 0
            every = 1
        } else {
            perStep = lines > 0 ? 1 : 0
            every = lines > 0 ? trips / lines : 1
        }
        countdown = every
    }

    /// The same number of lines over the same k-steps, from `start`.
    @inlinable @inline(__always)
    package mutating func restart(at start: UnsafeRawPointer) {
        self.start = start
        next = start
        countdown = every
    }

    /// One trip: every `every`-th call prefetches the next `perStep` lines.
    @inlinable @inline(__always)
    package mutating func step() {
        countdown &-= 1
        if countdown == 0 {
            countdown = every
            for _ in 0..<perStep { prefetchL2(next); next += 64 }
        }
    }
}

/// A GEMM computed in register tiles: each k-step adds, to row r's two accumulators, row r's x broadcast times the
/// panel's two vectors. The kernel supplies that arithmetic, where the accumulators start and the epilogue;
/// ``run(_:)`` is the tile loop of both GEMMs.
@usableFromInline package protocol TileKernel {
    /// Float or int32 lanes.
    associatedtype Acc: SIMD
    /// Half of a panel's k-step: the float vector, or the int8 GEMM's byte quads.
    associatedtype Panel: SIMD
    /// k-steps per trip of the tile loop, each trip one prefetch point. A compile-time constant: LLVM unrolls the
    /// trip for the 6-row AVX2 and portable tiles (checked with `objdump`); the 12-row AVX-512 step is past its size
    /// limit and stays a loop of `unroll` steps inside the trip (not measurable on the machines used here).
    static var unroll: Int { get }
    /// Bytes of x's row block per k-step (its rows interleaved).
    static var rowBlockStride: Int { get }
    /// Bytes of w's panel per k-step: two ``Panel`` vectors unless the kernel's ``step(_:_:_:_:)`` reads more.
    static var panelStride: Int { get }
    /// One k-step of R rows: ``broadcastStep(_:_:_:_:)`` unless the kernel steps otherwise.
    static func step<R: RowCount>(_ t: inout TileAccumulators<Acc>, _ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _: R.Type)
    /// Row r's x at the k-step `a` points to, in every lane.
    static func broadcast(_ a: UnsafeRawPointer, row r: Int) -> Panel
    /// `acc + x·b` lane-wise (a multiply-add, or 4-way byte dot products).
    static func accumulate(_ acc: Acc, _ x: Panel, _ b: Panel) -> Acc
    var steps: TileSteps { get }
    /// Row r's accumulators before the first k-step.
    func initial(row r: Int) -> (Acc, Acc)
    /// Row r's accumulators after the last k-step, through the epilogue into y.
    func store(row r: Int, _ lo: Acc, _ hi: Acc)
    /// The tile one row block further down (its x, y rows and prefetch share).
    mutating func advance()
}

extension TileKernel {
    /// The tile of `R.value` rows (R ≤ 12).
    ///
    /// The accumulators are named locals and the row count a compile-time constant, so after specialisation the
    /// `if rows > r` tests fold away and the loop body is only loads, broadcasts and multiply-adds (no bounds or
    /// overflow checks, nothing spilled). Every row accumulates in the same order whatever R is, so a row's result
    /// does not depend on the batch it is in. Not inlined into the caller's panel loop: compiled on its own, the
    /// k-loop keeps all its state in registers.
    @inlinable @inline(never)
    package func run<R: RowCount>(_: R.Type) { body(R.self) }

    /// `count` tiles of R rows, one row block after another: a whole panel sweep in one call, so the tile's
    /// vectors (bias, scales) are set up once per sweep instead of copied through the stack before every tile
    /// (5 % of int8 batch-8 time went to those copies, measured with `perf`).
    /// Leaves `self` at the row block after the last one run.
    @inlinable @inline(never)
    package mutating func runTiles<R: RowCount>(_: R.Type, count: Int) {
        var tile = self
        for _ in 0..<count {
            tile.body(R.self)
            tile.advance()
        }
        self = tile
    }

    /// ``run(_:)``'s body.
    @inlinable @inline(__always)
    package func body<R: RowCount>(_: R.Type) {
        let rows = R.value
        var t = TileAccumulators<Acc>()
        (t.c00, t.c01) = initial(row: 0)
        if rows > 1 { (t.c10, t.c11) = initial(row: 1) }
        if rows > 2 { (t.c20, t.c21) = initial(row: 2) }
        if rows > 3 { (t.c30, t.c31) = initial(row: 3) }
        if rows > 4 { (t.c40, t.c41) = initial(row: 4) }
        if rows > 5 { (t.c50, t.c51) = initial(row: 5) }
        if rows > 6 { (t.c60, t.c61) = initial(row: 6) }
        if rows > 7 { (t.c70, t.c71) = initial(row: 7) }
        if rows > 8 { (t.c80, t.c81) = initial(row: 8) }
        if rows > 9 { (t.c90, t.c91) = initial(row: 9) }
        if rows > 10 { (t.c100, t.c101) = initial(row: 10) }
        if rows > 11 { (t.c110, t.c111) = initial(row: 11) }
        let stride = Self.rowBlockStride, panelStride = Self.panelStride
        var ap = steps.a, bp = steps.b
        var prefetch = steps.prefetch
        // ``unroll`` k-steps per trip, with one prefetch point.
        let unroll = Self.unroll
        for _ in 0..<(steps.count / unroll) {
            prefetch.step()
            for u in 0..<unroll { Self.step(&t, ap + u &* stride, bp + u &* panelStride, R.self) }
            ap += unroll &* stride
            bp += unroll &* panelStride
        }
        for _ in 0..<(steps.count % unroll) {
            Self.step(&t, ap, bp, R.self)
            ap += stride
            bp += panelStride
        }
        store(row: 0, t.c00, t.c01)
        if rows > 1 { store(row: 1, t.c10, t.c11) }
        if rows > 2 { store(row: 2, t.c20, t.c21) }
        if rows > 3 { store(row: 3, t.c30, t.c31) }
        if rows > 4 { store(row: 4, t.c40, t.c41) }
        if rows > 5 { store(row: 5, t.c50, t.c51) }
        if rows > 6 { store(row: 6, t.c60, t.c61) }
        if rows > 7 { store(row: 7, t.c70, t.c71) }
        if rows > 8 { store(row: 8, t.c80, t.c81) }
        if rows > 9 { store(row: 9, t.c90, t.c91) }
        if rows > 10 { store(row: 10, t.c100, t.c101) }
        if rows > 11 { store(row: 11, t.c110, t.c111) }
    }

    @inlinable @inline(__always)
    package static var panelStride: Int { 2 &* MemoryLayout<Panel>.size }

    @inlinable @inline(__always)
    package static func step<R: RowCount>(_ t: inout TileAccumulators<Acc>, _ a: UnsafeRawPointer,
                                          _ b: UnsafeRawPointer, _: R.Type) {
        broadcastStep(&t, a, b, R.self)
    }

    /// One k-step of R rows: row r's x at `a` broadcast times the panel's two vectors at `b`, added to row r's
    /// accumulators.
    @inlinable @inline(__always)
    package static func broadcastStep<R: RowCount>(_ t: inout TileAccumulators<Acc>, _ a: UnsafeRawPointer,
                                                   _ b: UnsafeRawPointer, _: R.Type) {
        let rows = R.value
        let b0 = b.loadUnaligned(as: Panel.self)
        let b1 = b.loadUnaligned(fromByteOffset: MemoryLayout<Panel>.size, as: Panel.self)
        var x = broadcast(a, row: 0)
        t.c00 = accumulate(t.c00, x, b0); t.c01 = accumulate(t.c01, x, b1)
        if rows > 1 { x = broadcast(a, row: 1); t.c10 = accumulate(t.c10, x, b0); t.c11 = accumulate(t.c11, x, b1) }
        if rows > 2 { x = broadcast(a, row: 2); t.c20 = accumulate(t.c20, x, b0); t.c21 = accumulate(t.c21, x, b1) }
        if rows > 3 { x = broadcast(a, row: 3); t.c30 = accumulate(t.c30, x, b0); t.c31 = accumulate(t.c31, x, b1) }
        if rows > 4 { x = broadcast(a, row: 4); t.c40 = accumulate(t.c40, x, b0); t.c41 = accumulate(t.c41, x, b1) }
        if rows > 5 { x = broadcast(a, row: 5); t.c50 = accumulate(t.c50, x, b0); t.c51 = accumulate(t.c51, x, b1) }
        if rows > 6 { x = broadcast(a, row: 6); t.c60 = accumulate(t.c60, x, b0); t.c61 = accumulate(t.c61, x, b1) }
        if rows > 7 { x = broadcast(a, row: 7); t.c70 = accumulate(t.c70, x, b0); t.c71 = accumulate(t.c71, x, b1) }
        if rows > 8 { x = broadcast(a, row: 8); t.c80 = accumulate(t.c80, x, b0); t.c81 = accumulate(t.c81, x, b1) }
        if rows > 9 { x = broadcast(a, row: 9); t.c90 = accumulate(t.c90, x, b0); t.c91 = accumulate(t.c91, x, b1) }
        if rows > 10 { x = broadcast(a, row: 10); t.c100 = accumulate(t.c100, x, b0); t.c101 = accumulate(t.c101, x, b1) }
        if rows > 11 { x = broadcast(a, row: 11); t.c110 = accumulate(t.c110, x, b0); t.c111 = accumulate(t.c111, x, b1) }
    }

    /// Runs `count` whole tiles of `rows` (5, 6 or 12) rows, then one of `rest` (0…11) rows below them.
    @inlinable @inline(__always)
    package func runTiles(rows: Int, count: Int, rest: Int) {
        var tile = self
        switch rows {
        case 12: tile.runTiles(Rows<12>.self, count: count)
        case 6: tile.runTiles(Rows<6>.self, count: count)
        case 5: tile.runTiles(Rows<5>.self, count: count)
        default: for _ in 0..<count { tile.run(rows: rows); tile.advance() }
        }
        if rest > 0 { tile.run(rows: rest) }
    }

    /// Runs the tile compiled for `rows` (1…12) rows. Heights above the kernel's tile rows never occur; the
    /// compiler drops their cases where the caller bounds `rows`.
    @inlinable @inline(__always)
    package func run(rows: Int) {
        switch rows {
        case 12: run(Rows<12>.self)
        case 11: run(Rows<11>.self)
        case 10: run(Rows<10>.self)
        case 9: run(Rows<9>.self)
        case 8: run(Rows<8>.self)
        case 7: run(Rows<7>.self)
        case 6: run(Rows<6>.self)
        case 5: run(Rows<5>.self)
        case 4: run(Rows<4>.self)
        case 3: run(Rows<3>.self)
        case 2: run(Rows<2>.self)
        default: run(Rows<1>.self)
        }
    }
}

/// The first `count` ≤ 2·V.scalarCount floats at `p` as two vectors, zero past `count`: two unaligned loads when
/// `count` fills both.
@inlinable @inline(__always)
package func loadPair<V: SIMD>(_ p: UnsafePointer<Float>, count: Int) -> (V, V) where V.Scalar == Float {
    let w = V.scalarCount
    if count == 2 * w {
        return (UnsafeRawPointer(p).loadUnaligned(as: V.self), UnsafeRawPointer(p + w).loadUnaligned(as: V.self))
    }
    var lo = V(), hi = V()
    for j in 0..<count { if j < w { lo[j] = p[j] } else { hi[j - w] = p[j] } }
    return (lo, hi)
}

/// Stores the first `count` ≤ 2·V.scalarCount lanes of `lo` then `hi` at `p`: two unaligned stores when `count`
/// fills both.
@inlinable @inline(__always)
package func storePair<V: SIMD>(_ lo: V, _ hi: V, to p: UnsafeMutablePointer<Float>, count: Int) where V.Scalar == Float {
    let w = V.scalarCount
    if count == 2 * w {
        UnsafeMutableRawPointer(p).storeBytes(of: lo, as: V.self)
        UnsafeMutableRawPointer(p + w).storeBytes(of: hi, as: V.self)
    } else {
        for j in 0..<count { p[j] = j < w ? lo[j] : hi[j - w] }
    }
}
