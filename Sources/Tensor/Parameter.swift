// An immutable, heap-allocated weight buffer with a stable pointer, so forward passes can use raw pointers
// without nested `withUnsafeBufferPointer` closures. Read-only after creation, hence safe to share across threads.

/// A model weight: a shape and a stable, read-only `Float` buffer.
///
/// ```swift
/// let w = Parameter(try reader.tensor("fc1.weight", shape: [3072, 768]))
/// linear(x, rows: 50, inFeatures: 768, weight: w.pointer, outFeatures: 3072, bias: nil, out: y)
/// ```
public final class Parameter: @unchecked Sendable {
    /// The size of each dimension.
    public let shape: [Int]
    /// The number of elements.
    public let count: Int
    /// The elements, row-major. Valid for the lifetime of the parameter; never written after init.
    public let pointer: UnsafePointer<Float>
    /// Set when `pointer` borrows memory owned by another object (a memory-mapped checkpoint).
    private let owner: AnyObject?

    /// Copies a tensor into a new parameter.
    public init(_ tensor: Tensor) {
        shape = tensor.shape
        let n = tensor.count
        count = n
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
        tensor.storage.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { p.initialize(from: base, count: n) }
        }
        pointer = UnsafePointer(p)
        owner = nil
    }

    /// Wraps memory owned by `owner` without copying (e.g. F32 data inside a memory-mapped safetensors file);
    /// `owner` is kept alive as long as the parameter.
    public init(borrowing pointer: UnsafePointer<Float>, shape: [Int], owner: AnyObject) {
        self.shape = shape
        count = shape.reduce(1, *)
        self.pointer = pointer
        self.owner = owner
    }

    /// Builds a parameter by filling a fresh buffer (used by load-time layout changes such as QKV fusion).
    public init(shape: [Int], fill: (UnsafeMutablePointer<Float>) -> Void) {
        self.shape = shape
        let n = shape.reduce(1, *)
        count = n
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
        p.initialize(repeating: 0, count: max(n, 1))
        fill(p)
        pointer = UnsafePointer(p)
        owner = nil
    }

    /// Whether the parameter borrows memory-mapped storage instead of owning a copy.
    public var isBorrowed: Bool { owner != nil }

    deinit {
        if owner == nil { UnsafeMutablePointer(mutating: pointer).deallocate() }
    }

    /// The elements as an array (a copy).
    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// The index of the first NaN or infinite element, if any.
    public func firstNonFinite() -> Int? {
        firstNonFiniteElement(pointer, count: count)
    }
}

/// The index of the first NaN or infinity in `count` floats, or nil. Vectorised: `x · 0` is 0 for finite x and
/// NaN otherwise, so a running sum over blocks finds a bad block at memory speed before the scalar search.
public func firstNonFiniteElement(_ p: UnsafePointer<Float>, count: Int) -> Int? {
    let block = 4096
    var start = 0
    while start < count {
        let end = min(start + block, count)
        var acc = SIMD8<Float>()
        var i = start
        while i + 8 <= end {
            acc += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self) * 0
            i += 8
        }
        var tail: Float = 0
        while i < end { tail += p[i] * 0; i += 1 }
        if !(acc.sum() + tail).isFinite {
            for j in start..<end where !p[j].isFinite { return j }
        }
        start = end
    }
    return nil
}
