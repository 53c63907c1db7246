// A second matmul backend: weights packed once at load into 16-column panels, and a 6×16 SIMD micro-kernel.
// x: (M, K), packed w: (N, K) as ⌈N/16⌉ panels of (K, 16) -> y: (M, N) = x·wᵀ + b.
// OpenBLAS repacks the weight on every call, which caps it at small M (batch-1 ViT has M = 50); packing once
// removes that cost. With an FMA build (`-Xswiftc -target-cpu -Xswiftc native`) the FMA kernel wins;
// `MatmulBackend.selected` picks the fastest of BLAS and the two kernels by measurement.

import Foundation

/// A weight matrix `[N, K]` (HF `[out, in]`) re-laid out as panels of 16 output columns: panel p holds
/// `w[16p + j][k]` at `(p·K + k)·16 + j`, zero-padded past N.
///
/// ```swift
/// let packed = PackedWeight(w, outFeatures: 3072, inFeatures: 768)
/// packedLinear(x, rows: 50, packed: packed, bias: b, out: y, kernel: .fma)
/// ```
public final class PackedWeight: @unchecked Sendable {
    public static let panelWidth = 16
    public let outFeatures: Int
    public let inFeatures: Int
    public let panels: Int
    /// Read-only after init.
    public let data: UnsafeMutablePointer<Float>

    /// Packs `w` (`outFeatures × inFeatures`, row-major).
    public init(_ w: UnsafePointer<Float>, outFeatures n: Int, inFeatures k: Int) {
        outFeatures = n
        inFeatures = k
        panels = (n + 15) / 16
        let count = max(panels * k * 16, 1)
        data = .allocate(capacity: count)
        // Only a partial last panel has padding columns to clear; every other float is written below.
        if n % 16 != 0 { (data + (panels - 1) * k * 16).initialize(repeating: 0, count: k * 16) }
        // Panels are independent: split them over the compute threads (packing is most of the weight-loading
        // time at start-up). Within a panel, kk outer and the 16 rows inner, so writes are contiguous.
        let dst = UncheckedSendable(value: data)
        let parts = min(ComputeThreads.count, panels)
        parallelFor(parts) { part in
            for p in stride(from: part, to: panels, by: parts) {
                let base = dst.value + p * k * 16
                let rows = min(16, n - p * 16)
                let first = w + p * 16 * k
                for kk in 0..<k {
                    let out = base + kk * 16
                    for j in 0..<rows { out[j] = first[j * k + kk] }
                }
            }
        }
    }

    deinit { data.deallocate() }
}

/// Which inner loop the packed backend uses.
public enum PackedKernel: String, Sendable, CaseIterable {
    /// `acc = acc.addingProduct(a, b)`: one fused instruction with an FMA target, a libm call per lane without.
    case fma
    /// `acc += a * b`: correct and reasonably fast on any target.
    case mulAdd = "muladd"
}

/// `y = x · wᵀ + b` with a packed weight, splitting the panels over `threads` threads.
///
/// ```swift
/// packedLinear(x, rows: 50, packed: packed, bias: nil, out: y, kernel: .mulAdd)
/// ```
public func packedLinear(
    _ x: UnsafePointer<Float>, rows m: Int, packed w: PackedWeight, bias: UnsafePointer<Float>?,
    out: UnsafeMutablePointer<Float>, kernel: PackedKernel, threads: Int = ComputeThreads.count
) {
    let panels = w.panels
    let t = max(1, min(threads, panels))
    // Each thread takes a contiguous range of panels; every panel is swept over all rows while it is hot in cache.
    let body: (Int) -> Void = { part in
        let p0 = panels * part / t, p1 = panels * (part + 1) / t
        for p in p0..<p1 {
            var i = 0
            switch kernel {
            case .fma:
                while i + 6 <= m { kernel6x16FMA(x + i * w.inFeatures, w, panel: p, out: out, row: i, bias: bias); i += 6 }
                while i < m { kernel1x16(FusedMultiplyAdd.self, x + i * w.inFeatures, w, panel: p, out: out, row: i, bias: bias); i += 1 }
            case .mulAdd:
                while i + 6 <= m { kernel6x16MulAdd(x + i * w.inFeatures, w, panel: p, out: out, row: i, bias: bias); i += 6 }
                while i < m { kernel1x16(MultiplyThenAdd.self, x + i * w.inFeatures, w, panel: p, out: out, row: i, bias: bias); i += 1 }
            }
        }
    }
    parallelFor(t, body)
}

@inline(__always)
func storePanel(_ acc: SIMD8<Float>, _ acc2: SIMD8<Float>, _ w: PackedWeight, panel p: Int,
                out: UnsafeMutablePointer<Float>, row: Int, bias: UnsafePointer<Float>?) {
    let n = w.outFeatures
    let c0 = p * 16
    let dst = out + row * n + c0
    let valid = min(16, n - c0)
    if valid == 16 {
        var lo = acc, hi = acc2
        if let bias {
            lo += SIMD8<Float>(UnsafeBufferPointer(start: bias + c0, count: 8))
            hi += SIMD8<Float>(UnsafeBufferPointer(start: bias + c0 + 8, count: 8))
        }
        UnsafeMutableRawPointer(dst).storeBytes(of: lo, as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(dst + 8).storeBytes(of: hi, as: SIMD8<Float>.self)
    } else {
        for j in 0..<valid {
            dst[j] = (j < 8 ? acc[j] : acc2[j - 8]) + (bias?[c0 + j] ?? 0)
        }
    }
}

@inline(__always)
func loadB(_ b: UnsafePointer<Float>) -> (SIMD8<Float>, SIMD8<Float>) {
    let raw = UnsafeRawPointer(b)
    return (raw.loadUnaligned(as: SIMD8<Float>.self), raw.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
}

/// The multiply-accumulate of a micro-kernel: `acc + a·b`, fused or not.
protocol MultiplyAccumulate {
    static func apply(_ acc: SIMD8<Float>, _ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float>
}

/// One fused instruction with an FMA target; a libm call per lane without one.
enum FusedMultiplyAdd: MultiplyAccumulate {
    @inline(__always)
    static func apply(_ acc: SIMD8<Float>, _ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { acc.addingProduct(a, b) }
}

/// Separate multiply and add: fast on any target.
enum MultiplyThenAdd: MultiplyAccumulate {
    @inline(__always)
    static func apply(_ acc: SIMD8<Float>, _ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { acc + a * b }
}

@inline(never)
func kernel6x16FMA(_ a: UnsafePointer<Float>, _ w: PackedWeight, panel p: Int,
                   out: UnsafeMutablePointer<Float>, row: Int, bias: UnsafePointer<Float>?) {
    kernel6x16(FusedMultiplyAdd.self, a, w, panel: p, out: out, row: row, bias: bias)
}

@inline(never)
func kernel6x16MulAdd(_ a: UnsafePointer<Float>, _ w: PackedWeight, panel p: Int,
                      out: UnsafeMutablePointer<Float>, row: Int, bias: UnsafePointer<Float>?) {
    kernel6x16(MultiplyThenAdd.self, a, w, panel: p, out: out, row: row, bias: bias)
}

/// 6 rows × 16 columns: 12 accumulators stay in registers while one packed panel streams through.
@inline(__always)
func kernel6x16<Op: MultiplyAccumulate>(_ op: Op.Type, _ a: UnsafePointer<Float>, _ w: PackedWeight, panel p: Int,
                                        out: UnsafeMutablePointer<Float>, row: Int, bias: UnsafePointer<Float>?) {
    let k = w.inFeatures
    var b = UnsafePointer(w.data + p * k * 16)
    let a0 = a, a1 = a + k, a2 = a + 2 * k, a3 = a + 3 * k, a4 = a + 4 * k, a5 = a + 5 * k
    var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
    var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
    var c40 = SIMD8<Float>(), c41 = SIMD8<Float>(), c50 = SIMD8<Float>(), c51 = SIMD8<Float>()
    for kk in 0..<k {
        let (b0, b1) = loadB(b)
        var s = SIMD8<Float>(repeating: a0[kk]); c00 = Op.apply(c00, s, b0); c01 = Op.apply(c01, s, b1)
        s = SIMD8<Float>(repeating: a1[kk]); c10 = Op.apply(c10, s, b0); c11 = Op.apply(c11, s, b1)
        s = SIMD8<Float>(repeating: a2[kk]); c20 = Op.apply(c20, s, b0); c21 = Op.apply(c21, s, b1)
        s = SIMD8<Float>(repeating: a3[kk]); c30 = Op.apply(c30, s, b0); c31 = Op.apply(c31, s, b1)
        s = SIMD8<Float>(repeating: a4[kk]); c40 = Op.apply(c40, s, b0); c41 = Op.apply(c41, s, b1)
        s = SIMD8<Float>(repeating: a5[kk]); c50 = Op.apply(c50, s, b0); c51 = Op.apply(c51, s, b1)
        b += 16
    }
    storePanel(c00, c01, w, panel: p, out: out, row: row, bias: bias)
    storePanel(c10, c11, w, panel: p, out: out, row: row + 1, bias: bias)
    storePanel(c20, c21, w, panel: p, out: out, row: row + 2, bias: bias)
    storePanel(c30, c31, w, panel: p, out: out, row: row + 3, bias: bias)
    storePanel(c40, c41, w, panel: p, out: out, row: row + 4, bias: bias)
    storePanel(c50, c51, w, panel: p, out: out, row: row + 5, bias: bias)
}

/// 1 row × 16 columns (the rows left over after the 6-row blocks). It accumulates in exactly the order of the
/// 6-row kernel, so a row's result does not depend on which block it falls in (i.e. on the batch size).
@inline(never)
func kernel1x16<Op: MultiplyAccumulate>(_ op: Op.Type, _ a: UnsafePointer<Float>, _ w: PackedWeight, panel p: Int,
                                        out: UnsafeMutablePointer<Float>, row: Int, bias: UnsafePointer<Float>?) {
    let k = w.inFeatures
    var b = UnsafePointer(w.data + p * k * 16)
    var c0 = SIMD8<Float>(), c1 = SIMD8<Float>()
    for kk in 0..<k {
        let (b0, b1) = loadB(b)
        let s = SIMD8<Float>(repeating: a[kk])
        c0 = Op.apply(c0, s, b0)
        c1 = Op.apply(c1, s, b1)
        b += 16
    }
    storePanel(c0, c1, w, panel: p, out: out, row: row, bias: bias)
}

/// The number of threads compute kernels use: `CLIP_THREADS`, else the number of active cores.
public enum ComputeThreads {
    public static let count: Int = {
        if let raw = ProcessInfo.processInfo.environment["CLIP_THREADS"], let n = Int(raw), n > 0 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()
}

/// The matmul implementation used for the model's linear layers.
///
/// ```swift
/// print(MatmulBackend.selected)   // e.g. packed-fma on an FMA build, blas-split on the default build
/// ```
public enum MatmulBackend: Sendable, Equatable, CustomStringConvertible {
    /// OpenBLAS sgemm, threaded by OpenBLAS.
    case blas
    /// Single-threaded OpenBLAS sgemm calls on column blocks, one per compute thread.
    case blasSplit
    case packed(PackedKernel)

    public var description: String {
        switch self {
        case .blas: return "blas"
        case .blasSplit: return "blas-split"
        case .packed(let k): return "packed-\(k.rawValue)"
        }
    }

    /// `CLIP_MATMUL` (`blas`, `blas-split`, `packed-fma`, `packed-muladd`) if set, else the fastest of `blas-split`
    /// and the packed kernels on ViT-B/32-shaped MLP products, measured once per process (``measureFastest(m:k:n:)``).
    public static let selected: MatmulBackend = {
        if let raw = ProcessInfo.processInfo.environment["CLIP_MATMUL"] {
            switch raw {
            case "blas": return .blas
            case "blas-split": setBLASThreads(1); return .blasSplit
            case "packed-fma", "fma": return .packed(.fma)
            case "packed-muladd", "packed", "muladd": return .packed(.mulAdd)
            default: break
            }
        }
        let best = measureFastest()
        setBLASThreads(1)   // our threads do the splitting; avoid oversubscription
        return best
    }()

    /// Times the candidates on MLP-like shapes of a ViT-B/32 layer at batch 1 (50×768·1536 and 50×1536·768: a
    /// wide and a deep product, as fc1 and fc2 are) and returns the fastest.
    ///
    /// Each candidate runs on one thread, interleaved over several rounds, keeping each one's best time: all of
    /// them split work the same way over `ComputeThreads`, so per-core speed decides, and single-threaded
    /// timings are not disturbed by the other core (a busy neighbour, or OpenBLAS workers still spinning after a
    /// threaded call, which made a two-threaded comparison pick BLAS although the packed kernel is twice as fast
    /// in steady state). OpenBLAS's own threading is never faster than the split at these sizes
    /// (`clip-bench --matmul`), so `.blas` is only used when asked for. A tiny probe first rules out kernels that
    /// are far off (the FMA kernel without an FMA target is ~100× slower). Costs about 20–40 ms.
    public static func measureFastest(m: Int = 50, k: Int = 768, n: Int = 1536) -> MatmulBackend {
        let w = (0..<(n * k)).map { Float($0 % 251) * 0.004 - 0.5 }   // values do not affect timing
        let x = Array(w[0..<(m * n)])            // any values will do; reuse the buffer
        var y = [Float](repeating: 0, count: m * n)
        // The same floats viewed as fc1 ([n, k]) and fc2 ([k, n]) weights.
        let shapes = [(k, n), (n, k)]            // (in, out)
        let packed = shapes.map { PackedWeight(w, outFeatures: $0.1, inFeatures: $0.0) }
        let probeWeight = PackedWeight(w, outFeatures: 16, inFeatures: k)
        func elapsed(_ run: () -> Void) -> Double {
            let t = DispatchTime.now().uptimeNanoseconds
            run()
            return Double(DispatchTime.now().uptimeNanoseconds - t)
        }
        let threadsBefore = blasThreads()
        setBLASThreads(1)
        defer { setBLASThreads(threadsBefore) }
        // Probe: one 6×16 block against BLAS on the same product.
        let blasProbe = (0..<3).map { _ in elapsed { linear(x, rows: 6, inFeatures: k, weight: w, outFeatures: 16, bias: nil, out: &y) } }.min() ?? 0
        var candidates: [(MatmulBackend, () -> Void)] = [(.blasSplit, {
            for (inF, outF) in shapes { linear(x, rows: m, inFeatures: inF, weight: w, outFeatures: outF, bias: nil, out: &y) }
        })]
        for kernel in PackedKernel.allCases {
            let probe = (0..<3).map { _ in
                elapsed { packedLinear(x, rows: 6, packed: probeWeight, bias: nil, out: &y, kernel: kernel, threads: 1) }
            }.min() ?? 0
            guard probe <= 8 * blasProbe else { continue }
            candidates.append((.packed(kernel), {
                for p in packed { packedLinear(x, rows: m, packed: p, bias: nil, out: &y, kernel: kernel, threads: 1) }
            }))
        }
        var best = [Double](repeating: .infinity, count: candidates.count)
        for round in 0..<4 {
            for (i, c) in candidates.enumerated() {
                let t = elapsed(c.1)
                if round > 0 { best[i] = min(best[i], t) }   // round 0 warms caches and code
            }
        }
        let results = zip(candidates.map(\.0), best).map { ($0, $1) }
        if ProcessInfo.processInfo.environment["CLIP_MATMUL_DEBUG"] != nil {
            FileHandle.standardError.write(Data((results.map { "\($0.0) \(Int($0.1 / 1000)) µs" }.joined(separator: ", ") + "\n").utf8))
        }
        return results.min { $0.1 < $1.1 }?.0 ?? .blasSplit
    }
}
