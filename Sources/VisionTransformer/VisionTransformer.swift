// The CLIP vision tower, mirroring transformers' CLIPVisionEmbeddings, CLIPVisionTransformer and the
// `visual_projection` of CLIPModel. pixel_values: (B, 3, S, S) -> image_embeds: (B, P).

import CLIPCore
import CLIPImageIO
import Tensor

/// `vision_model.embeddings`: patch embedding (a stride-P conv as a matmul), class token, positions.
public struct CLIPVisionEmbeddings: Sendable {
    /// `[C]`
    public let classEmbedding: Parameter
    /// `[C, 3·P·P]`, the conv weight flattened at load (see `LoadTimeLayout.patchConvToMatrix`).
    public let patchEmbedding: LinearWeights
    /// `[numPositions, C]`
    public let positionEmbedding: Parameter
    /// The vision tower's hyper-parameters; they fix the patch grid and the embedding width.
    public let config: CLIPVisionConfig

    /// Loads `class_embedding`, `patch_embedding.weight`, `position_embedding.weight`.
    public init(_ reader: WeightReader, config: CLIPVisionConfig, compute: Compute) throws {
        let c = config.hiddenSize, p = config.patchSize
        self.config = config
        classEmbedding = try reader.parameter("class_embedding", shape: [c])
        let convShape = [c, config.numChannels, p, p], k = config.numChannels * p * p
        if reader.quantizedCheckpoint {
            // An int8 checkpoint keeps the conv in floating point (F16 from `clip quantize`); it is quantized per
            // output channel here, at load, so the patch embedding runs in the int8 GEMM like every other layer
            // (ONNX Runtime's quantize_dynamic quantizes this Conv too).
            let weight = try LoadTimeLayout.int8Weight(reader, key: "patch_embedding.weight", outFeatures: c, inFeatures: k,
                                                       sources: [], compute: compute) { levels in
                // The conv's memory order is already the [C, 3·P·P] matrix's (see patchConvToMatrix): no reshape copy.
                let conv = try reader.parameter("patch_embedding.weight", shape: convShape)
                let q = UnsafeMutablePointer<Int8>.allocate(capacity: c * k)
                let scales = UnsafeMutablePointer<Float>.allocate(capacity: c)
                LoadTimeLayout.quantizeRows(conv.pointer, rows: c, columns: k, levels: levels, into: q, scales: scales)
                return (q, UnsafePointer(scales), { q.deallocate(); scales.deallocate() })
            }
            try reader.declare("patch_embedding.weight", shape: convShape)
            reader.release("patch_embedding.weight")
            patchEmbedding = LinearWeights(weight: weight, bias: nil)
        } else {
            patchEmbedding = try LinearWeights(reader, key: "patch_embedding.weight", outFeatures: c, inFeatures: k,
                                               sources: [("patch_embedding.weight", convShape)], bias: nil, compute: compute) {
                LoadTimeLayout.patchConvToMatrix(try reader.parameter("patch_embedding.weight", shape: convShape))
            }
        }
        positionEmbedding = try reader.parameter("position_embedding.weight", shape: [config.numPositions, c])
    }

    /// Writes the embeddings of `batch` images into `out` (`batch·T × C`, T = patches + 1).
    func forward(_ pixels: UnsafePointer<Float>, batch: Int, out: UnsafeMutablePointer<Float>, compute: Compute) {
        let c = config.hiddenSize, p = config.patchSize, s = config.imageSize, g = config.gridSize
        let ch = config.numChannels
        let t = config.numPositions
        let patchLen = ch * p * p
        // Unfold patches in (channel, row, column) order, the conv weight's memory order: (B·G², 3·P·P), in the
        // compute's reusable scratch, followed by room for their embeddings (B·G², C).
        let patchCount = batch * g * g
        compute.withScratch(patchCount * (patchLen + c)) { patches in
            let embedded = patches + patchCount * patchLen
            for b in 0..<batch {
                let img = pixels + b * ch * s * s
                for gy in 0..<g {
                    for gx in 0..<g {
                        var d = patches + ((b * g + gy) * g + gx) * patchLen
                        for cc in 0..<ch {
                            for py in 0..<p {
                                let row = img + cc * s * s + (gy * p + py) * s + gx * p
                                d.update(from: row, count: p)
                                d += p
                            }
                        }
                    }
                }
            }
            // patch_embeds (B·G², C) = patches · Wᵀ for all images in one product
            patchEmbedding(patches, rows: patchCount, out: embedded, compute)
            for b in 0..<batch {
                // token 0 = class_embedding, tokens 1…G² = patch_embeds; then + position_embedding for all T tokens
                (out + b * t * c).update(from: classEmbedding.pointer, count: c)
                (out + (b * t + 1) * c).update(from: embedded + b * g * g * c, count: g * g * c)
                addInPlace(out + b * t * c, positionEmbedding.pointer, count: t * c)
            }
        }
    }
}

/// The result of a vision forward pass with its intermediate stages (for checks against transformers).
public struct VisionOutput: Sendable {
    /// `(B, T, C)` embeddings before `pre_layrnorm`.
    public var embeddings: Tensor
    /// HF's `hidden_states`: index 0 after `pre_layrnorm`, then one per layer, each `(B, T, C)`. Empty unless asked.
    public var hiddenStates: [Tensor]
    /// `(B, C)` `post_layernorm` of the class token (HF `pooler_output`).
    public var pooled: Tensor
    /// `(B, P)` projected features (`get_image_features`).
    public var imageEmbeds: Tensor
}

/// The vision tower with its projection (transformers' `CLIPVisionModelWithProjection` inside `CLIPModel`).
///
/// ```swift
/// let vision = try VisionTransformer(directory: "Weights/demo")
/// let pixels = vision.preprocessor(try ImageDecoder().decode(path: "cat.jpg"))
/// let features = try vision.imageFeatures(pixels, batch: 1)   // (1, projection_dim)
/// ```
public struct VisionTransformer: Sendable {
    /// The vision tower's hyper-parameters (`vision_config`).
    public let config: CLIPVisionConfig
    /// Patch, class and position embeddings, from `vision_model.embeddings`.
    public let embeddings: CLIPVisionEmbeddings
    /// `vision_model.pre_layrnorm` (HF's spelling), applied to the embeddings before the encoder.
    public let preLayrnorm: LayerNormWeights
    /// The transformer stack, from `vision_model.encoder` (no causal mask).
    public let encoder: CLIPEncoder
    /// `vision_model.post_layernorm`, applied to each image's class token before the projection.
    public let postLayernorm: LayerNormWeights
    /// `visual_projection.weight`, `[P, C]`, no bias.
    public let visualProjection: LinearWeights
    /// The image preprocessing this checkpoint expects.
    public let preprocessor: ImagePreprocessor

    /// Loads the tower from a root-scoped reader over a CLIP checkpoint (`vision_model.*`, `visual_projection.*`).
    public init(weights root: WeightReader, config: CLIPVisionConfig, projectionDim: Int,
                preprocessor: ImagePreprocessor? = nil, compute: Compute) throws {
        self.config = config
        let vm = root.scoped("vision_model")
        vm.ignore("embeddings.position_ids")
        embeddings = try CLIPVisionEmbeddings(vm.scoped("embeddings"), config: config, compute: compute)
        preLayrnorm = try LayerNormWeights(vm.scoped("pre_layrnorm"), size: config.hiddenSize, eps: config.layerNormEps)
        encoder = try CLIPEncoder(vm.scoped("encoder"), config: config.encoder, compute: compute)
        postLayernorm = try LayerNormWeights(vm.scoped("post_layernorm"), size: config.hiddenSize, eps: config.layerNormEps)
        visualProjection = try LinearWeights(root.scoped("visual_projection"), inFeatures: config.hiddenSize,
                                             outFeatures: projectionDim, bias: false, compute: compute)
        self.preprocessor = preprocessor ?? ImagePreprocessor(size: config.imageSize)
    }

    /// Loads the tower from a Hugging Face directory (`config.json`, `model.safetensors`, optional
    /// `preprocessor_config.json`), rejecting unexpected `vision_model.*` tensors.
    public init(directory: String, options: LoadOptions = LoadOptions()) throws {
        let config = try CLIPConfig(contentsOf: directory + "/config.json")
        let root = WeightReader(file: try SafeTensorsFile(path: directory + "/model.safetensors"))
        let prePath = directory + "/preprocessor_config.json"
        let pre: ImagePreprocessor? = fileExists(prePath) ? try ImagePreprocessor(contentsOf: prePath) : nil
        try self.init(weights: root, config: config.vision, projectionDim: config.projectionDim, preprocessor: pre,
                      compute: try options.makeCompute())
        try root.checkAllConsumed(under: ["vision_model.", "visual_projection."])
    }

    /// ``preprocessor`` applied to `image`, its resize spread over this tower's threads.
    public func preprocess(_ image: RGBImage) -> [Float] {
        preprocessor.preprocess(image, parallel: encoder.compute.parallel)
    }

    /// Projected image features (`get_image_features`) for `batch` images of preprocessed pixels.
    /// - Throws: ``TensorError/shapeMismatch(expected:actual:)`` if `pixels` is not `batch·3·S·S` floats.
    public func imageFeatures(_ pixels: [Float], batch: Int) throws -> Tensor {
        try forward(pixels, batch: batch, keepHiddenStates: false).imageEmbeds
    }

    /// The full forward pass with intermediate stages.
    ///
    /// ```swift
    /// let out = try vision.forward(pixels, batch: 1, keepHiddenStates: true)
    /// print(out.hiddenStates.count)   // layers + 1
    /// ```
    public func forward(_ pixels: [Float], batch: Int, keepHiddenStates: Bool = false) throws -> VisionOutput {
        let c = config.hiddenSize, t = config.numPositions, s = config.imageSize
        let expected = [batch, config.numChannels, s, s]
        guard batch >= 0, pixels.count == batch * config.numChannels * s * s else {
            throw TensorError.shapeMismatch(expected: expected, actual: [pixels.count])
        }
        // embeddings (B·T, C)
        var emb = [Float](repeating: 0, count: batch * t * c)
        Profiler.shared.measure(.embeddings) {
            pixels.withUnsafeBufferPointer { px in
                emb.withUnsafeMutableBufferPointer { e in
                    embeddings.forward(px.baseAddress!, batch: batch, out: e.baseAddress!, compute: encoder.compute)
                }
            }
        }
        // hidden = pre_layrnorm(embeddings)
        var hidden = [Float](repeating: 0, count: batch * t * c)
        emb.withUnsafeBufferPointer { e in
            hidden.withUnsafeMutableBufferPointer { h in preLayrnorm(e.baseAddress!, rows: batch * t, out: h.baseAddress!, encoder.compute) }
        }
        var states: [Tensor] = []
        if keepHiddenStates { states.append(Tensor(computedShape: [batch, t, c], storage: hidden)) }
        // encoder: every image is its own sequence of T tokens, no mask
        let sequences = (0..<batch).map { ($0 * t)..<(($0 + 1) * t) }
        encoder.forward(&hidden, sequences: sequences, causal: false, observe: keepHiddenStates ? { _, h in
            states.append(Tensor(computedShape: [batch, t, c], storage: Array(h)))
        } : nil)
        // pooled = post_layernorm(hidden[:, 0])                              (B, C)
        var cls = [Float](repeating: 0, count: batch * c)
        for b in 0..<batch { cls.replaceSubrange((b * c)..<((b + 1) * c), with: hidden[(b * t * c)..<(b * t * c + c)]) }
        var pooled = [Float](repeating: 0, count: batch * c)
        cls.withUnsafeBufferPointer { x in
            pooled.withUnsafeMutableBufferPointer { y in postLayernorm(x.baseAddress!, rows: batch, out: y.baseAddress!, encoder.compute) }
        }
        // image_embeds = visual_projection(pooled)                            (B, P)
        let pdim = visualProjection.outFeatures
        var projected = [Float](repeating: 0, count: batch * pdim)
        Profiler.shared.measure(.projection) {
            pooled.withUnsafeBufferPointer { x in
                projected.withUnsafeMutableBufferPointer { y in
                    visualProjection(x.baseAddress!, rows: batch, out: y.baseAddress!, encoder.compute)
                }
            }
        }
        return VisionOutput(
            embeddings: Tensor(computedShape: [batch, t, c], storage: emb), hiddenStates: states,
            pooled: Tensor(computedShape: [batch, c], storage: pooled), imageEmbeds: Tensor(computedShape: [batch, pdim], storage: projected))
    }
}


#if canImport(Glibc)
import Glibc
#endif

/// Whether a regular file exists at `path`.
func fileExists(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
}
