// A contiguous row-major Float32 tensor: a shape and its storage.

/// A contiguous, row-major `Float` tensor.
///
/// `Tensor` is a plain value type: its storage is a Swift array, so copies are cheap until mutated.
/// Kernels in this module work on raw buffers; `Tensor` is the currency type between layers and for I/O.
///
/// ```swift
/// var t = Tensor(zeros: [2, 3])
/// t[1, 2] = 5
/// print(t.shape, t.storage)   // [2, 3] [0.0, 0.0, 0.0, 0.0, 0.0, 5.0]
/// ```
public struct Tensor: Sendable, Equatable {
    /// The size of each dimension, outermost first.
    public let shape: [Int]
    /// The elements in row-major order; `storage.count == shape.reduce(1, *)`.
    public var storage: [Float]

    /// Creates a tensor from a shape and matching storage.
    /// - Throws: ``TensorError/shapeMismatch(expected:actual:)`` when `storage.count` is not the shape's product,
    ///   ``TensorError/invalidShape(_:)`` when a dimension is negative.
    public init(shape: [Int], storage: [Float]) throws {
        guard let count = Tensor.elementCount(shape) else { throw TensorError.invalidShape(shape) }
        guard count == storage.count else {
            throw TensorError.shapeMismatch(expected: shape, actual: [storage.count])
        }
        self.shape = shape
        self.storage = storage
    }

    /// Creates a zero-filled tensor. Dimensions must be non-negative (this initializer is for trusted shapes).
    public init(zeros shape: [Int]) {
        self.shape = shape
        self.storage = [Float](repeating: 0, count: shape.reduce(1) { $0 * max($1, 0) })
    }

    /// Creates a tensor from storage whose size the caller computed from `shape` (model outputs, kernels).
    /// Prefer ``init(shape:storage:)`` for anything derived from user input.
    public init(computedShape shape: [Int], storage: [Float]) {
        self.shape = shape
        self.storage = storage
    }

    /// The number of elements.
    public var count: Int { storage.count }

    /// Element access by multi-index (no bounds checks beyond the array's own).
    public subscript(_ index: Int...) -> Float {
        get { storage[flatIndex(index)] }
        set { storage[flatIndex(index)] = newValue }
    }

    /// Row `i` of a 2-D tensor as an array.
    public func row(_ i: Int) -> [Float] {
        let cols = shape.last ?? 1
        return Array(storage[(i * cols)..<((i + 1) * cols)])
    }

    /// The same storage viewed with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        try Tensor(shape: newShape, storage: storage)
    }

    private func flatIndex(_ index: [Int]) -> Int {
        var flat = 0
        for (i, dim) in zip(index, shape) { flat = flat * dim + i }
        return flat
    }

    /// The product of `shape`, or nil when a dimension is negative or the product overflows `Int`.
    public static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            n = p
        }
        return n
    }
}

/// Errors from tensor construction and kernels.
public enum TensorError: Error, Equatable, CustomStringConvertible {
    /// A shape with a negative dimension or an element count that overflows.
    case invalidShape([Int])
    /// Storage or an operand does not have the shape the operation needs.
    case shapeMismatch(expected: [Int], actual: [Int])

    /// The message, with the shape or shapes involved.
    public var description: String {
        switch self {
        case .invalidShape(let s): return "invalid tensor shape \(s)"
        case .shapeMismatch(let e, let a): return "shape mismatch: expected \(e), got \(a)"
        }
    }
}
