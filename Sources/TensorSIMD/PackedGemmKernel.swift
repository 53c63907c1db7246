// Packed GEMM: y = x·wᵀ + b (optionally activated, or added to y) with w packed into panels of NR columns and x
// into blocks of MR interleaved rows. x: ⌈M/MR⌉ blocks of (K, MR); w: ⌈N/NR⌉ panels of (K, NR), NR = 2·V.scalarCount,
// MR = I.tileRows (12 where 32 vector registers hold 24 accumulators, else 6); y: (M, N) rows strided by ldc.

/// What the GEMM does with `x·wᵀ` before storing it.
@usableFromInline package enum GemmEpilogue: Sendable, Equatable {
    /// `y = x·wᵀ + b`
    case store
    /// `y = act(x·wᵀ + b)` (fc1 followed by the MLP's activation)
    case activation(ActivationKind)
    /// `y += x·wᵀ + b` (out_proj and fc2 followed by the residual connection)
    case accumulate

    /// The activation applied before storing, if any.
    @inlinable package var activation: ActivationKind? {
        if case .activation(let kind) = self { kind } else { nil }
    }

    /// Whether the result is added to y.
    @inlinable package var accumulates: Bool { self == .accumulate }
}

/// The operands of one packed GEMM over `Element`s: Float, or UInt8 for the int8 GEMM, whose k-steps are groups of
/// four bytes (see ``Int8GemmOperands``). Raw pointers: the caller keeps the buffers alive for the call.
@usableFromInline package struct GemmOperands<Element>: @unchecked Sendable {
    /// x in ⌈m/MR⌉ blocks of (k, MR), by ``packRowBlocks(_:lda:m:k:blockRows:into:blocks:)`` (int8: quantized by
    /// ``quantizeRowsBody(_:_:lda:m:k:groups:into:scales:rows:)``).
    @usableFromInline package var a: UnsafePointer<Element>
    @usableFromInline package var m: Int
    /// Panels of `(k, NR)`, zero-padded past `n`.
    @usableFromInline package var packed: UnsafePointer<Element>
    /// K, or the int8 GEMM's ⌈K/4⌉ k-groups.
    @usableFromInline package var k: Int
    @usableFromInline package var n: Int
    @usableFromInline package var c: UnsafeMutablePointer<Float>
    @usableFromInline package var ldc: Int
    /// `n` floats (the int8 GEMM's padded to whole panels), or nil.
    @usableFromInline package var bias: UnsafePointer<Float>?
    @usableFromInline package var epilogue: GemmEpilogue
    /// Prefetch each next k-block while computing one: for weights streamed from memory. Off for small operands
    /// already in cache (attention's k and v), where it would only fetch whatever follows them.
    @usableFromInline package var prefetch: Bool

    @inlinable
    package init(a: UnsafePointer<Element>, m: Int, packed: UnsafePointer<Element>, k: Int, n: Int,
                 c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>?, epilogue: GemmEpilogue,
                 prefetch: Bool = true) {
        self.a = a; self.m = m
        self.packed = packed; self.k = k; self.n = n
        self.c = c; self.ldc = ldc; self.bias = bias; self.epilogue = epilogue; self.prefetch = prefetch
    }
}

/// One R×NR tile over one block of k-steps (R ≤ 12). Accumulators start at zero, or at `c` when `load` (a later
/// k-block, or the residual of ``GemmEpilogue/accumulate``). With `finish`, the bias and activation are applied
/// and the result stored; otherwise the partial sums are stored for the next k-block. x's row block holds
/// `I.tileRows` interleaved rows.
@usableFromInline package struct GemmTile<I: KernelISA>: TileKernel {
    @usableFromInline package var steps: TileSteps
    @usableFromInline var c: UnsafeMutablePointer<Float>
    @usableFromInline let ldc: Int, columns: Int
    @usableFromInline let load: Bool, finish: Bool, bias0: I.V, bias1: I.V, activation: ActivationKind?

    @inlinable @inline(__always)
    package init(steps: TileSteps, c: UnsafeMutablePointer<Float>, ldc: Int, columns: Int, load: Bool, finish: Bool,
                 bias0: I.V, bias1: I.V, activation: ActivationKind?) {
        self.steps = steps; self.c = c; self.ldc = ldc; self.columns = columns
        self.load = load; self.finish = finish; self.bias0 = bias0; self.bias1 = bias1; self.activation = activation
    }

    @inlinable @inline(__always)
    package mutating func advance() {
        steps.advance()
        c += I.tileRows &* ldc
    }

    /// Four k-steps per trip: the loop's counter and prefetch countdown then cost a quarter of an instruction per
    /// k-step instead of one each. Faster than one step per trip in 22 of 24 interleaved pairs (`clip-bench
    /// --matmul`, fc1 shapes at M = 50 and 400, median +7 %); eight per trip was slower than four in 17 of 20.
    @inlinable @inline(__always)
    package static var unroll: Int { 4 }

    @inlinable @inline(__always)
    package static var rowBlockStride: Int { I.tileRows &* MemoryLayout<Float>.size }

    @inlinable @inline(__always)
    package static func broadcast(_ a: UnsafeRawPointer, row r: Int) -> I.V {
        I.V(repeating: a.load(fromByteOffset: r &* MemoryLayout<Float>.size, as: Float.self))
    }

    @inlinable @inline(__always)
    package static func accumulate(_ acc: I.V, _ x: I.V, _ b: I.V) -> I.V { I.madd(acc, x, b) }

    /// Zero, or row r's partial sums or residual from y. (Prefetching the next tile's rows here, as the int8 tile
    /// prefetches its own, measured no gain: fp32 batch 8 62.6 vs 62.0 ms/image, 5 interleaved rounds; a float tile
    /// spends ~2.3× longer per multiply-add than an int8 one, so a miss weighs less.)
    @inlinable @inline(__always)
    package func initial(row r: Int) -> (I.V, I.V) { load ? loadPair(c + r * ldc, count: columns) : (I.V(), I.V()) }

    @inlinable @inline(__always)
    package func store(row r: Int, _ lo: I.V, _ hi: I.V) {
        var lo = lo, hi = hi
        if finish {
            lo += bias0
            hi += bias1
            if let activation {
                lo = activate(I.self, activation, lo)
                hi = activate(I.self, activation, hi)
            }
        }
        storePair(lo, hi, to: c + r * ldc, count: columns)
    }
}

/// The GEMM over `panels` (a range of NR-column panels) for all M rows, in k-blocks of `kc` so a panel's block
/// stays in L1 while every row block sweeps it: MR-row tiles, then one tile of the remaining rows. The tiles of a
/// k-block share out the prefetching of the next one.
@inlinable @inline(__always)
package func packedGemmBody<I: KernelISA>(_: I.Type, _ g: GemmOperands<Float>, panels: Range<Int>) {
    typealias V = I.V
    let kc = I.kc, mr = I.tileRows
    let w = V.scalarCount, nr = 2 * w
    let activation = g.epilogue.activation
    for p in panels {
        let col0 = p * nr
        let columns = min(nr, g.n - col0)
        guard columns > 0 else { continue }
        var bias0 = V(), bias1 = V()
        if let bias = g.bias { (bias0, bias1) = loadPair(bias + col0, count: columns) }
        let panel = g.packed + p * g.k * nr
        let tiles = (g.m + mr - 1) / mr
        var k0 = 0
        repeat {
            let kl = min(kc, g.k - k0)
            let load = k0 > 0 || g.epilogue.accumulates
            let finish = k0 + kl >= g.k
            let b = panel + k0 * nr
            // The next k-block (of this panel, or the next panel's first) follows this one in memory.
            let next = UnsafeRawPointer(b + kl * nr)
            let linesPerTile = g.prefetch ? (kc * nr * 4 / 64 + tiles - 1) / tiles : 0
            let tile = GemmTile<I>(
                steps: TileSteps(a: UnsafeRawPointer(g.a + k0 * mr), b: UnsafeRawPointer(b), count: kl,
                                 prefetch: PrefetchSlice(start: next, lines: linesPerTile, trips: kl / GemmTile<I>.unroll),
                                 rowBlockBytes: g.k * mr * MemoryLayout<Float>.size, prefetchStride: linesPerTile * 64),
                c: g.c + col0, ldc: g.ldc, columns: columns, load: load, finish: finish, bias0: bias0, bias1: bias1,
                activation: activation)
            tile.runTiles(rows: mr, count: g.m / mr, rest: g.m % mr)
            k0 += kl
        } while k0 < g.k
    }
}
