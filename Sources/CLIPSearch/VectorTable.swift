// Every stored embedding in one contiguous half-float buffer, scanned with SIMD dot products and a top-k selection.

import Foundation
import Tensor

/// The index's vectors in memory: row `i` is image id `ids[i]`, ids ascending.
struct VectorTable {
    let dimension: Int
    private(set) var ids: [Int64] = []
    private(set) var halves: [UInt16] = []

    var count: Int { ids.count }

    init(dimension: Int) { self.dimension = dimension }

    /// Reads every row (one SELECT, ids ascending) straight into one buffer, then checks lengths and finiteness.
    static func load(_ store: IndexStore) throws -> VectorTable {
        let d = try store.dimension
        var t = VectorTable(dimension: d)
        guard d > 0 else { return t }
        // Capacity from the largest id (a rowid lookup): count(*) would read every page of the table.
        let capacity = try store.maxID()
        var ids = [Int64]()
        ids.reserveCapacity(capacity)
        var halves = [UInt16]()
        halves.reserveCapacity(capacity * d)
        let s = try store.db.prepare("SELECT id, embedding FROM images ORDER BY id")
        while try s.step() {
            let blob = s.blob(1)
            guard blob.count == 2 * d else {
                throw SearchIndexError.invalidVector(path: store.path, image: try store.path(of: s.int(0)),
                                                     reason: "\(blob.count) bytes, expected \(2 * d)")
            }
            halves.append(contentsOf: blob.assumingMemoryBound(to: UInt16.self))
            ids.append(s.int(0))
        }
        #if _endian(big)
        for i in halves.indices { halves[i] = UInt16(littleEndian: halves[i]) }
        #endif
        // Infinities and NaN (exponent bits all set) are refused, never ranked.
        if let bad = VectorTable.firstNonFinite(halves) {
            throw SearchIndexError.invalidVector(path: store.path, image: try store.path(of: ids[bad / d]), reason: "non-finite values")
        }
        t.ids = ids
        t.halves = halves
        return t
    }

    /// The index of the first half whose exponent is all ones. Four halves per 64-bit word: with
    /// `v = (w & E) ^ E` (E = 0x7c00 per lane), a lane is zero exactly when its exponent is all ones, and
    /// `(v - 0x0001…) & ~v & 0x8000…` is non-zero exactly when some lane is zero (lanes of v stay below 0x8000).
    static func firstNonFinite(_ h: [UInt16]) -> Int? {
        h.withUnsafeBufferPointer { p -> Int? in
            let n = p.count
            let e: UInt64 = 0x7c00_7c00_7c00_7c00
            var i = 0
            let raw = UnsafeRawPointer(p.baseAddress!)
            while i + 4 <= n {
                let v = (raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt64.self) & e) ^ e
                if (v &- 0x0001_0001_0001_0001) & ~v & 0x8000_8000_8000_8000 != 0 { break }
                i += 4
            }
            while i < n {
                if p[i] & 0x7c00 == 0x7c00 { return i }
                i += 1
            }
            return nil
        }
    }

    /// The `k` best rows for a normalised query: (row, score), score descending, ties by row order.
    /// `allowed` restricts the rows (a filter); `nil` means all.
    func top(_ k: Int, query: [Float], allowed: Set<Int>? = nil, compute: Compute) -> [(row: Int, score: Float)] {
        let n = count
        guard n > 0, k > 0 else { return [] }
        var scores = [Float](repeating: 0, count: n)
        query.withUnsafeBufferPointer { q in
            halves.withUnsafeBufferPointer { h in
                scores.withUnsafeMutableBufferPointer { out in
                    compute.halfDot(query: q.baseAddress!, rows: h.baseAddress!, count: n, dimension: dimension,
                                    out: out.baseAddress!)
                }
            }
        }
        // Partial selection: a sorted list of the best k, replaced only when a score beats its worst.
        var best: [(row: Int, score: Float)] = []
        best.reserveCapacity(k + 1)
        func better(_ a: (row: Int, score: Float), _ b: (row: Int, score: Float)) -> Bool {
            a.score != b.score ? a.score > b.score : a.row < b.row
        }
        scores.withUnsafeBufferPointer { s in
            for i in 0..<n {
                let v = s[i]
                if best.count == k, v <= best[k - 1].score { continue }
                if let allowed, !allowed.contains(i) { continue }
                let item = (row: i, score: v)
                var lo = 0, hi = best.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if better(best[mid], item) { lo = mid + 1 } else { hi = mid }
                }
                best.insert(item, at: lo)
                if best.count > k { best.removeLast() }
            }
        }
        return best
    }

    /// Row of an image id (ids are ascending).
    func row(of id: Int64) -> Int? {
        var lo = 0, hi = ids.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ids[mid] < id { lo = mid + 1 } else { hi = mid }
        }
        return lo < ids.count && ids[lo] == id ? lo : nil
    }

    /// Row `i` as floats.
    func vector(_ i: Int) -> [Float] {
        (0..<dimension).map { halfToFloat(halves[i * dimension + $0]) }
    }
}

/// One IEEE half (bit pattern) as a float.
func halfToFloat(_ h: UInt16) -> Float { Float(Float16(bitPattern: h)) }
