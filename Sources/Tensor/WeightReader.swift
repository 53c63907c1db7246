// A scoped reader over a safetensors checkpoint: `reader.scoped("encoder").scoped("layers.3")` then
// `tensor("self_attn.q_proj.weight", shape: [C, C])` reads the full HF key path and checks the shape.

/// Errors raised while loading model weights; each names the full checkpoint key.
public enum WeightError: Error, Equatable, CustomStringConvertible {
    /// The checkpoint has no tensor with this key.
    case missing(key: String, expectedShape: [Int], file: String)
    /// The tensor exists with another shape.
    case shapeMismatch(key: String, expected: [Int], actual: [Int], file: String)
    /// Tensors that no module consumed (a different architecture, or a typo in a converter).
    case unexpected(keys: [String], file: String)
    /// A tensor holds NaN or infinity.
    case nonFinite(key: String, index: Int, file: String)
    /// A tensor has the wrong element type for its role (e.g. a float linear weight in an int8 checkpoint).
    case wrongDType(key: String, expected: String, actual: String, file: String)
    /// A quantization scale is zero (only a finite, non-zero scale can represent its row).
    case zeroScale(key: String, index: Int, file: String)

    /// The message: the checkpoint file, then the tensor key(s) and what is wrong.
    public var description: String {
        switch self {
        case let .missing(k, s, f): return "\(f): missing tensor \"\(k)\" (expected shape \(s))"
        case let .shapeMismatch(k, e, a, f): return "\(f): tensor \"\(k)\" has shape \(a), expected \(e)"
        case let .unexpected(keys, f):
            let shown = keys.prefix(5).map { "\"\($0)\"" }.joined(separator: ", ")
            return "\(f): unexpected tensor\(keys.count == 1 ? "" : "s") \(shown)\(keys.count > 5 ? " and \(keys.count - 5) more" : "")"
        case let .nonFinite(k, i, f): return "\(f): tensor \"\(k)\" holds a non-finite value at element \(i)"
        case let .wrongDType(k, e, a, f): return "\(f): tensor \"\(k)\" is \(a), expected \(e)"
        case let .zeroScale(k, i, f): return "\(f): quantization scale \"\(k)\" is 0 at element \(i)"
        }
    }
}

/// Reads tensors by Hugging Face key path, with a prefix scope (candle's `pp()` idea) and usage tracking.
///
/// ```swift
/// let root = WeightReader(file: try SafeTensorsFile(path: path))
/// let layer = root.scoped("vision_model.encoder.layers.0")
/// let q = try layer.tensor("self_attn.q_proj.weight", shape: [768, 768])
/// try root.checkAllConsumed()   // throws WeightError.unexpected for leftovers
/// ```
public struct WeightReader: Sendable {
    /// The checkpoint being read.
    public let file: SafeTensorsFile
    /// The key prefix of this scope, without a trailing dot ("" at the root).
    public let prefix: String
    /// Weights already packed for this checkpoint and backend (a valid cache means the checkpoint was validated).
    package let prepared: PreparedWeights?
    /// Whether the checkpoint is an int8 one (its config says so): its quantizable weights must be I8, the others
    /// must not.
    public let quantizedCheckpoint: Bool
    private let tracker: ConsumedKeys

    /// A root reader over a whole file.
    public init(file: SafeTensorsFile, quantized: Bool = false) {
        self.init(file: file, prefix: "", tracker: ConsumedKeys(), prepared: nil, quantized: quantized)
    }

    /// A root reader that takes packed weights from `prepared` when it holds them.
    package init(file: SafeTensorsFile, prepared: PreparedWeights?, quantized: Bool = false) {
        self.init(file: file, prefix: "", tracker: ConsumedKeys(), prepared: prepared, quantized: quantized)
    }

    private init(file: SafeTensorsFile, prefix: String, tracker: ConsumedKeys, prepared: PreparedWeights?, quantized: Bool) {
        self.file = file
        self.prefix = prefix
        self.tracker = tracker
        self.prepared = prepared
        quantizedCheckpoint = quantized
    }

    /// A reader whose keys are prefixed with `name` (joined with a dot).
    public func scoped(_ name: String) -> WeightReader {
        WeightReader(file: file, prefix: key(name), tracker: tracker, prepared: prepared, quantized: quantizedCheckpoint)
    }

    /// The full key for `name` in this scope.
    public func key(_ name: String) -> String { prefix.isEmpty ? name : prefix + "." + name }

    /// Whether the checkpoint has `name` in this scope.
    public func contains(_ name: String) -> Bool { file.tensors[key(name)] != nil }

    /// Reads `name` as a Float tensor of exactly `shape` (F32, F16 or BF16 stored), then releases its mapped pages.
    /// - Throws: ``WeightError/missing(key:expectedShape:file:)``,
    ///   ``WeightError/shapeMismatch(key:expected:actual:file:)``, or a ``SafeTensorsError`` for the dtype.
    public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        let fullKey = try check(name, shape: shape)
        let values = try file.floats(fullKey)
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw WeightError.nonFinite(key: fullKey, index: bad, file: file.path)
        }
        file.release(fullKey)
        tracker.insert(fullKey)
        return Tensor(computedShape: shape, storage: values)
    }

    /// Reads `name` as a ``Parameter`` of exactly `shape`: borrowed straight from the memory-mapped file when it
    /// is aligned F32 (no copy, pages load on first use), converted into an owned buffer otherwise.
    /// - Throws: also ``WeightError/nonFinite(key:index:file:)`` when the tensor holds NaN or infinity.
    public func parameter(_ name: String, shape: [Int]) throws -> Parameter {
        let fullKey = try check(name, shape: shape)
        tracker.insert(fullKey)
        let p: Parameter
        // Borrow from a mapped file; copy out of a file read into memory, so its buffer is freed after the load.
        if !file.isReadIntoMemory, let mapped = try file.mappedFloats(fullKey), let base = mapped.baseAddress {
            p = Parameter(borrowing: base, shape: shape, owner: file)
        } else {
            p = Parameter(Tensor(computedShape: shape, storage: try file.floats(fullKey)))
        }
        // A valid prepared-weights cache was written after this exact file passed this check.
        if prepared?.isValid != true, let bad = p.firstNonFinite() {
            throw WeightError.nonFinite(key: fullKey, index: bad, file: file.path)
        }
        return p
    }

    /// Whether `name`, a weight that int8 checkpoints quantize, is stored as int8 (with `name_scale`): it must be
    /// exactly when the checkpoint is an int8 one.
    ///
    /// - Throws: ``WeightError/wrongDType(key:expected:actual:file:)`` for an int8 weight in a float checkpoint or a
    ///   float weight in an int8 one.
    package func isQuantized(_ name: String) throws -> Bool {
        let fullKey = key(name)
        guard let info = file.tensors[fullKey] else { return quantizedCheckpoint }   // missing: reported by the read
        if (info.dtype == .i8) != quantizedCheckpoint {
            throw WeightError.wrongDType(key: fullKey, expected: quantizedCheckpoint ? "I8 (an int8 checkpoint)" : "F32, F16 or BF16",
                                         actual: info.dtype.rawValue, file: file.path)
        }
        return quantizedCheckpoint
    }

    /// Reads a quantized tensor: `name` as I8 of exactly `shape` (borrowed from the mapping) and `name_scale` as
    /// F32 `[shape[0]]`, one finite, non-zero scale per row (`value ≈ scale · q`).
    ///
    /// - Throws: the shape errors, ``WeightError/wrongDType(key:expected:actual:file:)``,
    ///   ``WeightError/missing(key:expectedShape:file:)`` for a missing scale, ``WeightError/nonFinite(key:index:file:)``
    ///   or ``WeightError/zeroScale(key:index:file:)``.
    package func quantized(_ name: String, shape: [Int]) throws -> (values: UnsafePointer<Int8>, scales: Parameter) {
        let fullKey = try check(name, shape: shape)
        guard let info = file.tensors[fullKey], info.dtype == .i8 else {
            throw WeightError.wrongDType(key: fullKey, expected: "I8", actual: file.tensors[fullKey]?.dtype.rawValue ?? "?",
                                         file: file.path)
        }
        let scaleKey = fullKey + "_scale"
        guard let scaleInfo = file.tensors[scaleKey] else {
            throw WeightError.missing(key: scaleKey, expectedShape: [shape[0]], file: file.path)
        }
        guard scaleInfo.dtype == .f32 else {
            throw WeightError.wrongDType(key: scaleKey, expected: "F32", actual: scaleInfo.dtype.rawValue, file: file.path)
        }
        let scales = try parameter(name + "_scale", shape: [shape[0]])   // checks shape and finiteness
        if let zero = (0..<scales.count).first(where: { scales.pointer[$0] == 0 }) {
            throw WeightError.zeroScale(key: scaleKey, index: zero, file: file.path)
        }
        tracker.insert(fullKey)
        let bytes = try file.mappedBytes(fullKey)
        guard let base = bytes.baseAddress else { throw WeightError.missing(key: fullKey, expectedShape: shape, file: file.path) }
        return (base.assumingMemoryBound(to: Int8.self), scales)
    }

    /// Checks that `name` exists with `shape` and marks it used, without reading its data (its prepared form
    /// comes from the cache).
    package func declare(_ name: String, shape: [Int]) throws {
        tracker.insert(try check(name, shape: shape))
    }

    /// Drops the resident pages of `name` once its data has been copied elsewhere (e.g. packed).
    public func release(_ name: String) {
        file.release(key(name))
    }

    /// The full key for `name` after checking it exists with `shape`.
    private func check(_ name: String, shape: [Int]) throws -> String {
        let fullKey = key(name)
        guard let info = file.tensors[fullKey] else {
            throw WeightError.missing(key: fullKey, expectedShape: shape, file: file.path)
        }
        // A scalar stored as [1] (or [1] as []) is the same tensor; anything else must match exactly.
        let same = info.shape == shape || (info.count == 1 && Tensor.elementCount(shape) == 1 && shape.count <= 1 && info.shape.count <= 1)
        guard same else {
            throw WeightError.shapeMismatch(key: fullKey, expected: shape, actual: info.shape, file: file.path)
        }
        return fullKey
    }

    /// Marks keys as deliberately ignored (e.g. the I64 `position_ids` buffers older checkpoints carry).
    public func ignore(_ name: String) {
        tracker.insert(key(name))
    }

    /// Throws ``WeightError/unexpected(keys:file:)`` if any tensor under `prefixes` (default: all) was not read.
    public func checkAllConsumed(under prefixes: [String]? = nil) throws {
        let used = tracker.snapshot()
        let leftovers = file.keys.filter { key in
            !used.contains(key) && !key.hasSuffix("position_ids")
                && (prefixes?.contains { key.hasPrefix($0) } ?? true)
        }
        if !leftovers.isEmpty { throw WeightError.unexpected(keys: leftovers, file: file.path) }
    }
}

/// The set of keys read so far, shared by all scopes of one reader.
final class ConsumedKeys: Sendable {
    private let keys = Mutex(Set<String>())
    func insert(_ k: String) { keys.withLock { _ = $0.insert(k) } }
    func snapshot() -> Set<String> { keys.withLock { $0 } }
}

import Synchronization
