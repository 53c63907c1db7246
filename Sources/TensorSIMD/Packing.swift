// Re-layout of matrices for the packed GEMM: weights into panels of NR columns (at load; per head for attention's
// K and V), and x into blocks of MR (6, or 12 with AVX-512) interleaved rows (per call), so the kernel reads both
// sequentially.
// src element (j, kk) at src[j·rowStride + kk·colStride], j < n output columns, kk < k -> dst panel p holds
// (k, NR): dst[(p·k + kk)·NR + jj] = src(p·NR + jj, kk), zero past n.

/// Packs the panels in `panels` (a sub-range, so callers can split the work over threads).
@inlinable
package func packPanels(
    _ src: UnsafePointer<Float>, n: Int, k: Int, rowStride: Int, colStride: Int, panelWidth nr: Int,
    into dst: UnsafeMutablePointer<Float>, panels: Range<Int>
) {
    for p in panels {
        let base = dst + p * k * nr
        let cols = max(0, min(nr, n - p * nr))
        let first = src + p * nr * rowStride
        if cols < nr { base.initialize(repeating: 0, count: k * nr) }
        if colStride == 1 {
            // Weights: each source row is contiguous in kk; writes stay contiguous within a panel.
            for kk in 0..<k {
                let out = base + kk * nr
                for j in 0..<cols { out[j] = first[j * rowStride + kk] }
            }
        } else {
            for kk in 0..<k {
                let out = base + kk * nr
                let from = first + kk * colStride
                for j in 0..<cols { out[j] = from[j * rowStride] }
            }
        }
    }
}

/// Packs the rows of `x` (M, K), rows strided by `lda`, into ⌈M/MR⌉ blocks of (K, MR), MR = `blockRows`: block b
/// holds `x[MR·b + r][kk]` at `(b·K + kk)·MR + r`, zero past M. Interleaving keeps the rows the kernel broadcasts
/// at one k-step together in cache.
@inlinable
package func packRowBlocks(_ x: UnsafePointer<Float>, lda: Int, m: Int, k: Int, blockRows mr: Int,
                           into dst: UnsafeMutablePointer<Float>, blocks: Range<Int>) {
    for b in blocks {
        let base = dst + b * k * mr
        let rows = min(mr, m - b * mr)
        if rows < mr { base.initialize(repeating: 0, count: k * mr) }
        for r in 0..<rows {
            let src = x + (b * mr + r) * lda
            var out = base + r
            for kk in 0..<k {
                out.pointee = src[kk]
                out += mr
            }
        }
    }
}

/// Floats in the row-block layout of an (m, k) matrix with `blockRows` rows per block.
@inlinable
package func rowBlocksCount(_ m: Int, _ k: Int, blockRows mr: Int) -> Int { (m + mr - 1) / mr * mr * k }

/// The number of panels for `n` columns.
@inlinable
package func panelCount(_ n: Int, panelWidth: Int) -> Int { (n + panelWidth - 1) / panelWidth }
