// The kernels and threads a model computes with, resolved once at load: every layer calls its operations.
// linear: x (M, K) · W (N, K)ᵀ + b -> (M, N); attention over a fused q|k|v (N, 3C) -> (N, C); layer norm; etc.

import CBLAS
import TensorSIMD
#if canImport(TensorAVX2)
import TensorAVX2
#endif
#if canImport(TensorAVX512)
import TensorAVX512
#endif

/// A linear layer's weight as the backend stores it.
public enum MatmulWeight: Sendable {
    /// `[out, in]` as in the checkpoint (the BLAS backends).
    case dense(Parameter)
    /// Packed into panels at load (the packed backends).
    case packed(PackedWeight)
    /// Quantized to int8 per output column (an int8 checkpoint), for the int8 GEMM.
    case int8(QuantizedWeight)

    /// `(out, in)`.
    public var shape: (outFeatures: Int, inFeatures: Int) {
        switch self {
        case .dense(let p): return (p.shape[0], p.count / max(p.shape[0], 1))
        case .packed(let p): return (p.outFeatures, p.inFeatures)
        case .int8(let q): return (q.outFeatures, q.inFeatures)
        }
    }
}

extension ComputeBackend {
    /// The entry point of this backend's ISA tier where this build has it (the AVX tiers exist on x86-64 only); nil
    /// for the other backends, which use the baseline kernels.
    var tierKernels: (() -> KernelTable)? {
        switch self {
        #if canImport(TensorAVX512)
        case .avx512: return AVX512.kernels
        #endif
        #if canImport(TensorAVX2)
        case .avx2: return AVX2.kernels
        #endif
        default: return nil
        }
    }
}

/// How a model computes: a resolved ``ComputeBackend``, its kernels, and a thread pool.
///
/// Built once per model load from its options. OpenBLAS's thread count is process-wide, and this is the only
/// place that sets it: the thread count for ``ComputeBackend/blas``, else 1 (our threads split the work).
/// ```swift
/// let compute = try Compute(backend: .automatic, threads: 2)
/// print(compute.backend)   // avx512
/// ```
public final class Compute: Sendable {
    /// The resolved backend (never ``ComputeBackend/automatic``).
    public let backend: ComputeBackend
    /// Threads per operation, the caller included.
    public let threads: Int
    package let kernels: KernelTable
    package let pool: WorkerPool
    /// Whether the vision tower's int8 weights use the paired layout (``Int8WeightLayout/pairs``): where the kernels
    /// gain from it, unless `fullInt8Precision` was asked for.
    /// ```swift
    /// let compute = try Compute(backend: .avx2, fullInt8Precision: false)
    /// print(compute.pairsVisionInt8Weights)   // true: AVX2 pairs k-groups
    /// ```
    public let pairsVisionInt8Weights: Bool
    /// Reusable buffers for per-call packing (large batches would otherwise page-fault fresh memory every call).
    private let scratch = Mutex<[ScratchBuffer]>([])

    /// Resolves `backend` for this CPU and sets up `threads` threads (default: the active cores).
    /// `fullInt8Precision` keeps every int8 weight's 8 bits (see ``pairsVisionInt8Weights``).
    ///
    /// - Throws: ``ComputeError`` when the backend is not available here or `threads` is below 1.
    public init(backend: ComputeBackend = .automatic, threads: Int? = nil, fullInt8Precision: Bool = false) throws {
        let resolved = try backend.resolved()
        let n = threads ?? ProcessInfo.activeCores
        guard n >= 1 else { throw ComputeError.invalidThreads(n) }
        self.backend = resolved
        self.threads = n
        kernels = Compute.kernels(for: resolved)
        pairsVisionInt8Weights = !fullInt8Precision && kernels.isa.pairsInt8Weights
        pool = WorkerPool.shared(threads: n)
        openblas_set_num_threads(Int32(resolved == .blas ? n : 1))
        Compute.openBLASThreads.withLock { threads in
            if resolved == .blas {
                threads = .inUse
            } else if threads == .started {
                threads = Compute.stopIdleOpenBLASThreads() ? .stopped : .inUse
            }
        }
    }

    /// OpenBLAS's threads: as the library started them, joined by ``stopIdleOpenBLASThreads()``, or left alone for
    /// good (a ``ComputeBackend/blas`` instance exists, which may be running parallel work on them).
    private enum OpenBLASThreads { case started, stopped, inUse }
    private static let openBLASThreads = Mutex(OpenBLASThreads.started)

    /// OpenBLAS starts its threads when the library loads, and each spins (`sched_yield`) for about 2²⁸ cycles
    /// waiting for work: ~0.1 s of one core, during the start-up of a process whose backend never hands OpenBLAS
    /// parallel work (measured with `perf`: 80 ms of CPU in a 0.27 s start → first result). Joining them leaves
    /// OpenBLAS single-threaded, which is what every backend but ``ComputeBackend/blas`` sets; OpenBLAS restarts its
    /// threads itself if a later call asks for more. Looked up at run time: not every OpenBLAS build exports it.
    private static func stopIdleOpenBLASThreads() -> Bool {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "blas_thread_shutdown_") else { return false }
        typealias Shutdown = @convention(c) () -> Int32
        return unsafeBitCast(symbol, to: Shutdown.self)() == 0
    }

    /// The kernel table of a resolved backend: its ISA tier for the packed backends, the baseline otherwise.
    private static func kernels(for backend: ComputeBackend) -> KernelTable {
        backend.tierKernels?() ?? Kernels<Portable>.table()
    }

    /// Whether linear weights are packed into panels (else used densely by OpenBLAS).
    public var packsWeights: Bool { backend != .blas && backend != .blasSplit }

    // MARK: Load time

    /// Prepares a `[out, in]` weight for this backend: packed into panels, or kept dense for BLAS.
    package func prepare(_ weight: Parameter) -> MatmulWeight {
        guard packsWeights else { return .dense(weight) }
        return .packed(PackedWeight(packing: weight.pointer, outFeatures: weight.shape[0],
                                    inFeatures: weight.count / max(weight.shape[0], 1), panelWidth: kernels.panelWidth,
                                    pool: pool))
    }

    /// Packs an int8 `[out, in]` weight and its per-row scales for this backend's int8 GEMM.
    package func prepareQuantized(_ q: UnsafePointer<Int8>, scales: UnsafePointer<Float>, outFeatures: Int,
                                  inFeatures: Int, layout: Int8WeightLayout = .quads) -> MatmulWeight {
        .int8(QuantizedWeight(packing: q, scales: scales, outFeatures: outFeatures, inFeatures: inFeatures,
                              panelWidth: kernels.panelWidth, layout: layout, pool: pool))
    }

    // MARK: Operations

    /// `out = epilogue(x · Wᵀ + b)` for `rows` rows; ``GemmEpilogue/accumulate`` adds to `out` (the residual).
    package func linear(_ x: UnsafePointer<Float>, rows: Int, weight: MatmulWeight, bias: UnsafePointer<Float>?,
                        out: UnsafeMutablePointer<Float>, epilogue: GemmEpilogue = .store) {
        let (n, k) = weight.shape
        guard rows > 0, n > 0 else { return }
        switch weight {
        case .packed(let w):
            let mr = kernels.tileRows
            withScratch(rowBlocksCount(rows, k, blockRows: mr)) { a in
                // x into blocks of MR interleaved rows, then the panels split over the threads
                let blocks = (rows + mr - 1) / mr
                let packParts = rows * k >= 1 << 16 ? min(4 * threads, blocks) : 1
                pool.run(packParts) { part in
                    packRowBlocks(x, lda: k, m: rows, k: k, blockRows: mr, into: a,
                                  blocks: (blocks * part / packParts)..<(blocks * (part + 1) / packParts))
                }
                // Shrinking runs of panels claimed dynamically: a slower core does less of the work, and the
                // threads finish together.
                let parts = pool.guidedRanges(w.panels)
                let g = GemmOperands(a: a, m: rows, packed: w.data, k: k, n: n, c: out, ldc: n, bias: bias,
                                     epilogue: epilogue)
                let gemm = kernels.gemm
                pool.run(parts.count) { part in gemm(g, parts[part]) }
            }
        case .int8(let w):
            linearInt8(x, rows: rows, weight: w, bias: bias, out: out, epilogue: epilogue)
        case .dense(let w):
            // OpenBLAS, then the epilogue as separate passes.
            let target = epilogue == .accumulate ? UnsafeMutablePointer<Float>.allocate(capacity: rows * n) : out
            defer { if target != out { target.deallocate() } }
            if backend == .blas {
                blasGemm(transA: false, transB: true, m: rows, n: n, k: k, alpha: 1, a: x, lda: k, b: w.pointer, ldb: k,
                         beta: 0, c: target, ldc: n)
            } else {
                let blocks = max(1, min(threads, n / 16))
                pool.run(blocks) { part in
                    // 16-aligned column ranges
                    let n0 = (n * part / blocks) & ~15, n1 = part == blocks - 1 ? n : (n * (part + 1) / blocks) & ~15
                    guard n1 > n0 else { return }
                    blasGemm(transA: false, transB: true, m: rows, n: n1 - n0, k: k, alpha: 1, a: x, lda: k,
                             b: w.pointer + n0 * k, ldb: k, beta: 0, c: target + n0, ldc: n)
                }
            }
            for r in 0..<rows {
                let row = target + r * n
                if let bias { addInPlace(row, bias, count: n) }
                if epilogue == .accumulate { addInPlace(out + r * n, row, count: n) }
            }
            if case .activation(let kind) = epilogue { kernels.pointwise(.activation(kind), target, rows * n) }
        }
    }

    /// The int8 path of ``linear(_:rows:weight:bias:out:epilogue:)``: x is quantized per row, then the int8 GEMM
    /// runs over the panels with the dequantisation, bias and epilogue fused.
    private func linearInt8(_ x: UnsafePointer<Float>, rows: Int, weight w: QuantizedWeight, bias: UnsafePointer<Float>?,
                            out: UnsafeMutablePointer<Float>, epilogue: GemmEpilogue) {
        let n = w.outFeatures, k = w.inFeatures, nr = w.panelWidth, mr = int8TileRows
        let blocks = (rows + mr - 1) / mr
        let blockFloats = blocks * w.groups * mr   // bytes / 4
        withScratch(blockFloats + rows + w.panels * nr) { scratch in
            let a = UnsafeMutableRawPointer(scratch).assumingMemoryBound(to: UInt8.self)
            let rowScales = scratch + blockFloats
            let paddedBias = rowScales + rows
            if let bias {
                paddedBias.update(from: bias, count: n)
                (paddedBias + n).update(repeating: 0, count: w.panels * nr - n)
            }
            let quantize = kernels.quantizeRows
            let packParts = rows * k >= 1 << 16 ? min(4 * threads, blocks) : 1
            pool.run(packParts) { part in
                let b0 = blocks * part / packParts, b1 = blocks * (part + 1) / packParts
                quantize(x, k, rows, k, w.groups, a, rowScales, (b0 * mr)..<(b1 * mr))
            }
            let g = Int8GemmOperands(
                a: a, rowScales: rowScales, m: rows, packed: w.data, groups: w.groups, n: n, columnScales: w.scales,
                columnSums: w.columnSums, paired: w.layout == .pairs, c: out, ldc: n, bias: bias == nil ? nil : UnsafePointer(paddedBias),
                epilogue: epilogue)
            let gemm = kernels.int8Gemm
            let parts = pool.guidedRanges(w.panels)
            pool.run(parts.count) { part in gemm(g, parts[part]) }
        }
    }

    /// `out = LayerNorm(x)` over `rows` rows of `cols`, split over the threads when there are many rows.
    package func layerNorm(_ x: UnsafePointer<Float>, rows: Int, cols: Int, gamma: UnsafePointer<Float>,
                           beta: UnsafePointer<Float>, eps: Float, out: UnsafeMutablePointer<Float>) {
        let parts = rows * cols >= 1 << 16 ? min(2 * threads, rows) : 1
        let layerNorm = kernels.layerNorm
        pool.run(parts) { part in
            let r0 = rows * part / parts, r1 = rows * (part + 1) / parts
            layerNorm(x + r0 * cols, r1 - r0, cols, gamma, beta, eps, out + r0 * cols)
        }
    }

    /// Scaled dot-product attention, `softmax(scale · q kᵀ [causal]) v` per sequence and head, spread over the
    /// threads. `qkv` holds each token's q | k | v (N, 3C); heads are C / headDim wide; `out` is (N, C).
    package func attention(_ qkv: UnsafePointer<Float>, sequences: [Range<Int>], heads: Int, headDim d: Int,
                           scale: Float, causal: Bool, out: UnsafeMutablePointer<Float>) {
        let c = heads * d
        let tasks = sequences.filter { !$0.isEmpty }.flatMap { seq in (0..<heads).map { (seq, $0) } }
        guard !tasks.isEmpty else { return }
        let maxLen = sequences.map(\.count).max() ?? 0
        let perPart = attentionScratchCount(length: maxLen, headDim: d)
        let kernels = self.kernels
        let slots = min(threads, tasks.count)
        withScratch(perPart * slots) { scratch in
            // One part per head; a part borrows one of the scratch slots (one per thread) while it runs.
            let slotOwner = ScratchSlots(slots)
            pool.run(tasks.count) { t in
                let slot = slotOwner.acquire()
                defer { slotOwner.release(slot) }
                let (seq, head) = tasks[t]
                let q = qkv + seq.lowerBound * 3 * c + head * d
                kernels.attention(AttentionOperands(
                    q: q, k: q + c, v: q + 2 * c, stride: 3 * c, length: seq.count, headDim: d, scale: scale,
                    causal: causal, out: out + seq.lowerBound * c + head * d, outStride: c,
                    scratch: scratch + slot * perPart))
            }
        }
    }

    /// Causal attention for sequences that begin with the same `prefix` tokens, stored once.
    ///
    /// `qkv` rows `0..<prefix` are the shared tokens; `suffixes` are the row ranges of each sequence's remaining
    /// tokens (rows at or after `prefix`). Under a causal mask the shared rows attend only to each other, so their
    /// values are the same in every sequence and the caller computes them once. Here each sequence is gathered whole
    /// (prefix + suffix) into scratch, attended as usual, and its rows are scattered back to `out` (N, C): the prefix
    /// rows from the first sequence, then each suffix.
    package func attention(_ qkv: UnsafePointer<Float>, sharedPrefix p: Int, suffixes: [Range<Int>], heads: Int,
                           headDim d: Int, scale: Float, out: UnsafeMutablePointer<Float>) {
        let c = heads * d
        guard p > 0, !suffixes.isEmpty else {
            attention(qkv, sequences: p > 0 ? [0..<p] : suffixes, heads: heads, headDim: d, scale: scale, causal: true, out: out)
            return
        }
        // Expanded layout: sequence b occupies rows starts[b] ..< starts[b] + p + suffixes[b].count.
        var starts: [Int] = []
        var rows = 0
        for s in suffixes { starts.append(rows); rows += p + s.count }
        let whole = zip(starts, suffixes).map { $0..<($0 + p + $1.count) }
        withScratch(rows * 4 * c) { gathered in
            let context = gathered + rows * 3 * c
            for (b, s) in suffixes.enumerated() {
                let dst = gathered + starts[b] * 3 * c
                dst.update(from: qkv, count: p * 3 * c)
                (dst + p * 3 * c).update(from: qkv + s.lowerBound * 3 * c, count: s.count * 3 * c)
            }
            attention(gathered, sequences: whole, heads: heads, headDim: d, scale: scale, causal: true, out: context)
            out.update(from: context, count: p * c)
            for (b, s) in suffixes.enumerated() {
                (out + s.lowerBound * c).update(from: context + (starts[b] + p) * c, count: s.count * c)
            }
        }
    }

    /// Runs `body` with at least `count` floats of scratch memory, reused across calls.
    package func withScratch<T>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> T) -> T {
        let buffer = scratch.withLock { list -> ScratchBuffer? in
            guard let i = list.firstIndex(where: { $0.capacity >= count }) else { return nil }
            return list.remove(at: i)
        } ?? ScratchBuffer(capacity: count)
        defer { scratch.withLock { list in if list.count < 8 { list.append(buffer) } } }
        return body(buffer.pointer)
    }

    /// Runs `body(part)` for `part` in `0..<parts` on the pool's threads (disjoint writes only).
    package func parallel(_ parts: Int, _ body: (Int) -> Void) {
        pool.run(parts, body)
    }

    /// `out[i] = rows[i] · query` for `count` half-float rows of length `dimension` (the search scan), in
    /// contiguous slices across the threads.
    package func halfDot(query: UnsafePointer<Float>, rows: UnsafePointer<UInt16>, count n: Int, dimension d: Int,
                         out: UnsafeMutablePointer<Float>) {
        let dot = kernels.halfDot
        let parts = max(1, min(threads, n / 4096))
        pool.run(parts) { p in
            let lo = n * p / parts, hi = n * (p + 1) / parts
            dot(query, rows + lo * d, hi - lo, d, out + lo)
        }
    }
}

/// Which of a job's scratch slots are free: a part takes one while it runs (at most one part runs per thread).
private final class ScratchSlots: Sendable {
    private let free: Mutex<[Int]>
    init(_ count: Int) { free = Mutex(Array(0..<count)) }
    func acquire() -> Int { free.withLock { $0.popLast() ?? 0 } }
    func release(_ slot: Int) { free.withLock { $0.append(slot) } }
}

/// A heap block of floats owned by ``Compute``'s scratch list.
private final class ScratchBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let capacity: Int
    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        pointer = .allocate(capacity: self.capacity)
    }
    deinit { pointer.deallocate() }
}

extension ProcessInfo {
    /// The number of cores this process may use.
    package static var activeCores: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }
}

import Foundation
import Synchronization
