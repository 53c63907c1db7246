// A linear weight quantized to int8 per output column, re-laid out once at load for the int8 GEMM.
// q: (N, K) int8 [out, in], scales: (N) -> ⌈N/NR⌉ panels of (G, NR, 4) bytes, G = ⌈K/4⌉ k-groups, or in the paired
// layout (G/2 steps, 2 halves, 2 groups, NR/2, 4) bytes with G rounded up to even; plus per-column scales and Σ_k q.

import TensorSIMD

/// How an int8 weight's panels are laid out for the int8 GEMM.
///
/// The loader picks it (see `LoadOptions.fullInt8Precision`); a model's compute tells whether the vision tower pairs:
/// ```swift
/// let compute = try Compute(backend: .automatic)
/// let layout: Int8WeightLayout = compute.pairsVisionInt8Weights ? .pairs : .quads
/// print(layout, layout.largestWeight)   // pairs 64 on AVX2 without VNNI
/// ```
public enum Int8WeightLayout: String, Sendable {
    /// One k-group of 4 bytes per column after another: the checkpoint's 8-bit weights as they are.
    case quads
    /// Two k-groups per kernel step, for tiers whose dot product then needs one widening instead of two
    /// (``TensorSIMD/ISA/pairsInt8Weights``: AVX2, where the int8 GEMM ran 0.97–1.21×, median 1.09×, as fast on
    /// ViT-B/32's shapes in `clip-bench --matmul`). Every column whose largest |q|
    /// is above 64 is requantized to ±64 at load (`q' = round(q · 64 / max|q|)`, ties to even, scale ·
    /// max|q| / 64), so the 16-bit sums of two groups cannot overflow: about 7 bits of weight precision instead
    /// of 8 (see the README's int8 accuracy table).
    case pairs

    /// The largest |q| the layout keeps: 127, or 64 for ``pairs``.
    public var largestWeight: Int { self == .pairs ? Int(int8PairWeightLimit) : 127 }
}

/// An int8 weight (`w ≈ scale[n] · q[n][k]`) packed for the int8 GEMM of the kernel table it was built for.
///
/// In a panel, the 4 weights of a k-group for one column are adjacent bytes, as `vpdpbusd` and
/// `vpmaddubsw`/`vpmaddwd` consume them; K is padded to whole groups with zeros.
public final class QuantizedWeight: @unchecked Sendable {
    /// Output features N: the rows of the source `[out, in]` weight (one scale each).
    public let outFeatures: Int
    /// Input features K: the columns of the source `[out, in]` weight, before padding to whole groups of 4.
    public let inFeatures: Int
    /// Output columns per panel (the float kernels' panel width).
    public let panelWidth: Int
    /// ⌈inFeatures / 4⌉, rounded up to even in the paired layout.
    public let groups: Int
    /// The panel layout (and whether the weights were requantized to ±64).
    public let layout: Int8WeightLayout
    /// ⌈outFeatures / panelWidth⌉
    public let panels: Int
    package let data: UnsafePointer<UInt8>
    /// Per column, zero-padded to whole panels.
    package let scales: UnsafePointer<Float>
    package let columnSums: UnsafePointer<Int32>
    /// Keeps borrowed storage alive (a mapped prepared-weights cache); nil when the three buffers are owned.
    private let owner: AnyObject?

    /// Packs `q` (`outFeatures × inFeatures`, row-major) with one scale per output column, in `layout` (requantizing
    /// to ±64 for ``Int8WeightLayout/pairs``).
    package init(packing q: UnsafePointer<Int8>, scales: UnsafePointer<Float>, outFeatures n: Int, inFeatures k: Int,
                 panelWidth nr: Int, layout: Int8WeightLayout = .quads, pool: WorkerPool) {
        outFeatures = n
        inFeatures = k
        panelWidth = nr
        self.layout = layout
        groups = Self.groups(inFeatures: k, layout: layout)
        panels = panelCount(n, panelWidth: nr)
        let groups = self.groups, panels = self.panels
        let panelBytes = groups * nr * 4
        let paired = layout == .pairs, half = nr / 2
        let storage = UnsafeMutablePointer<UInt8>.allocate(capacity: max(panels * panelBytes, 1))
        let paddedScales = UnsafeMutablePointer<Float>.allocate(capacity: max(panels * nr, 1))
        paddedScales.initialize(repeating: 0, count: max(panels * nr, 1))
        paddedScales.update(from: scales, count: n)
        let sum = UnsafeMutablePointer<Int32>.allocate(capacity: max(panels * nr, 1))
        sum.initialize(repeating: 0, count: max(panels * nr, 1))
        // Panels are independent: each part packs whole panels and their columns' sums.
        do {
            let parts = max(1, min(pool.threads * 4, panels))
            pool.run(parts) { part in
                for p in (panels * part / parts)..<(panels * (part + 1) / parts) {
                    let panel = storage + p * panelBytes
                    panel.initialize(repeating: 0, count: panelBytes)
                    for cj in 0..<min(nr, n - p * nr) {
                        let column = p * nr + cj
                        let row = q + column * k
                        // The paired layout's ±64: a column beyond it is rescaled (the one place weights change).
                        var largest: Int32 = 0
                        if paired { for kk in 0..<k { largest = max(largest, abs(Int32(row[kk]))) } }
                        let requantize = largest > int8PairWeightLimit
                        if requantize { paddedScales[column] = scales[column] * Float(largest) / Float(int8PairWeightLimit) }
                        // Where group g's 4 bytes of this column go: g · NR · 4 + cj · 4, or in the paired layout
                        // step g/2 (NR · 8 bytes), then this column's half (2 groups × NR/2 columns × 4), group g % 2.
                        let columnOffset = paired ? (cj / half) * 2 * half * 4 + (cj % half) * 4 : cj * 4
                        var s: Int32 = 0
                        for kk in 0..<k {
                            var v = row[kk]
                            if requantize {
                                v = Int8((Float(v) * Float(int8PairWeightLimit) / Float(largest)).rounded(.toNearestOrEven))
                            }
                            let g = kk / 4
                            let groupOffset = paired ? (g / 2) * nr * 8 + (g % 2) * half * 4 : g * nr * 4
                            panel[groupOffset + columnOffset + kk % 4] = UInt8(bitPattern: v)
                            s &+= Int32(v)
                        }
                        sum[column] = s
                    }
                }
            }
        }
        data = UnsafePointer(storage)
        self.scales = UnsafePointer(paddedScales)
        columnSums = UnsafePointer(sum)
        owner = nil
    }

    /// Wraps packed panels, padded scales and column sums owned by `owner` (a mapped cache file), without copying.
    package init(borrowing data: UnsafePointer<UInt8>, scales: UnsafePointer<Float>, columnSums: UnsafePointer<Int32>,
                 outFeatures: Int, inFeatures: Int, panelWidth: Int, layout: Int8WeightLayout, owner: AnyObject) {
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.panelWidth = panelWidth
        self.layout = layout
        groups = Self.groups(inFeatures: inFeatures, layout: layout)
        panels = panelCount(outFeatures, panelWidth: panelWidth)
        self.data = data
        self.scales = scales
        self.columnSums = columnSums
        self.owner = owner
    }

    /// k-groups of 4 for `k` input features: ⌈k/4⌉, rounded up to even for the paired layout.
    package static func groups(inFeatures k: Int, layout: Int8WeightLayout) -> Int {
        let g = (k + 3) / 4
        return layout == .pairs ? (g + 1) / 2 * 2 : g
    }

    /// Bytes of one panel.
    package var panelBytes: Int { groups * panelWidth * 4 }

    /// Bytes of all panels; floats (or int32s) in the padded per-column arrays.
    package var panelsByteCount: Int { panels * panelBytes }
    package var paddedColumns: Int { panels * panelWidth }

    deinit {
        if owner == nil {
            data.deallocate()
            scales.deallocate()
            columnSums.deallocate()
        }
    }
}
