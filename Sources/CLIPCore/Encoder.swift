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
        weight = try reader.parameter("weight", shape: [size])
        bias = try reader.parameter("bias", shape: [size])
        self.eps = eps
    }

    /// `out = LayerNorm(x)` over `rows` rows.
    public func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>) {
        layerNorm(x, rows: rows, cols: weight.count, gamma: weight.pointer, beta: bias.pointer, eps: eps, out: out)
    }
}

/// `torch.nn.Linear` weights in HF `[out, in]` layout, prepared for the selected matmul backend.
public struct LinearWeights: Sendable {
    /// The weight as stored (kept for the BLAS backend only).
    public let weight: Parameter?
    /// The weight packed into panels (packed backends only).
    public let packed: PackedWeight?
    public let bias: Parameter?
    public let outFeatures: Int
    public let inFeatures: Int
    public let backend: MatmulBackend

    /// Loads `weight` `[out, in]` and, when `bias` is true, `bias` `[out]`.
    ///
    /// ```swift
    /// let fc1 = try LinearWeights(reader.scoped("fc1"), inFeatures: 768, outFeatures: 3072)
    /// ```
    public init(_ reader: WeightReader, inFeatures: Int, outFeatures: Int, bias: Bool = true,
                backend: MatmulBackend = .selected) throws {
        let w = try reader.parameter("weight", shape: [outFeatures, inFeatures])
        let b = bias ? try reader.parameter("bias", shape: [outFeatures]) : nil
        self.init(weight: w, bias: b, backend: backend)
        // Packed backends copied the weight: its mapped pages are no longer needed.
        if packed != nil { reader.release("weight") }
    }

    /// Prepares an already loaded `[out, in]` weight for `backend` (packing it if needed).
    public init(weight: Parameter, bias: Parameter?, backend: MatmulBackend = .selected) {
        outFeatures = weight.shape[0]
        inFeatures = weight.shape.count > 1 ? weight.shape[1] : 1
        self.bias = bias
        self.backend = backend
        switch backend {
        case .blas, .blasSplit:
            self.weight = weight
            packed = nil
        case .packed:
            self.weight = nil
            packed = LoadTimeLayout.pack(weight)
        }
    }

    /// `out = x · Wᵀ + b` for `rows` rows.
    public func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>) {
        switch backend {
        case .packed(let kernel):
            if let packed { packedLinear(x, rows: rows, packed: packed, bias: bias?.pointer, out: out, kernel: kernel) }
        case .blas:
            if let weight {
                linear(x, rows: rows, inFeatures: inFeatures, weight: weight.pointer, outFeatures: outFeatures,
                       bias: bias?.pointer, out: out)
            }
        case .blasSplit:
            if let weight {
                linearSplit(x, rows: rows, inFeatures: inFeatures, weight: weight.pointer, outFeatures: outFeatures,
                            bias: bias?.pointer, out: out, threads: ComputeThreads.count)
            }
        }
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
    public init(_ reader: WeightReader, config: EncoderConfig, backend: MatmulBackend = .selected) throws {
        let c = config.hiddenSize
        func load(_ name: String) throws -> (Parameter, Parameter) {
            (try reader.parameter(name + ".weight", shape: [c, c]), try reader.parameter(name + ".bias", shape: [c]))
        }
        let (w, b) = LoadTimeLayout.fuseQKV(q: try load("q_proj"), k: try load("k_proj"), v: try load("v_proj"))
        qkv = LinearWeights(weight: w, bias: b, backend: backend)
        for name in ["q_proj", "k_proj", "v_proj"] { reader.release(name + ".weight") }   // copied by the fusion
        outProj = try LinearWeights(reader.scoped("out_proj"), inFeatures: c, outFeatures: c, backend: backend)
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
    public init(_ reader: WeightReader, config: EncoderConfig, backend: MatmulBackend = .selected) throws {
        fc1 = try LinearWeights(reader.scoped("fc1"), inFeatures: config.hiddenSize, outFeatures: config.intermediateSize,
                                backend: backend)
        fc2 = try LinearWeights(reader.scoped("fc2"), inFeatures: config.intermediateSize, outFeatures: config.hiddenSize,
                                backend: backend)
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
    public init(_ reader: WeightReader, config: EncoderConfig, backend: MatmulBackend = .selected) throws {
        layerNorm1 = try LayerNormWeights(reader.scoped("layer_norm1"), size: config.hiddenSize, eps: config.layerNormEps)
        selfAttn = try CLIPAttention(reader.scoped("self_attn"), config: config, backend: backend)
        layerNorm2 = try LayerNormWeights(reader.scoped("layer_norm2"), size: config.hiddenSize, eps: config.layerNormEps)
        mlp = try CLIPMLP(reader.scoped("mlp"), config: config, backend: backend)
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
    public init(_ reader: WeightReader, config: EncoderConfig, backend: MatmulBackend = .selected) throws {
        self.config = config
        layers = try (0..<config.numHiddenLayers).map {
            try CLIPEncoderLayer(reader.scoped("layers.\($0)"), config: config, backend: backend)
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
        // Workspace, allocated once per call and reused by every layer.
        var normed = [Float](repeating: 0, count: n * c)
        var qkv = [Float](repeating: 0, count: n * 3 * c)
        var context = [Float](repeating: 0, count: n * c)
        var projected = [Float](repeating: 0, count: n * c)
        var inner = [Float](repeating: 0, count: n * config.intermediateSize)
        hidden.withUnsafeMutableBufferPointer { h in
            normed.withUnsafeMutableBufferPointer { x in
            qkv.withUnsafeMutableBufferPointer { qkvB in
            context.withUnsafeMutableBufferPointer { ctx in
            projected.withUnsafeMutableBufferPointer { proj in
            inner.withUnsafeMutableBufferPointer { mid in
                for (index, layer) in layers.enumerated() {
                    // x = layer_norm1(hidden)                                  (N, C)
                    layer.layerNorm1(h.baseAddress!, rows: n, out: x.baseAddress!)
                    // q|k|v = x · W_qkvᵀ + b                                    (N, 3C)
                    layer.selfAttn.qkv(x.baseAddress!, rows: n, out: qkvB.baseAddress!)
                    // per sequence and head: softmax(q kᵀ · scale) v          (L, d) each
                    attention(qkvB.baseAddress!, sequences: sequences, attn: layer.selfAttn, causal: causal,
                              out: ctx.baseAddress!)
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
            }}}}}
        }
    }

    /// Scaled dot-product attention over each sequence's rows of the fused q|k|v buffer, one task per
    /// (sequence, head), spread over the compute threads.
    private func attention(
        _ qkv: UnsafePointer<Float>, sequences: [Range<Int>], attn: CLIPAttention, causal: Bool,
        out: UnsafeMutablePointer<Float>
    ) {
        let c = config.hiddenSize
        let d = attn.headDim
        let tasks = sequences.filter { !$0.isEmpty }.flatMap { seq in (0..<attn.numHeads).map { (seq, $0) } }
        let maxLen = sequences.map(\.count).max() ?? 0
        let threads = max(1, min(ComputeThreads.count, tasks.count))
        parallelFor(threads) { part in
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: max(maxLen * maxLen, 1))
            defer { scores.deallocate() }
            for t in stride(from: part, to: tasks.count, by: threads) {
                let (seq, head) = tasks[t]
                let q = qkv + seq.lowerBound * 3 * c + head * d
                attentionHead(q: q, k: q + c, v: q + 2 * c, stride: 3 * c, length: seq.count, headDim: d,
                              scale: attn.scale, causal: causal, scores: scores,
                              out: out + seq.lowerBound * c + head * d, outStride: c)
            }
        }
    }
}
