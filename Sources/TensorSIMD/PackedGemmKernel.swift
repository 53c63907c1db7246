// Packed GEMM: y = x·wᵀ + b (optionally activated, or added to y) with w packed into panels of NR columns and x
// into blocks of MR interleaved rows. x: ⌈M/MR⌉ blocks of (K, MR); w: ⌈N/NR⌉ panels of (K, NR), NR = 2·V.scalarCount,
// MR = I.tileRows (12 where 32 vector registers hold 24 accumulators, else 6); y: (M, N) rows strided by ldc.

import KernelIntrinsics

/// A row count known at compile time, so a tile's accumulators live in registers.
@usableFromInline package protocol RowCount { static var value: Int { get } }
@usableFromInline package enum Rows1: RowCount { @inlinable package static var value: Int { 1 } }
@usableFromInline package enum Rows2: RowCount { @inlinable package static var value: Int { 2 } }
@usableFromInline package enum Rows3: RowCount { @inlinable package static var value: Int { 3 } }
@usableFromInline package enum Rows4: RowCount { @inlinable package static var value: Int { 4 } }
@usableFromInline package enum Rows5: RowCount { @inlinable package static var value: Int { 5 } }
@usableFromInline package enum Rows6: RowCount { @inlinable package static var value: Int { 6 } }
@usableFromInline package enum Rows7: RowCount { @inlinable package static var value: Int { 7 } }
@usableFromInline package enum Rows8: RowCount { @inlinable package static var value: Int { 8 } }
@usableFromInline package enum Rows9: RowCount { @inlinable package static var value: Int { 9 } }
@usableFromInline package enum Rows10: RowCount { @inlinable package static var value: Int { 10 } }
@usableFromInline package enum Rows11: RowCount { @inlinable package static var value: Int { 11 } }
@usableFromInline package enum Rows12: RowCount { @inlinable package static var value: Int { 12 } }

/// The share of the next k-block a tile prefetches: `perStep` cache lines every `every` k-steps from `start`.
/// The lines of a block are spread over all its row tiles, so the requests trickle out at the pace the CPU can
/// keep in flight instead of in a burst that would be dropped.
@usableFromInline package struct PrefetchSlice {
    @usableFromInline package var start: UnsafeRawPointer
    @usableFromInline package var perStep: Int
    @usableFromInline package var every: Int

    /// `lines` cache lines from `start` over `steps` k-steps.
    @inlinable
    package init(start: UnsafeRawPointer, lines: Int, steps: Int) {
        self.start = start
        if lines >= steps {
            perStep = steps > 0 ? (lines + steps - 1) / steps : 0
            every = 1
        } else {
            perStep = lines > 0 ? 1 : 0
            every = lines > 0 ? steps / lines : 1
        }
    }
}

/// What the GEMM does with `x·wᵀ` before storing it.
@usableFromInline package enum GemmEpilogue: Sendable, Equatable {
    /// `y = x·wᵀ + b`
    case store
    /// `y = act(x·wᵀ + b)` (fc1 followed by the MLP's activation)
    case activation(ActivationKind)
    /// `y += x·wᵀ + b` (out_proj and fc2 followed by the residual connection)
    case accumulate
}

/// The operands of one packed GEMM. Raw pointers: the caller keeps the buffers alive for the call.
@usableFromInline package struct GemmOperands: @unchecked Sendable {
    /// x packed by ``packRowBlocks(_:lda:m:k:blockRows:into:blocks:)``: ⌈m/MR⌉ blocks of (k, MR).
    @usableFromInline package var a: UnsafePointer<Float>
    @usableFromInline package var m: Int
    /// Panels of `(k, NR)`, zero-padded past `n`.
    @usableFromInline package var packed: UnsafePointer<Float>
    @usableFromInline package var k: Int
    @usableFromInline package var n: Int
    @usableFromInline package var c: UnsafeMutablePointer<Float>
    @usableFromInline package var ldc: Int
    /// `n` floats, or nil.
    @usableFromInline package var bias: UnsafePointer<Float>?
    @usableFromInline package var epilogue: GemmEpilogue
    /// Prefetch each next k-block while computing one: for weights streamed from memory. Off for small operands
    /// already in cache (attention's k and v), where it would only fetch whatever follows them.
    @usableFromInline package var prefetch: Bool

    @inlinable
    package init(a: UnsafePointer<Float>, m: Int, packed: UnsafePointer<Float>, k: Int, n: Int,
                 c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>?, epilogue: GemmEpilogue,
                 prefetch: Bool = true) {
        self.a = a; self.m = m
        self.packed = packed; self.k = k; self.n = n
        self.c = c; self.ldc = ldc; self.bias = bias; self.epilogue = epilogue; self.prefetch = prefetch
    }
}

/// One R×NR tile over one block of `k` steps (R ≤ 12). Accumulators start at zero, or at `c` when `load` (a later
/// k-block, or the residual of ``GemmEpilogue/accumulate``). With `finish`, the bias and activation are applied
/// and the result stored; otherwise the partial sums are stored for the next k-block. `a` is one row block of
/// `blockRows` interleaved rows.
///
/// The accumulators are named locals and the row count a compile-time constant, so after specialisation the
/// `if rows > r` tests fold away and the loop body is only loads, broadcasts and multiply-adds (no bounds or
/// overflow checks, nothing spilled). Every row accumulates in the same order whatever R is, so a row's result
/// does not depend on the batch it is in.
@inlinable @inline(__always)
package func gemmTile<I: KernelISA, R: RowCount>(
    _: I.Type, _: R.Type,
    a: UnsafePointer<Float>, blockRows: Int, b: UnsafePointer<Float>, k: Int, prefetch: PrefetchSlice,
    c: UnsafeMutablePointer<Float>, ldc: Int, columns: Int, load: Bool,
    finish: Bool, bias0: I.V, bias1: I.V, activation: ActivationKind?
) {
    typealias V = I.V
    let w = V.scalarCount
    let rows = R.value
    var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V()
    var c30 = V(), c31 = V(), c40 = V(), c41 = V(), c50 = V(), c51 = V()
    var c60 = V(), c61 = V(), c70 = V(), c71 = V(), c80 = V(), c81 = V()
    var c90 = V(), c91 = V(), c100 = V(), c101 = V(), c110 = V(), c111 = V()
    @inline(__always) func loadRow(_ r: Int) -> (V, V) {
        let row = c + r * ldc
        if columns == 2 * w {
            return (UnsafeRawPointer(row).loadUnaligned(as: V.self), UnsafeRawPointer(row + w).loadUnaligned(as: V.self))
        }
        var lo = V(), hi = V()
        for j in 0..<columns { if j < w { lo[j] = row[j] } else { hi[j - w] = row[j] } }
        return (lo, hi)
    }
    if load {
        (c00, c01) = loadRow(0)
        if rows > 1 { (c10, c11) = loadRow(1) }
        if rows > 2 { (c20, c21) = loadRow(2) }
        if rows > 3 { (c30, c31) = loadRow(3) }
        if rows > 4 { (c40, c41) = loadRow(4) }
        if rows > 5 { (c50, c51) = loadRow(5) }
        if rows > 6 { (c60, c61) = loadRow(6) }
        if rows > 7 { (c70, c71) = loadRow(7) }
        if rows > 8 { (c80, c81) = loadRow(8) }
        if rows > 9 { (c90, c91) = loadRow(9) }
        if rows > 10 { (c100, c101) = loadRow(10) }
        if rows > 11 { (c110, c111) = loadRow(11) }
    }
    var bp = UnsafeRawPointer(b)
    var ap = a
    let stepBytes = 2 &* w &* 4
    var pf = prefetch.start
    var countdown = prefetch.every
    for _ in 0..<k {
        countdown &-= 1
        if countdown == 0 {
            countdown = prefetch.every
            for _ in 0..<prefetch.perStep { prefetchL2(pf); pf += 64 }
        }
        let b0 = bp.loadUnaligned(as: V.self)
        let b1 = bp.loadUnaligned(fromByteOffset: w &* 4, as: V.self)
        var s = V(repeating: ap[0])
        c00 = I.madd(c00, s, b0); c01 = I.madd(c01, s, b1)
        if rows > 1 { s = V(repeating: ap[1]); c10 = I.madd(c10, s, b0); c11 = I.madd(c11, s, b1) }
        if rows > 2 { s = V(repeating: ap[2]); c20 = I.madd(c20, s, b0); c21 = I.madd(c21, s, b1) }
        if rows > 3 { s = V(repeating: ap[3]); c30 = I.madd(c30, s, b0); c31 = I.madd(c31, s, b1) }
        if rows > 4 { s = V(repeating: ap[4]); c40 = I.madd(c40, s, b0); c41 = I.madd(c41, s, b1) }
        if rows > 5 { s = V(repeating: ap[5]); c50 = I.madd(c50, s, b0); c51 = I.madd(c51, s, b1) }
        if rows > 6 { s = V(repeating: ap[6]); c60 = I.madd(c60, s, b0); c61 = I.madd(c61, s, b1) }
        if rows > 7 { s = V(repeating: ap[7]); c70 = I.madd(c70, s, b0); c71 = I.madd(c71, s, b1) }
        if rows > 8 { s = V(repeating: ap[8]); c80 = I.madd(c80, s, b0); c81 = I.madd(c81, s, b1) }
        if rows > 9 { s = V(repeating: ap[9]); c90 = I.madd(c90, s, b0); c91 = I.madd(c91, s, b1) }
        if rows > 10 { s = V(repeating: ap[10]); c100 = I.madd(c100, s, b0); c101 = I.madd(c101, s, b1) }
        if rows > 11 { s = V(repeating: ap[11]); c110 = I.madd(c110, s, b0); c111 = I.madd(c111, s, b1) }
        bp += stepBytes
        ap += blockRows
    }
    @inline(__always) func storeRow(_ r: Int, _ lo: V, _ hi: V) {
        var lo = lo, hi = hi
        if finish {
            lo += bias0
            hi += bias1
            if let activation {
                lo = activate(I.self, activation, lo)
                hi = activate(I.self, activation, hi)
            }
        }
        let row = c + r * ldc
        if columns == 2 * w {
            UnsafeMutableRawPointer(row).storeBytes(of: lo, as: V.self)
            UnsafeMutableRawPointer(row + w).storeBytes(of: hi, as: V.self)
        } else {
            for j in 0..<columns { row[j] = j < w ? lo[j] : hi[j - w] }
        }
    }
    storeRow(0, c00, c01)
    if rows > 1 { storeRow(1, c10, c11) }
    if rows > 2 { storeRow(2, c20, c21) }
    if rows > 3 { storeRow(3, c30, c31) }
    if rows > 4 { storeRow(4, c40, c41) }
    if rows > 5 { storeRow(5, c50, c51) }
    if rows > 6 { storeRow(6, c60, c61) }
    if rows > 7 { storeRow(7, c70, c71) }
    if rows > 8 { storeRow(8, c80, c81) }
    if rows > 9 { storeRow(9, c90, c91) }
    if rows > 10 { storeRow(10, c100, c101) }
    if rows > 11 { storeRow(11, c110, c111) }
}

/// The GEMM over `panels` (a range of NR-column panels) for all M rows, in k-blocks of `kc` so a panel's block
/// stays in L1 while every row block sweeps it: MR-row tiles, then one tile of the remaining rows. The tiles of a
/// k-block share out the prefetching of the next one.
@inlinable @inline(__always)
package func packedGemmBody<I: KernelISA>(_: I.Type, _ g: GemmOperands, panels: Range<Int>) {
    typealias V = I.V
    let kc = I.kc, mr = I.tileRows
    let w = V.scalarCount, nr = 2 * w
    let activation: ActivationKind?
    if case .activation(let kind) = g.epilogue { activation = kind } else { activation = nil }
    let residual = g.epilogue == .accumulate
    for p in panels {
        let col0 = p * nr
        let columns = min(nr, g.n - col0)
        guard columns > 0 else { continue }
        var bias0 = V(), bias1 = V()
        if let bias = g.bias {
            for j in 0..<columns {
                if j < w { bias0[j] = bias[col0 + j] } else { bias1[j - w] = bias[col0 + j] }
            }
        }
        let panel = g.packed + p * g.k * nr
        let tiles = (g.m + mr - 1) / mr
        var k0 = 0
        repeat {
            let kl = min(kc, g.k - k0)
            let load = k0 > 0 || residual
            let finish = k0 + kl >= g.k
            let b = panel + k0 * nr
            // The next k-block (of this panel, or the next panel's first) follows this one in memory.
            let next = UnsafeRawPointer(b + kl * nr)
            let linesPerTile = g.prefetch ? (kc * nr * 4 / 64 + tiles - 1) / tiles : 0
            var i = 0
            while i < g.m {
                let rows = min(mr, g.m - i)
                let slice = PrefetchSlice(start: next + (i / mr) * linesPerTile * 64, lines: linesPerTile, steps: kl)
                let a = g.a + (i / mr) * g.k * mr + k0 * mr, c = g.c + i * g.ldc + col0
                @inline(__always) func tile<R: RowCount>(_ r: R.Type) {
                    gemmTile(I.self, r, a: a, blockRows: mr, b: b, k: kl, prefetch: slice, c: c, ldc: g.ldc, columns: columns,
                             load: load, finish: finish, bias0: bias0, bias1: bias1, activation: activation)
                }
                switch rows {
                case 12: tile(Rows12.self)
                case 11: tile(Rows11.self)
                case 10: tile(Rows10.self)
                case 9: tile(Rows9.self)
                case 8: tile(Rows8.self)
                case 7: tile(Rows7.self)
                case 6: tile(Rows6.self)
                case 5: tile(Rows5.self)
                case 4: tile(Rows4.self)
                case 3: tile(Rows3.self)
                case 2: tile(Rows2.self)
                default: tile(Rows1.self)
                }
                i += mr
            }
            k0 += kl
        } while k0 < g.k
    }
}
