// The pre-LayerNorm transformer encoder shared by both towers (transformers' CLIPEncoder / CLIPEncoderLayer).
// hidden: (N, C) — the tokens of several sequences stacked; attention runs within each sequence's row range.

import Tensor

/// `torch.nn.LayerNorm` weights.
public struct LayerNormWeights: Sendable {
    public let weight: Parameter
    public let bias: Parameter
    public let eps: Float

    /// Loads `weight` and `bias` of shape `[size]` from `reader`'s scope.
    ///
    /// ```swift
    /// let ln = try LayerNormWeights(reader.scoped("layer_norm1"), size: 768, eps: 1e-5)
    /// ```
    public init(_ reader: WeightReader, size: Int, eps: Float) throws {
        weight = Parameter(try reader.tensor("weight", shape: [size]))
        bias = Parameter(try reader.tensor("bias", shape: [size]))
        self.eps = eps
    }

    /// `out = LayerNorm(x)` over `rows` rows.
    public func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>) {
        layerNorm(x, rows: rows, cols: weight.count, gamma: weight.pointer, beta: bias.pointer, eps: eps, out: out)
    }
}

/// `torch.nn.Linear` weights in HF `[out, in]` layout.
public struct LinearWeights: Sendable {
    public let weight: Parameter
    public let bias: Parameter?
    public var outFeatures: Int { weight.shape[0] }
    public var inFeatures: Int { weight.shape[1] }

    /// Loads `weight` `[out, in]` and, when `bias` is true, `bias` `[out]`.
    ///
    /// ```swift
    /// let fc1 = try LinearWeights(reader.scoped("fc1"), inFeatures: 768, outFeatures: 3072)
    /// ```
    public init(_ reader: WeightReader, inFeatures: Int, outFeatures: Int, bias: Bool = true) throws {
        weight = Parameter(try reader.tensor("weight", shape: [outFeatures, inFeatures]))
        self.bias = bias ? Parameter(try reader.tensor("bias", shape: [outFeatures])) : nil
    }

    /// Wraps already prepared parameters (used by load-time fusion).
    public init(weight: Parameter, bias: Parameter?) {
        self.weight = weight
        self.bias = bias
    }

    /// `out = x · Wᵀ + b` for `rows` rows.
    public func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>) {
        linear(x, rows: rows, inFeatures: inFeatures, weight: weight.pointer, outFeatures: outFeatures,
               bias: bias?.pointer, out: out)
    }
}

/// Multi-head self-attention (transformers' `CLIPAttention`), with q/k/v fused into one projection at load.
public struct CLIPAttention: Sendable {
    /// `[3C, C]`: rows 0..<C are q_proj, C..<2C k_proj, 2C..<3C v_proj.
    public let qkv: LinearWeights
    public let outProj: LinearWeights
    public let numHeads: Int
    public let headDim: Int
    public let scale: Float

    /// Loads `q_proj`, `k_proj`, `v_proj`, `out_proj` from the `self_attn` scope.
    ///
    /// ```swift
    /// let attn = try CLIPAttention(layer.scoped("self_attn"), config: config.vision.encoder)
    /// ```
    public init(_ reader: WeightReader, config: EncoderConfig) throws {
        let c = config.hiddenSize
        func load(_ name: String) throws -> (Tensor, Tensor) {
            (try reader.tensor(name + ".weight", shape: [c, c]), try reader.tensor(name + ".bias", shape: [c]))
        }
        let (w, b) = LoadTimeLayout.fuseQKV(q: try load("q_proj"), k: try load("k_proj"), v: try load("v_proj"))
        qkv = LinearWeights(weight: w, bias: b)
        outProj = try LinearWeights(reader.scoped("out_proj"), inFeatures: c, outFeatures: c)
        numHeads = config.numAttentionHeads
        headDim = config.headDim
        scale = 1 / Float(headDim).squareRoot()
    }
}

/// The feed-forward block (transformers' `CLIPMLP`): fc1 → activation → fc2.
public struct CLIPMLP: Sendable {
    public let fc1: LinearWeights
    public let fc2: LinearWeights
    public let activation: Activation

    /// Loads `fc1` and `fc2` from the `mlp` scope.
    ///
    /// ```swift
    /// let mlp = try CLIPMLP(layer.scoped("mlp"), config: config.text.encoder)
    /// ```
    public init(_ reader: WeightReader, config: EncoderConfig) throws {
        fc1 = try LinearWeights(reader.scoped("fc1"), inFeatures: config.hiddenSize, outFeatures: config.intermediateSize)
        fc2 = try LinearWeights(reader.scoped("fc2"), inFeatures: config.intermediateSize, outFeatures: config.hiddenSize)
        activation = config.activation
    }
}

/// One pre-LN encoder layer (transformers' `CLIPEncoderLayer`).
public struct CLIPEncoderLayer: Sendable {
    public let layerNorm1: LayerNormWeights
    public let selfAttn: CLIPAttention
    public let layerNorm2: LayerNormWeights
    public let mlp: CLIPMLP

    /// Loads one `encoder.layers.N` scope.
    ///
    /// ```swift
    /// let layer = try CLIPEncoderLayer(reader.scoped("encoder.layers.0"), config: cfg)
    /// ```
    public init(_ reader: WeightReader, config: EncoderConfig) throws {
        layerNorm1 = try LayerNormWeights(reader.scoped("layer_norm1"), size: config.hiddenSize, eps: config.layerNormEps)
        selfAttn = try CLIPAttention(reader.scoped("self_attn"), config: config)
        layerNorm2 = try LayerNormWeights(reader.scoped("layer_norm2"), size: config.hiddenSize, eps: config.layerNormEps)
        mlp = try CLIPMLP(reader.scoped("mlp"), config: config)
    }
}

/// The stack of encoder layers (transformers' `CLIPEncoder`).
///
/// ```swift
/// let encoder = try CLIPEncoder(reader.scoped("vision_model.encoder"), config: config.vision.encoder)
/// encoder.forward(&hidden, sequences: [0..<50], causal: false)
/// ```
public struct CLIPEncoder: Sendable {
    public let layers: [CLIPEncoderLayer]
    public let config: EncoderConfig

    /// Loads `layers.0` … `layers.{N-1}` from the `encoder` scope.
    public init(_ reader: WeightReader, config: EncoderConfig) throws {
        self.config = config
        layers = try (0..<config.numHiddenLayers).map {
            try CLIPEncoderLayer(reader.scoped("layers.\($0)"), config: config)
        }
    }

    /// Runs every layer in place over `hidden` (N×C, the stacked tokens of all sequences).
    ///
    /// - Parameters:
    ///   - sequences: the row range of each sequence in `hidden`; attention never crosses them.
    ///   - causal: mask future tokens (the text tower).
    ///   - observe: called with (layer index + 1, hidden) after each layer, for stage-by-stage checks.
    public func forward(
        _ hidden: inout [Float], sequences: [Range<Int>], causal: Bool,
        observe: ((Int, UnsafeBufferPointer<Float>) -> Void)? = nil
    ) {
        let c = config.hiddenSize
        let n = hidden.count / c
        let maxLen = sequences.map(\.count).max() ?? 0
        // Workspace, allocated once per call and reused by every layer.
        var normed = [Float](repeating: 0, count: n * c)
        var qkv = [Float](repeating: 0, count: n * 3 * c)
        var context = [Float](repeating: 0, count: n * c)
        var projected = [Float](repeating: 0, count: n * c)
        var inner = [Float](repeating: 0, count: n * config.intermediateSize)
        var scores = [Float](repeating: 0, count: max(maxLen * maxLen, 1))
        hidden.withUnsafeMutableBufferPointer { h in
            normed.withUnsafeMutableBufferPointer { x in
            qkv.withUnsafeMutableBufferPointer { qkvB in
            context.withUnsafeMutableBufferPointer { ctx in
            projected.withUnsafeMutableBufferPointer { proj in
            inner.withUnsafeMutableBufferPointer { mid in
            scores.withUnsafeMutableBufferPointer { sc in
                for (index, layer) in layers.enumerated() {
                    // x = layer_norm1(hidden)                                  (N, C)
                    layer.layerNorm1(h.baseAddress!, rows: n, out: x.baseAddress!)
                    // q|k|v = x · W_qkvᵀ + b                                    (N, 3C)
                    layer.selfAttn.qkv(x.baseAddress!, rows: n, out: qkvB.baseAddress!)
                    // per sequence and head: softmax(q kᵀ · scale) v          (L, d) each
                    attention(qkvB.baseAddress!, sequences: sequences, attn: layer.selfAttn, causal: causal,
                              scores: sc.baseAddress!, out: ctx.baseAddress!)
                    // hidden += out_proj(context)                              (N, C)
                    layer.selfAttn.outProj(ctx.baseAddress!, rows: n, out: proj.baseAddress!)
                    addInPlace(h.baseAddress!, proj.baseAddress!, count: n * c)
                    // hidden += fc2(act(fc1(layer_norm2(hidden))))            (N, C)
                    layer.layerNorm2(h.baseAddress!, rows: n, out: x.baseAddress!)
                    layer.mlp.fc1(x.baseAddress!, rows: n, out: mid.baseAddress!)
                    layer.mlp.activation.apply(mid.baseAddress!, count: n * config.intermediateSize)
                    layer.mlp.fc2(mid.baseAddress!, rows: n, out: proj.baseAddress!)
                    addInPlace(h.baseAddress!, proj.baseAddress!, count: n * c)
                    observe?(index + 1, UnsafeBufferPointer(h))
                }
            }}}}}}
        }
    }

    /// Scaled dot-product attention over each sequence's rows of the fused q|k|v buffer.
    private func attention(
        _ qkv: UnsafePointer<Float>, sequences: [Range<Int>], attn: CLIPAttention, causal: Bool,
        scores: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>
    ) {
        let c = config.hiddenSize
        let d = attn.headDim
        for seq in sequences where !seq.isEmpty {
            let len = seq.count
            for head in 0..<attn.numHeads {
                let q = qkv + seq.lowerBound * 3 * c + head * d
                let k = q + c
                let v = q + 2 * c
                // scores (L, L) = scale · q_h (L, d) · k_hᵀ
                gemm(transA: false, transB: true, m: len, n: len, k: d, alpha: attn.scale,
                     a: q, lda: 3 * c, b: k, ldb: 3 * c, beta: 0, c: scores, ldc: len)
                softmax(scores, rows: len, cols: len, causal: causal)
                // context_h (L, d) = probs (L, L) · v_h (L, d), written into its head's columns
                gemm(transA: false, transB: false, m: len, n: d, k: len, alpha: 1,
                     a: scores, lda: len, b: v, ldb: 3 * c, beta: 0,
                     c: out + seq.lowerBound * c + head * d, ldc: c)
            }
        }
    }
}
