// The register tile both GEMMs compute in: R ≤ 12 rows × two vectors of accumulators over the k-steps of one row
// block of x and one panel of w, R a type so each tile height is compiled on its own; and a row's two vectors loaded
// from or stored to `count` floats (the last panel's partial rows).

import KernelIntrinsics

/// A row count known at compile time, so a tile's accumulators live in registers.
@usableFromInline package protocol RowCount { static var value: Int { get } }

/// The row count `n`.
@usableFromInline package enum Rows<let n: Int>: RowCount { @inlinable package static var value: Int { n } }

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

/// The share of the next k-block a tile prefetches: `perStep` cache lines every `every` k-steps, from `next` on.
/// The lines of a block are spread over all its row tiles, so the requests trickle out at the pace the CPU can
/// keep in flight instead of in a burst that would be dropped.
@usableFromInline package struct PrefetchSlice {
    /// The first line of this share, and the next line to prefetch.
    @usableFromInline package var start: UnsafeRawPointer, next: UnsafeRawPointer
    @usableFromInline package var perStep: Int
    @usableFromInline package var every: Int
    /// k-steps until the next prefetching one.
    @usableFromInline package var countdown: Int

    /// `lines` cache lines from `start` over `steps` k-steps.
    @inlinable
    package init(start: UnsafeRawPointer, lines: Int, steps: Int) {
        self.start = start
        next = start
        if lines >= steps {
            perStep = steps > 0 ? (lines + steps - 1) / steps : 0
            every = 1
        } else {
            perStep = lines > 0 ? 1 : 0
            every = lines > 0 ? steps / lines : 1
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

    /// One k-step: every `every`-th call prefetches the next `perStep` lines.
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
    /// Bytes of x's row block per k-step (its rows interleaved).
    static var rowBlockStride: Int { get }
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
        var c00 = Acc(), c01 = Acc(), c10 = Acc(), c11 = Acc(), c20 = Acc(), c21 = Acc()
        var c30 = Acc(), c31 = Acc(), c40 = Acc(), c41 = Acc(), c50 = Acc(), c51 = Acc()
        var c60 = Acc(), c61 = Acc(), c70 = Acc(), c71 = Acc(), c80 = Acc(), c81 = Acc()
        var c90 = Acc(), c91 = Acc(), c100 = Acc(), c101 = Acc(), c110 = Acc(), c111 = Acc()
        (c00, c01) = initial(row: 0)
        if rows > 1 { (c10, c11) = initial(row: 1) }
        if rows > 2 { (c20, c21) = initial(row: 2) }
        if rows > 3 { (c30, c31) = initial(row: 3) }
        if rows > 4 { (c40, c41) = initial(row: 4) }
        if rows > 5 { (c50, c51) = initial(row: 5) }
        if rows > 6 { (c60, c61) = initial(row: 6) }
        if rows > 7 { (c70, c71) = initial(row: 7) }
        if rows > 8 { (c80, c81) = initial(row: 8) }
        if rows > 9 { (c90, c91) = initial(row: 9) }
        if rows > 10 { (c100, c101) = initial(row: 10) }
        if rows > 11 { (c110, c111) = initial(row: 11) }
        let half = MemoryLayout<Panel>.size
        var ap = steps.a, bp = steps.b
        var prefetch = steps.prefetch
        for _ in 0..<steps.count {
            prefetch.step()
            let b0 = bp.loadUnaligned(as: Panel.self)
            let b1 = bp.loadUnaligned(fromByteOffset: half, as: Panel.self)
            var x = Self.broadcast(ap, row: 0)
            c00 = Self.accumulate(c00, x, b0); c01 = Self.accumulate(c01, x, b1)
            if rows > 1 { x = Self.broadcast(ap, row: 1); c10 = Self.accumulate(c10, x, b0); c11 = Self.accumulate(c11, x, b1) }
            if rows > 2 { x = Self.broadcast(ap, row: 2); c20 = Self.accumulate(c20, x, b0); c21 = Self.accumulate(c21, x, b1) }
            if rows > 3 { x = Self.broadcast(ap, row: 3); c30 = Self.accumulate(c30, x, b0); c31 = Self.accumulate(c31, x, b1) }
            if rows > 4 { x = Self.broadcast(ap, row: 4); c40 = Self.accumulate(c40, x, b0); c41 = Self.accumulate(c41, x, b1) }
            if rows > 5 { x = Self.broadcast(ap, row: 5); c50 = Self.accumulate(c50, x, b0); c51 = Self.accumulate(c51, x, b1) }
            if rows > 6 { x = Self.broadcast(ap, row: 6); c60 = Self.accumulate(c60, x, b0); c61 = Self.accumulate(c61, x, b1) }
            if rows > 7 { x = Self.broadcast(ap, row: 7); c70 = Self.accumulate(c70, x, b0); c71 = Self.accumulate(c71, x, b1) }
            if rows > 8 { x = Self.broadcast(ap, row: 8); c80 = Self.accumulate(c80, x, b0); c81 = Self.accumulate(c81, x, b1) }
            if rows > 9 { x = Self.broadcast(ap, row: 9); c90 = Self.accumulate(c90, x, b0); c91 = Self.accumulate(c91, x, b1) }
            if rows > 10 { x = Self.broadcast(ap, row: 10); c100 = Self.accumulate(c100, x, b0); c101 = Self.accumulate(c101, x, b1) }
            if rows > 11 { x = Self.broadcast(ap, row: 11); c110 = Self.accumulate(c110, x, b0); c111 = Self.accumulate(c111, x, b1) }
            bp += 2 &* half
            ap += Self.rowBlockStride
        }
        store(row: 0, c00, c01)
        if rows > 1 { store(row: 1, c10, c11) }
        if rows > 2 { store(row: 2, c20, c21) }
        if rows > 3 { store(row: 3, c30, c31) }
        if rows > 4 { store(row: 4, c40, c41) }
        if rows > 5 { store(row: 5, c50, c51) }
        if rows > 6 { store(row: 6, c60, c61) }
        if rows > 7 { store(row: 7, c70, c71) }
        if rows > 8 { store(row: 8, c80, c81) }
        if rows > 9 { store(row: 9, c90, c91) }
        if rows > 10 { store(row: 10, c100, c101) }
        if rows > 11 { store(row: 11, c110, c111) }
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
