// A linear weight quantized to int8 per output column, re-laid out once at load for the int8 GEMM.
// q: (N, K) int8 [out, in], scales: (N) -> ⌈N/NR⌉ panels of (⌈K/4⌉, NR, 4) bytes, plus per-column scales and Σ_k q.

import TensorSIMD

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
    /// ⌈inFeatures / 4⌉
    public let groups: Int
    /// ⌈outFeatures / panelWidth⌉
    public let panels: Int
    package let data: UnsafePointer<UInt8>
    /// Per column, zero-padded to whole panels.
    package let scales: UnsafePointer<Float>
    package let columnSums: UnsafePointer<Int32>
    /// Keeps borrowed storage alive (a mapped prepared-weights cache); nil when the three buffers are owned.
    private let owner: AnyObject?

    /// Packs `q` (`outFeatures × inFeatures`, row-major) with one scale per output column.
    package init(packing q: UnsafePointer<Int8>, scales: UnsafePointer<Float>, outFeatures n: Int, inFeatures k: Int,
                 panelWidth nr: Int, pool: WorkerPool) {
        outFeatures = n
        inFeatures = k
        panelWidth = nr
        groups = (k + 3) / 4
        panels = panelCount(n, panelWidth: nr)
        let groups = self.groups, panels = self.panels
        let panelBytes = groups * nr * 4
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
                        let row = q + (p * nr + cj) * k
                        var s: Int32 = 0
                        var out = panel + cj * 4
                        var kk = 0
                        while kk < k {
                            for t in 0..<min(4, k - kk) {
                                let v = row[kk + t]
                                out[t] = UInt8(bitPattern: v)
                                s &+= Int32(v)
                            }
                            out += nr * 4
                            kk += 4
                        }
                        sum[p * nr + cj] = s
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
                 outFeatures: Int, inFeatures: Int, panelWidth: Int, owner: AnyObject) {
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.panelWidth = panelWidth
        groups = (inFeatures + 3) / 4
        panels = panelCount(outFeatures, panelWidth: panelWidth)
        self.data = data
        self.scales = scales
        self.columnSums = columnSums
        self.owner = owner
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
