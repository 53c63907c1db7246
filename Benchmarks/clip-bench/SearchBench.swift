// clip-bench --search N: open and query times of a search index of N synthetic normalised 512-d vectors.

import CLIPSearch
import Foundation
import Tensor

func searchBench(count n: Int, options: Options) throws {
    let d = 512
    let path = NSTemporaryDirectory() + "/clip-bench-search-\(n).db"
    var rng = SplitMix(seed: 20261201)
    func vector() -> [Float] {
        var v = (0..<d).map { _ in rng.nextGaussian() }
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for i in v.indices { v[i] /= norm }
        return v
    }
    let existing = try? IndexStore(path: path, create: false, readOnly: true).count()
    if existing != n {
        try? FileManager.default.removeItem(atPath: path)
        log("writing \(n) synthetic vectors to \(path) …")
        let store = try IndexStore(path: path, create: true, readOnly: false)
        _ = try store.setModel(fingerprint: "clip-bench synthetic", dimension: d)
        let start = Date()
        for batch in stride(from: 0, to: n, by: 10_000) {
            let rows = (batch..<min(batch + 10_000, n)).map { i in
                (path: "photos/\(i / 1000)/img\(i).jpg", size: Int64(100_000 + i), mtime: 1.7e9 + Double(i), vector: vector())
            }
            try store.write(rows)
        }
        log(String(format: "  written in %.1f s", Date().timeIntervalSince(start)))
    }
    let fileBytes = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    let compute = try Compute(backend: options.backend, threads: options.threads)
    var opens: [Double] = []
    var index: ImageIndex?
    for _ in 0..<3 {
        index = nil
        let t = Date()
        index = try ImageIndex(path: path, compute: compute)
        opens.append(Date().timeIntervalSince(t) * 1000)
    }
    guard let index else { return }
    let queries = (0..<21).map { _ in vector() }
    _ = try index.search(vector: queries[0], top: 10)
    var times: [Double] = []
    for q in queries.dropFirst() {
        let t = Date()
        _ = try index.search(vector: q, top: 10)
        times.append(Date().timeIntervalSince(t) * 1000)
    }
    let filtered = Date()
    _ = try index.search(vector: queries[1], top: 10, filter: .prefix("photos/1/"))
    let filteredMs = Date().timeIntervalSince(filtered) * 1000
    let result: [String: Any] = [
        "search_n": n, "search_backend": compute.backend.rawValue,
        "search_open_ms_median": Stats(samples: opens).median, "search_query_ms_median": Stats(samples: times).median,
        "search_query_ms_max": times.max() ?? 0, "search_filtered_query_ms": filteredMs,
        "search_file_bytes": fileBytes, "search_bytes_per_image": Double(fileBytes) / Double(n),
    ]
    if options.json {
        print(String(data: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), encoding: .utf8)!)
    } else {
        print(String(format: "search N=%d (%@): open %.0f ms (median of 3, warm page cache), query %.1f ms median (max %.1f) over 20 queries, prefix-filtered query %.1f ms, %.0f bytes per image",
                     n, compute.backend.rawValue, Stats(samples: opens).median, Stats(samples: times).median, times.max() ?? 0, filteredMs, Double(fileBytes) / Double(n)))
    }
}

/// A small seeded generator (SplitMix64) with Box-Muller normals.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextGaussian() -> Float {
        let u1 = max(Double(next() >> 11) / Double(1 << 53), 1e-300), u2 = Double(next() >> 11) / Double(1 << 53)
        return Float((-2 * log(u1)).squareRoot() * cos(2 * .pi * u2))
    }
}
