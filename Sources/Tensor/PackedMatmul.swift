// A linear weight re-laid out once at load into the packed GEMM's panels of NR output columns.
// w: (N, K) HF [out, in] -> ⌈N/NR⌉ panels of (K, NR): panel p holds w[NR·p + j][k] at (p·K + k)·NR + j.

import TensorSIMD

/// A weight matrix packed into panels for the packed backends (NR = the kernel table's panel width).
///
/// The storage is owned (packed at load) or borrowed from a memory-mapped prepared-weights cache.
public final class PackedWeight: @unchecked Sendable {
    /// Output features N: the rows of the source `[out, in]` weight.
    public let outFeatures: Int
    /// Input features K: the columns of the source `[out, in]` weight.
    public let inFeatures: Int
    /// Output columns per panel.
    public let panelWidth: Int
    /// ⌈outFeatures / panelWidth⌉
    public let panels: Int
    /// `panels · inFeatures · panelWidth` floats, read-only after init.
    package let data: UnsafePointer<Float>
    /// Keeps borrowed storage alive; nil when `data` is owned.
    private let owner: AnyObject?

    /// Packs `w` (`outFeatures × inFeatures`, row-major), splitting the panels over `pool`'s threads.
    package init(packing w: UnsafePointer<Float>, outFeatures n: Int, inFeatures k: Int, panelWidth nr: Int,
                 pool: WorkerPool) {
        outFeatures = n
        inFeatures = k
        panelWidth = nr
        panels = panelCount(n, panelWidth: nr)
        let dst = UnsafeMutablePointer<Float>.allocate(capacity: max(PackedWeight.count(n, k, nr), 1))
        let parts = min(pool.threads, panels)
        let panels = self.panels
        pool.run(parts) { part in
            packPanels(w, n: n, k: k, rowStride: k, colStride: 1, panelWidth: nr, into: dst,
                       panels: (panels * part / parts)..<(panels * (part + 1) / parts))
        }
        data = UnsafePointer(dst)
        owner = nil
    }

    /// Wraps already packed panels owned by `owner` (a mapped cache file), without copying.
    package init(borrowing data: UnsafePointer<Float>, outFeatures: Int, inFeatures: Int, panelWidth: Int, owner: AnyObject) {
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.panelWidth = panelWidth
        panels = panelCount(outFeatures, panelWidth: panelWidth)
        self.data = data
        self.owner = owner
    }

    /// Floats in the packed layout of an `(n, k)` weight with panel width `nr`.
    package static func count(_ n: Int, _ k: Int, _ nr: Int) -> Int { panelCount(n, panelWidth: nr) * k * nr }

    deinit {
        if owner == nil { UnsafeMutablePointer(mutating: data).deallocate() }
    }
}
