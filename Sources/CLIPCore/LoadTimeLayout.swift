// Every layout change between the checkpoint and the forward pass happens here, once, at load time:
// q/k/v projection fusion and the patch-embedding conv → matrix flattening.

import Tensor

/// Load-time layout transformations. Nothing else in the project re-arranges weights.
public enum LoadTimeLayout {
    /// Stacks q, k and v projections (`[C, C]` each, HF `[out, in]`) into one `[3C, C]` weight, so one GEMM
    /// produces q | k | v side by side per token; biases are concatenated the same way.
    ///
    /// ```swift
    /// let (w, b) = LoadTimeLayout.fuseQKV(q: (qw, qb), k: (kw, kb), v: (vw, vb))
    /// ```
    public static func fuseQKV(q: (Parameter, Parameter), k: (Parameter, Parameter),
                               v: (Parameter, Parameter)) -> (Parameter, Parameter) {
        let c = q.0.shape[0]
        let inF = q.0.count / max(c, 1)
        let weight = Parameter(shape: [3 * c, inF]) { dst in
            for (i, part) in [q.0, k.0, v.0].enumerated() { (dst + i * c * inF).update(from: part.pointer, count: c * inF) }
        }
        let bias = Parameter(shape: [3 * c]) { dst in
            for (i, part) in [q.1, k.1, v.1].enumerated() { (dst + i * c).update(from: part.pointer, count: c) }
        }
        return (weight, bias)
    }

    /// Packs a `[out, in]` linear weight into 16-column panels for the packed matmul backend.
    ///
    /// ```swift
    /// let packed = LoadTimeLayout.pack(fc1Weight)
    /// ```
    public static func pack(_ weight: Parameter) -> PackedWeight {
        PackedWeight(weight.pointer, outFeatures: weight.shape[0], inFeatures: weight.count / max(weight.shape[0], 1))
    }

    /// Flattens the patch-embedding conv weight `[C, channels, P, P]` to a `[C, channels·P·P]` matrix. The
    /// flattening order (channel, row, column) is exactly torch's memory order, so this is a reshape; the
    /// image side unfolds each patch in the same order (see `unfoldPatches`).
    ///
    /// ```swift
    /// let w = try LoadTimeLayout.patchConvToMatrix(conv)   // [768, 3072] for ViT-B/32
    /// ```
    public static func patchConvToMatrix(_ conv: Parameter, backend: MatmulBackend = .selected) -> LinearWeights {
        let c = conv.shape[0]
        let matrix = Parameter(shape: [c, conv.count / max(c, 1)]) { $0.update(from: conv.pointer, count: conv.count) }
        return LinearWeights(weight: matrix, bias: nil, backend: backend)
    }
}
