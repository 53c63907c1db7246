// Embedding matrices and the one implementation of the math after the encoders: cosine similarity and ranking.

import Tensor

/// A row-major matrix of embeddings: `count` rows of `dimension` floats.
///
/// ```swift
/// let e = try clip.textEmbeddings(["a cat", "a dog"])
/// print(e.count, e.dimension, e[0].prefix(3))
/// ```
public struct Embeddings: Sendable, Equatable {
    /// Number of rows.
    public let count: Int
    /// Length of each row.
    public let dimension: Int
    /// All rows, concatenated.
    public private(set) var values: [Float]

    /// Wraps `values` (row-major, `count × dimension` floats).
    public init(count: Int, dimension: Int, values: [Float]) throws {
        guard count >= 0, dimension > 0, count.multipliedReportingOverflow(by: dimension) == (values.count, false) else {
            throw CLIPError.dimensionMismatch(values.count, count * max(dimension, 0))
        }
        self.count = count
        self.dimension = dimension
        self.values = values
    }

    package init(_ t: Tensor) {
        dimension = t.shape.last ?? 0
        count = dimension == 0 ? 0 : t.count / dimension
        values = t.storage
    }

    init(rows: Int, dimension: Int, unchecked values: [Float]) {
        count = rows
        self.dimension = dimension
        self.values = values
    }

    /// Row `i`.
    public subscript(_ i: Int) -> ArraySlice<Float> { values[(i * dimension)..<((i + 1) * dimension)] }

    /// Every row as its own array.
    public var rows: [[Float]] { (0..<count).map { Array(self[$0]) } }

    /// The rows scaled to unit L2 norm (a zero row stays zero).
    public func normalized() -> Embeddings {
        var out = self
        out.normalize()
        return out
    }

    mutating func normalize() {
        let (n, d) = (count, dimension)
        guard n > 0 else { return }
        values.withUnsafeMutableBufferPointer { l2Normalize($0.baseAddress!, rows: n, cols: d) }
    }

    /// `scale · cos(a_i, b_j)` for every pair, row-major (a.count, b.count): one GEMM over normalised copies.
    /// Every cosine in the package (``CLIP/similarity(_:_:)``, ``CLIPModel/logits(imageEmbeds:textEmbeds:)``,
    /// classification, search) is this function.
    static func cosine(_ a: Embeddings, _ b: Embeddings, scale: Float = 1) throws -> [Float] {
        guard a.dimension == b.dimension else { throw CLIPError.dimensionMismatch(a.dimension, b.dimension) }
        let x = a.normalized(), y = b.normalized()
        let (m, n, d) = (a.count, b.count, a.dimension)
        var out = [Float](repeating: 0, count: m * n)
        guard m > 0, n > 0 else { return out }
        x.values.withUnsafeBufferPointer { xp in
            y.values.withUnsafeBufferPointer { yp in
                out.withUnsafeMutableBufferPointer { c in
                    blasGemm(transA: false, transB: true, m: m, n: n, k: d, alpha: scale, a: xp.baseAddress!, lda: d,
                             b: yp.baseAddress!, ldb: d, beta: 0, c: c.baseAddress!, ldc: n)
                }
            }
        }
        return out
    }
}

/// Softmax over one row of logits, then labels sorted by probability (ties keep label order): the one ranking.
func rank(logits row: ArraySlice<Float>, labels: [String]) -> [LabelScore] {
    var p = Array(row)
    p.withUnsafeMutableBufferPointer { softmax($0.baseAddress!, rows: 1, cols: $0.count) }
    return zip(labels, p).enumerated()
        .sorted { $0.element.1 != $1.element.1 ? $0.element.1 > $1.element.1 : $0.offset < $1.offset }
        .map { LabelScore(label: $0.element.0, score: $0.element.1) }
}
