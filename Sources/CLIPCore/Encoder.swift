// The pre-LayerNorm transformer encoder shared by both towers (transformers' CLIPEncoder / CLIPEncoderLayer).
// hidden: (N, C) — the tokens of several sequences stacked; attention runs within each sequence's row range.

import Tensor
import TensorSIMD

/// `torch.nn.LayerNorm` weights.
public struct LayerNormWeights: Sendable {
    /// Scale γ, `[C]`, from `weight` in the norm's scope.
    public let weight: Parameter
    /// Shift β, `[C]`, from `bias` in the norm's scope.
    public let bias: Parameter
    /// Added to the variance before the square root (`layer_norm_eps`).
    public let eps: Float

    /// Loads `weight` and `bias` of shape `[size]` from `reader`'s scope.
    public init(_ reader: WeightReader, size: Int, eps: Float) throws {
        weight = try reader.parameter("weight", shape: [size])
        bias = try reader.parameter("bias", shape: [size])
        self.eps = eps
    }

    /// `out = LayerNorm(x)` over `rows` rows.
    package func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>, _ compute: Compute) {
        compute.layerNorm(x, rows: rows, cols: weight.count, gamma: weight.pointer, beta: bias.pointer, eps: eps, out: out)
    }
}

/// `torch.nn.Linear` weights in HF `[out, in]` layout, prepared for the model's backend at load.
public struct LinearWeights: Sendable {
    /// The weight as the backend stores it (packed panels, or dense for BLAS).
    public let weight: MatmulWeight
    /// Bias, `[out]`, added to every output row; `nil` when loaded with `bias: false`.
    public let bias: Parameter?

    /// Output width: the rows of the `[out, in]` weight.
    public var outFeatures: Int { weight.shape.outFeatures }
    /// Input width: the columns of the `[out, in]` weight.
    public var inFeatures: Int { weight.shape.inFeatures }

    /// Loads `weight` `[out, in]` and, when `bias` is true, `bias` `[out]`.
    /// An encoder layer's weight (`quantizable`) is I8 in an int8 checkpoint; the patch embedding and the
    /// projections stay in floating point.
    public init(_ reader: WeightReader, inFeatures: Int, outFeatures: Int, bias: Bool = true, quantizable: Bool = false,
                compute: Compute) throws {
        let b = bias ? try reader.parameter("bias", shape: [outFeatures]) : nil
        let shape = [outFeatures, inFeatures]
        if quantizable, try reader.isQuantized("weight") {
            self.init(weight: try LoadTimeLayout.int8Weight(reader, key: "weight", outFeatures: outFeatures, inFeatures: inFeatures,
                                                            sources: ["weight"], compute: compute) { _ in
                let (q, scales) = try reader.quantized("weight", shape: shape)
                return (UnsafeMutablePointer(mutating: q), scales.pointer, {})
            }, bias: b)
            return
        }
        try self.init(reader, key: "weight", outFeatures: outFeatures, inFeatures: inFeatures, sources: [("weight", shape)],
                      bias: b, compute: compute) {
            try reader.parameter("weight", shape: shape)
        }
    }

    /// The weight cached as `key` (in `reader`'s scope), built by `makeMatrix` from the checkpoint tensors `sources`
    /// (read, fused or reshaped into `[out, in]`). A packed copy comes from the reader's prepared-weights cache when
    /// it holds one (the sources are then only shape-checked); otherwise the matrix is built, prepared by
    /// ``LoadTimeLayout`` and recorded for the cache, and the sources' mapped pages are released.
    package init(_ reader: WeightReader, key: String, outFeatures n: Int, inFeatures k: Int, sources: [(String, [Int])],
         bias: Parameter?, compute: Compute, makeMatrix: () throws -> Parameter) throws {
        if compute.packsWeights, let prepared = reader.prepared,
           let cached = prepared.packed(reader.key(key), outFeatures: n, inFeatures: k, panelWidth: compute.kernels.panelWidth) {
            for (name, shape) in sources { try reader.declare(name, shape: shape) }
            weight = .packed(cached)
        } else {
            weight = LoadTimeLayout.matmulWeight(try makeMatrix(), compute: compute)
            for (name, shape) in sources { try reader.declare(name, shape: shape) }
            if case .packed(let packed) = weight {
                reader.prepared?.record(reader.key(key), packed)
                for (name, _) in sources { reader.release(name) }   // copied: the mapped pages are no longer needed
            }
        }
        self.bias = bias
    }

    /// Prepares an already loaded `[out, in]` weight for `compute`'s backend (see ``LoadTimeLayout``).
    public init(weight: Parameter, bias: Parameter?, compute: Compute) {
        self.init(weight: LoadTimeLayout.matmulWeight(weight, compute: compute), bias: bias)
    }

    /// Wraps a weight already in the backend's layout.
    package init(weight: MatmulWeight, bias: Parameter?) {
        self.weight = weight
        self.bias = bias
    }

    /// `out = epilogue(x · Wᵀ + b)` for `rows` rows (``GemmEpilogue/accumulate`` adds to `out`).
    package func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>, _ compute: Compute,
                                epilogue: GemmEpilogue = .store) {
        compute.linear(x, rows: rows, weight: weight, bias: bias?.pointer, out: out, epilogue: epilogue)
    }
}

/// Multi-head self-attention (transformers' `CLIPAttention`), with q/k/v fused into one projection at load.
public struct CLIPAttention: Sendable {
    /// `[3C, C]`: rows 0..<C are q_proj, C..<2C k_proj, 2C..<3C v_proj.
    public let qkv: LinearWeights
    /// Output projection, `[C, C]`, from `out_proj`; int8 in an int8 checkpoint.
    public let outProj: LinearWeights
    /// Number of attention heads (`num_attention_heads`).
    public let numHeads: Int
    /// Width of each head: hidden size / heads.
    public let headDim: Int
    /// Factor applied to `q · kᵀ` before the softmax: `1 / √headDim`.
    public let scale: Float

    /// Loads `q_proj`, `k_proj`, `v_proj`, `out_proj` from the `self_attn` scope.
    public init(_ reader: WeightReader, config: EncoderConfig, compute: Compute) throws {
        let c = config.hiddenSize
        let biases = try ["q_proj", "k_proj", "v_proj"].map { try reader.parameter($0 + ".bias", shape: [c]) }
        let names = ["q_proj.weight", "k_proj.weight", "v_proj.weight"]
        if try reader.isQuantized(names[0]) {
            let weight = try LoadTimeLayout.int8Weight(reader, key: "qkv_proj.weight", outFeatures: 3 * c, inFeatures: c,
                                                       sources: names, compute: compute) { _ in
                let parts = try names.map { try reader.quantized($0, shape: [c, c]) }
                let (q, scales) = LoadTimeLayout.fuseQKV(int8: parts.map(\.values), scales: parts.map(\.scales), rows: c, columns: c)
                return (q, UnsafePointer(scales), { q.deallocate(); scales.deallocate() })
            }
            qkv = LinearWeights(weight: weight, bias: LoadTimeLayout.concatenate(biases))
        } else {
        qkv = try LinearWeights(reader, key: "qkv_proj.weight", outFeatures: 3 * c, inFeatures: c,
                                sources: names.map { ($0, [c, c]) }, bias: LoadTimeLayout.concatenate(biases),
                                compute: compute) {
            LoadTimeLayout.fuseQKV(try names.map { try reader.parameter($0, shape: [c, c]) })
        }
        }
        outProj = try LinearWeights(reader.scoped("out_proj"), inFeatures: c, outFeatures: c, quantizable: true, compute: compute)
        numHeads = config.numAttentionHeads
        headDim = config.headDim
        scale = 1 / Float(headDim).squareRoot()
    }
}

/// The feed-forward block (transformers' `CLIPMLP`): fc1 → activation → fc2.
public struct CLIPMLP: Sendable {
    /// Expansion, `[intermediate, C]`, from `fc1`; its output goes through `activation`.
    public let fc1: LinearWeights
    /// Contraction back to the hidden size, `[C, intermediate]`, from `fc2`; its output is added to the residual.
    public let fc2: LinearWeights
    /// Nonlinearity between `fc1` and `fc2` (`hidden_act`).
    public let activation: Activation

    /// Loads `fc1` and `fc2` from the `mlp` scope.
    public init(_ reader: WeightReader, config: EncoderConfig, compute: Compute) throws {
        fc1 = try LinearWeights(reader.scoped("fc1"), inFeatures: config.hiddenSize, outFeatures: config.intermediateSize,
                                quantizable: true, compute: compute)
        fc2 = try LinearWeights(reader.scoped("fc2"), inFeatures: config.intermediateSize, outFeatures: config.hiddenSize,
                                quantizable: true, compute: compute)
        activation = config.hiddenAct
    }
}

/// One pre-LN encoder layer (transformers' `CLIPEncoderLayer`).
public struct CLIPEncoderLayer: Sendable {
    /// Layer norm before self-attention (`layer_norm1`).
    public let layerNorm1: LayerNormWeights
    /// Self-attention (`self_attn`); its output is added to the residual.
    public let selfAttn: CLIPAttention
    /// Layer norm before the MLP (`layer_norm2`).
    public let layerNorm2: LayerNormWeights
    /// Feed-forward block (`mlp`); its output is added to the residual.
    public let mlp: CLIPMLP

    /// Loads one `encoder.layers.N` scope.
    public init(_ reader: WeightReader, config: EncoderConfig, compute: Compute) throws {
        layerNorm1 = try LayerNormWeights(reader.scoped("layer_norm1"), size: config.hiddenSize, eps: config.layerNormEps)
        selfAttn = try CLIPAttention(reader.scoped("self_attn"), config: config, compute: compute)
        layerNorm2 = try LayerNormWeights(reader.scoped("layer_norm2"), size: config.hiddenSize, eps: config.layerNormEps)
        mlp = try CLIPMLP(reader.scoped("mlp"), config: config, compute: compute)
    }
}

/// The stack of encoder layers (transformers' `CLIPEncoder`).
///
/// ```swift
/// let encoder = try CLIPEncoder(reader.scoped("vision_model.encoder"), config: config.vision.encoder, compute: compute)
/// encoder.forward(&hidden, sequences: [0..<50], causal: false)
/// ```
public struct CLIPEncoder: Sendable {
    /// The layers in order, `layers.0` first; `config.numHiddenLayers` of them.
    public let layers: [CLIPEncoderLayer]
    /// Shape of the stack: widths, layer and head counts, activation and layer-norm epsilon.
    public let config: EncoderConfig
    /// The kernels and threads the layers run with.
    public let compute: Compute

    /// Loads `layers.0` … `layers.{N-1}` from the `encoder` scope.
    public init(_ reader: WeightReader, config: EncoderConfig, compute: Compute) throws {
        self.config = config
        self.compute = compute
        layers = try (0..<config.numHiddenLayers).map {
            try CLIPEncoderLayer(reader.scoped("layers.\($0)"), config: config, compute: compute)
        }
    }

    /// Runs every layer in place over `hidden` (N×C, the stacked tokens of all sequences).
    ///
    /// - Parameters:
    ///   - sequences: the row range of each sequence in `hidden`; attention never crosses them.
    ///   - causal: mask future tokens (the text tower).
    ///   - sharedPrefix: with `causal`, the number of leading tokens every sequence shares, stored once in rows
    ///     `0..<sharedPrefix`; `sequences` then give each sequence's remaining rows. The shared rows' values do not
    ///     depend on what follows them (causal mask), so computing them once is exact.
    ///   - observe: called with (layer index + 1, hidden) after each layer, for stage-by-stage checks.
    public func forward(
        _ hidden: inout [Float], sequences: [Range<Int>], causal: Bool, sharedPrefix: Int = 0,
        observe: ((Int, UnsafeBufferPointer<Float>) -> Void)? = nil
    ) {
        let c = config.hiddenSize
        let n = hidden.count / c
        let compute = self.compute
        let profile = Profiler.shared
        // Workspace for every layer, from the compute's reusable scratch (fresh allocations would page-fault
        // megabytes per pass at batch 8).
        let sizes = [n * c, n * 3 * c, n * c, n * config.intermediateSize]
        compute.withScratch(sizes.reduce(0, +)) { workspace in
            let x = workspace, qkv = x + sizes[0], context = qkv + sizes[1], inner = context + sizes[2]
            hidden.withUnsafeMutableBufferPointer { buffer in
                guard let h = buffer.baseAddress else { return }
                for (index, layer) in layers.enumerated() {
                    let attn = layer.selfAttn
                    // x = layer_norm1(hidden)                                      (N, C)
                    profile.measure(.layerNorm, layer: index) { layer.layerNorm1(h, rows: n, out: x, compute) }
                    // q|k|v = x · W_qkvᵀ + b                                        (N, 3C)
                    profile.measure(.qkv, layer: index) { attn.qkv(x, rows: n, out: qkv, compute) }
                    // per sequence and head: softmax(q kᵀ · scale) v              (L, d) each
                    profile.measure(.attention, layer: index) {
                        if causal && sharedPrefix > 0 {
                            compute.attention(qkv, sharedPrefix: sharedPrefix, suffixes: sequences, heads: attn.numHeads,
                                              headDim: attn.headDim, scale: attn.scale, out: context)
                        } else {
                            compute.attention(qkv, sequences: sequences, heads: attn.numHeads, headDim: attn.headDim,
                                              scale: attn.scale, causal: causal, out: context)
                        }
                    }
                    // hidden += out_proj(context)                                  (N, C)
                    profile.measure(.outProj, layer: index) {
                        attn.outProj(context, rows: n, out: h, compute, epilogue: .accumulate)
                    }
                    // x = layer_norm2(hidden)                                      (N, C)
                    profile.measure(.layerNorm, layer: index) { layer.layerNorm2(h, rows: n, out: x, compute) }
                    // inner = act(fc1(x))                                          (N, I)
                    profile.measure(.fc1, layer: index) {
                        layer.mlp.fc1(x, rows: n, out: inner, compute, epilogue: .activation(layer.mlp.activation.kind))
                    }
                    // hidden += fc2(inner)                                         (N, C)
                    profile.measure(.fc2, layer: index) {
                        layer.mlp.fc2(inner, rows: n, out: h, compute, epilogue: .accumulate)
                    }
                    observe?(index + 1, UnsafeBufferPointer(buffer))
                }
            }
        }
    }
}
