// A cache of weights already packed for one backend, so a load maps them instead of packing 126 M parameters.
// One safetensors file per (checkpoint, kernel layout) in a cache directory; its metadata records the checkpoint's
// identity (device, inode, size, mtime, ctime) and the layout version, and any difference rebuilds it.

import Synchronization
import TensorSIMD
#if canImport(Glibc)
import Glibc
#endif

/// What became of a load's prepared-weights cache.
public enum PreparedWeightsState: String, Sendable {
    /// No cache directory was given.
    case disabled
    /// A valid cache was memory-mapped: nothing was packed or checked for non-finite values again.
    case loaded
    /// No valid cache (missing, stale or unreadable): the weights were packed and the cache written.
    case written
    /// The weights were packed, but the cache could not be written (the reason is in ``PreparedWeights/problem``).
    case notWritten = "not-written"
}

/// Packed weights cached for one checkpoint and kernel layout.
///
/// Used by the loader only: ``LoadOptions`` names the directory; the model reports the ``PreparedWeightsState``.
package final class PreparedWeights: Sendable {
    /// Bumped whenever the packed layout or the cache format changes, so old files are rebuilt.
    package static let layoutVersion = "2"

    /// The cache file for this checkpoint and layout.
    package let path: String
    private let expected: [String: String]
    /// The mapped cache when it matched the checkpoint; nil when it must be (re)built.
    private let cached: SafeTensorsFile?
    private let recorded = Mutex<[(key: String, weight: PackedWeight)]>([])
    private let recordedInt8 = Mutex<[(key: String, weight: QuantizedWeight)]>([])
    private let mismatched = Atomic<Bool>(false)
    private let outcome = Mutex<(state: PreparedWeightsState, problem: String?)>((.disabled, nil))

    /// Opens (or prepares to write) the cache in `directory` for `source`, laid out for `compute`.
    /// Never throws: an unusable cache only means packing again.
    package init(directory: String, source: SafeTensorsFile, compute: Compute) {
        let real = realpath(source.path, nil).map { p -> String in defer { free(p) }; return String(cString: p) }
            ?? source.path
        let name = "prepared-" + String(fnv1a64(real), radix: 16) + "-\(compute.kernels.isa.rawValue).safetensors"
        path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
        var expected = [
            "format": "swift-clip prepared weights", "layout_version": PreparedWeights.layoutVersion,
            "isa": compute.kernels.isa.rawValue, "panel_width": String(compute.kernels.panelWidth), "source_path": real,
        ]
        if let id = source.identity {
            expected["source_identity"] = id.description
        }
        self.expected = expected
        if source.identity != nil, let file = try? SafeTensorsFile(path: path), file.metadata == expected {
            cached = file
        } else {
            cached = nil
        }
    }

    /// Maps the cached weights whose keys start with one of `prefixes` into the process now (see
    /// ``SafeTensorsFile/populate(where:)``); false without a valid cache.
    @discardableResult
    package func populate(prefixes: [String]) -> Bool {
        cached?.populate { key in prefixes.contains { key.hasPrefix($0) } } ?? false
    }

    /// Whether a valid cache is mapped (its checkpoint was fully validated when the cache was written).
    package var isValid: Bool { cached != nil }

    /// The cached packed weight for `key`, borrowed from the mapping, if the cache holds it with the right size.
    package func packed(_ key: String, outFeatures n: Int, inFeatures k: Int, panelWidth nr: Int) -> PackedWeight? {
        guard let cached else { return nil }
        let stored = "\(key)@packed"
        guard let info = cached.tensors[stored], info.dtype == .f32, info.count == PackedWeight.count(n, k, nr),
              let data = try? cached.mappedFloats(stored), let base = data.baseAddress else {
            mismatched.store(true, ordering: .relaxed)
            return nil
        }
        let weight = PackedWeight(borrowing: base, outFeatures: n, inFeatures: k, panelWidth: nr, owner: cached)
        record(key, weight)   // so a rewrite after another weight missed still holds this one
        return weight
    }

    /// The cached int8 panels, scales and column sums for `key` in `layout`, borrowed from the mapping, if the cache
    /// holds them.
    package func quantized(_ key: String, outFeatures n: Int, inFeatures k: Int, panelWidth nr: Int,
                           layout: Int8WeightLayout) -> QuantizedWeight? {
        guard let cached else { return nil }
        let panels = panelCount(n, panelWidth: nr), groups = QuantizedWeight.groups(inFeatures: k, layout: layout)
        let names = Self.int8Names(key, layout)
        guard let data = cached.tensors[names.panels], data.dtype == .u8, data.count == panels * groups * nr * 4,
              let scales = cached.tensors[names.scales], scales.dtype == .f32, scales.count == panels * nr,
              let sums = cached.tensors[names.sums], sums.dtype == .i32, sums.count == panels * nr,
              let bytes = try? cached.rawBytes(names.panels), let scaleBytes = try? cached.rawBytes(names.scales),
              let sumBytes = try? cached.rawBytes(names.sums),
              let b = bytes.baseAddress, let sb = scaleBytes.baseAddress, let cb = sumBytes.baseAddress,
              Int(bitPattern: sb) % 4 == 0, Int(bitPattern: cb) % 4 == 0 else {
            mismatched.store(true, ordering: .relaxed)
            return nil
        }
        let weight = QuantizedWeight(borrowing: b.assumingMemoryBound(to: UInt8.self), scales: sb.assumingMemoryBound(to: Float.self),
                                     columnSums: cb.assumingMemoryBound(to: Int32.self), outFeatures: n, inFeatures: k,
                                     panelWidth: nr, layout: layout, owner: cached)
        record(key, weight)   // so a rewrite after another weight missed still holds this one
        return weight
    }

    /// The cache's tensor names for an int8 weight: the layout is part of them, so a cache written with the other
    /// layout is a miss (and rebuilt), never misread.
    static func int8Names(_ key: String, _ layout: Int8WeightLayout) -> (panels: String, scales: String, sums: String) {
        let tag = layout == .pairs ? "@i8pairs" : "@i8"
        return (key + tag + "panels", key + tag + "scales", key + tag + "sums")
    }

    /// Remembers a weight packed during this load, to be written by ``save()``.
    package func record(_ key: String, _ weight: PackedWeight) {
        recorded.withLock { $0.append((key, weight)) }
    }

    /// Remembers an int8 weight packed during this load, to be written by ``save()``.
    package func record(_ key: String, _ weight: QuantizedWeight) {
        recordedInt8.withLock { $0.append((key, weight)) }
    }

    /// Writes the cache if this load packed anything (no valid cache, or a partial one), and records the outcome.
    package func save() {
        let items = recorded.withLock { $0 }
        let int8Items = recordedInt8.withLock { $0 }
        if isValid && !mismatched.load(ordering: .relaxed) {
            outcome.withLock { $0 = (.loaded, nil) }
            return
        }
        guard expected["source_identity"] != nil else {
            outcome.withLock { $0 = (.notWritten, "the checkpoint is not a file") }
            return
        }
        do {
            let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
            try makeDirectories(directory)
            var tensors = items.sorted { $0.key < $1.key }.map { item in
                let count = PackedWeight.count(item.weight.outFeatures, item.weight.inFeatures, item.weight.panelWidth)
                return SafeTensorsEntry(key: item.key + "@packed", shape: [count],
                                        floats: UnsafeBufferPointer(start: item.weight.data, count: count))
            }
            for (key, w) in int8Items.sorted(by: { $0.key < $1.key }) {
                let names = Self.int8Names(key, w.layout)
                tensors.append(SafeTensorsEntry(key: names.panels, dtype: .u8, shape: [w.panelsByteCount],
                                                bytes: UnsafeRawBufferPointer(start: w.data, count: w.panelsByteCount)))
                tensors.append(SafeTensorsEntry(key: names.scales, shape: [w.paddedColumns],
                                                floats: UnsafeBufferPointer(start: w.scales, count: w.paddedColumns)))
                tensors.append(SafeTensorsEntry(key: names.sums, dtype: .i32, shape: [w.paddedColumns],
                                                bytes: UnsafeRawBufferPointer(start: w.columnSums, count: 4 * w.paddedColumns)))
            }
            try writeSafeTensors(tensors, metadata: expected, to: path)
            outcome.withLock { $0 = (.written, nil) }
        } catch {
            outcome.withLock { $0 = (.notWritten, String(describing: error)) }
        }
    }

    /// The outcome after ``save()``.
    package var state: PreparedWeightsState { outcome.withLock { $0.state } }
    /// Why the cache was not written, if it was not.
    package var problem: String? { outcome.withLock { $0.problem } }
}

/// 64-bit FNV-1a of a string's UTF-8 bytes (cache file names).
func fnv1a64(_ s: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h
}

/// `mkdir -p`, with 0700 for directories it creates (a per-user cache).
func makeDirectories(_ path: String) throws {
    var current = path.hasPrefix("/") ? "" : "."
    for part in path.split(separator: "/") {
        current += "/" + part
        var st = stat()
        if stat(current, &st) == 0 { continue }
        if mkdir(current, 0o700) != 0 && errno != EEXIST {
            throw FileWriteError(path: current, reason: "cannot create directory (\(String(cString: strerror(errno))))")
        }
    }
}
