// Every layout change between the checkpoint and the forward pass happens here, once, at load time:
// q/k/v projection fusion, the patch-embedding conv → matrix flattening, and packing for the GEMM kernels.

import Tensor

/// Load-time layout transformations. Nothing else in the project re-arranges weights.
public enum LoadTimeLayout {
    /// Stacks the q, k and v projections (`[C, C]` each, HF `[out, in]`) into one `[3C, C]` weight, so one GEMM
    /// produces q | k | v side by side per token.
    public static func fuseQKV(_ parts: [Parameter]) -> Parameter {
        let rows = parts.reduce(0) { $0 + $1.shape[0] }
        let inF = parts.first.map { $0.count / max($0.shape[0], 1) } ?? 0
        return Parameter(shape: [rows, inF]) { dst in
            var at = dst
            for part in parts { at.update(from: part.pointer, count: part.count); at += part.count }
        }
    }

    /// An int8 weight of an int8 checkpoint as the int8 GEMM uses it: from the prepared-weights cache when it holds
    /// it (`sources`, each an I8 tensor with its `_scale`, are then only shape-checked), else built by `make` (which
    /// returns the `[out, in]` int8 matrix, its per-row scales, and how to free them; it is told the largest |q| the
    /// layout keeps, so a weight quantized here from floats is rounded once), packed and recorded.
    package static func int8Weight(
        _ reader: WeightReader, key: String, outFeatures n: Int, inFeatures k: Int, sources: [String], compute: Compute,
        make: (_ levels: Int) throws -> (UnsafeMutablePointer<Int8>, UnsafePointer<Float>, () -> Void)
    ) throws -> MatmulWeight {
        let nr = compute.kernels.panelWidth
        let rows = n / max(sources.count, 1)
        let layout = int8Layout(forKey: reader.key(key), compute: compute)
        if let cached = reader.prepared?.quantized(reader.key(key), outFeatures: n, inFeatures: k, panelWidth: nr,
                                                   layout: layout) {
            for name in sources {
                try reader.declare(name, shape: [rows, k])
                try reader.declare(name + "_scale", shape: [rows])
            }
            return .int8(cached)
        }
        let (q, scales, free) = try make(layout.largestWeight)
        defer { free() }
        let weight = compute.prepareQuantized(q, scales: scales, outFeatures: n, inFeatures: k, layout: layout)
        if case .int8(let packed) = weight { reader.prepared?.record(reader.key(key), packed) }
        for name in sources { reader.release(name) }
        return weight
    }

    /// The int8 panel layout of the weight at the full checkpoint key `key`: ``Int8WeightLayout/pairs`` (±64) for the
    /// vision tower's weights where ``Compute/pairsVisionInt8Weights`` (AVX2, unless full int8 precision was asked
    /// for), else the 8-bit quads. The text tower keeps 8 bits: at ±64 its embeddings' minimum cosine to F32 fell
    /// from 0.99901 to 0.99783 on the random ViT-B/32, below the 0.999 the int8 path promises; the image
    /// embeddings' went from 0.99977 to 0.99960 (`clip-bench --agreement`).
    package static func int8Layout(forKey key: String, compute: Compute) -> Int8WeightLayout {
        compute.pairsVisionInt8Weights && key.hasPrefix("vision_model.") ? .pairs : .quads
    }

    /// ``fuseQKV(_:)`` for int8 weights: stacks `rows × columns` int8 matrices and their per-row scales. The caller
    /// deallocates both results.
    package static func fuseQKV(int8 parts: [UnsafePointer<Int8>], scales: [Parameter], rows: Int, columns: Int)
        -> (UnsafeMutablePointer<Int8>, UnsafeMutablePointer<Float>) {
        let q = UnsafeMutablePointer<Int8>.allocate(capacity: parts.count * rows * columns)
        let s = UnsafeMutablePointer<Float>.allocate(capacity: parts.count * rows)
        for (i, part) in parts.enumerated() {
            (q + i * rows * columns).initialize(from: part, count: rows * columns)
            (s + i * rows).initialize(from: scales[i].pointer, count: rows)
        }
        return (q, s)
    }

    /// Concatenates vectors (the q, k and v biases, matching ``fuseQKV(_:)``).
    public static func concatenate(_ parts: [Parameter]) -> Parameter {
        Parameter(shape: [parts.reduce(0) { $0 + $1.count }]) { dst in
            var at = dst
            for part in parts { at.update(from: part.pointer, count: part.count); at += part.count }
        }
    }

    /// A `[out, in]` linear weight as `compute`'s backend uses it: packed into panels of its kernels' width, or
    /// kept as stored for the BLAS backends.
    public static func matmulWeight(_ weight: Parameter, compute: Compute) -> MatmulWeight {
        compute.prepare(weight)
    }

    /// Flattens the patch-embedding conv weight `[C, channels, P, P]` to a `[C, channels·P·P]` matrix. The
    /// flattening order (channel, row, column) is exactly torch's memory order, so this is a reshape; the
    /// image side unfolds each patch in the same order (see `CLIPVisionEmbeddings`).
    public static func patchConvToMatrix(_ conv: Parameter) -> Parameter {
        let c = conv.shape[0]
        return Parameter(shape: [c, conv.count / max(c, 1)]) { $0.update(from: conv.pointer, count: conv.count) }
    }

    /// Per-row symmetric int8 of a `rows × columns` matrix: scale = max|row| / levels (1 for an all-zero row, which
    /// any scale represents), q = round(x / scale), ties to even, within ±levels (127, or 64 for the paired layout).
    /// The one quantizer of `clip quantize` and of the load-time quantization of the patch embedding.
    public static func quantizeRows(_ x: UnsafePointer<Float>, rows: Int, columns: Int, levels: Int = 127,
                                    into q: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>) {
        let l = Float(min(max(levels, 1), 127))
        for r in 0..<rows {
            let row = x + r * columns
            var amax: Float = 0
            for c in 0..<columns { amax = max(amax, abs(row[c])) }
            let scale = amax > 0 ? amax / l : 1
            scales[r] = scale
            for c in 0..<columns {
                let v = (row[c] / scale).rounded(.toNearestOrEven)
                q[r * columns + c] = Int8(max(-l, min(l, v)))
            }
        }
    }
}
