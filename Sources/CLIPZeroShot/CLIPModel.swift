// transformers' CLIPModel: both towers plus `logit_scale`, loaded from a Hugging Face directory.

@_exported import CLIPCore
@_exported import Tensor
@_exported import CLIPTokenizer
@_exported import TextTransformer
@_exported import VisionTransformer

#if canImport(Glibc)
import Glibc
#endif

/// Both CLIP towers and the learned temperature, loaded from one checkpoint.
///
/// ```swift
/// let model = try CLIPModel(directory: "/models/clip-vit-base-patch32")
/// let image = try model.vision.imageFeatures(pixels, batch: 1)
/// let text = try model.text.textFeatures(ids)
/// let logits = model.logits(imageEmbeds: image, textEmbeds: text)   // (1, labels)
/// ```
public struct CLIPModel: Sendable {
    public let config: CLIPConfig
    public let vision: VisionTransformer
    public let text: TextTransformer
    /// The raw `logit_scale` parameter; logits use `exp(logitScale)`.
    public let logitScale: Float
    /// Whether the packed weights came from ``LoadOptions/preparedWeightsDirectory`` or were written to it.
    public private(set) var preparedWeights = PreparedWeightsState.disabled
    /// Why the prepared weights could not be written, when ``preparedWeights`` is `.notWritten`.
    public private(set) var preparedWeightsProblem: String?
    /// The kernels and threads the towers compute with.
    public var compute: Compute { vision.encoder.compute }

    /// Loads `config.json`, `model.safetensors` (F32, F16 or BF16) and, if present, `preprocessor_config.json`.
    /// Every tensor must be consumed: unknown keys are an error, except the I64 `position_ids` buffers.
    ///
    /// ```swift
    /// let model = try CLIPModel(directory: "Weights/demo")
    /// ```
    /// - Throws: ``ConfigError``, ``SafeTensorsError`` or ``WeightError`` naming the file and key at fault.
    public init(directory: String, options: LoadOptions = LoadOptions()) throws {
        let config = try CLIPConfig(contentsOf: directory + "/config.json")
        let file = try SafeTensorsFile(path: directory + "/model.safetensors")
        let prePath = directory + "/preprocessor_config.json"
        var st = stat()
        let hasPre = stat(prePath, &st) == 0
        let pre = hasPre ? try ImagePreprocessor(contentsOf: prePath) : nil
        let compute = try options.makeCompute()
        let prepared = options.preparedWeightsDirectory.flatMap { dir in
            compute.packsWeights ? PreparedWeights(directory: dir, source: file, compute: compute) : nil
        }
        try self.init(config: config, weights: WeightReader(file: file, prepared: prepared, quantized: config.quantization != nil),
                      preprocessor: pre, compute: compute)
        prepared?.save()
        preparedWeights = prepared?.state ?? .disabled
        preparedWeightsProblem = prepared?.problem
    }

    /// Loads from an open checkpoint with a known configuration.
    ///
    /// ```swift
    /// let model = try CLIPModel(config: .vitBasePatch32, weights: WeightReader(file: file), compute: try Compute())
    /// ```
    public init(config: CLIPConfig, weights root: WeightReader, preprocessor: ImagePreprocessor? = nil,
                compute: Compute) throws {
        self.config = config
        // The towers share nothing but the read-only file: load them on two threads (page faults, the
        // non-finite scan and packing overlap).
        var visionResult: Result<VisionTransformer, Error>?
        var textResult: Result<TextTransformer, Error>?
        compute.parallel(2) { part in
            if part == 0 {
                visionResult = Result {
                    try VisionTransformer(weights: root, config: config.vision, projectionDim: config.projectionDim,
                                          preprocessor: preprocessor, compute: compute)
                }
            } else {
                textResult = Result {
                    try TextTransformer(weights: root, config: config.text, projectionDim: config.projectionDim,
                                        compute: compute)
                }
            }
        }
        guard let visionResult, let textResult else { throw WeightError.unexpected(keys: [], file: root.file.path) }
        vision = try visionResult.get()
        text = try textResult.get()
        let scale = try root.tensor("logit_scale", shape: [])
        logitScale = scale.storage[0]
        guard logitScale.isFinite else {
            throw WeightError.nonFinite(key: "logit_scale", index: 0, file: root.file.path)
        }
        try root.checkAllConsumed()
        guard vision.preprocessor.cropHeight == config.vision.imageSize,
              vision.preprocessor.cropWidth == config.vision.imageSize else {
            throw ConfigError.invalidValue(
                file: "preprocessor_config.json", field: "crop_size",
                value: "\(vision.preprocessor.cropHeight)×\(vision.preprocessor.cropWidth)",
                reason: "must equal vision_config.image_size \(config.vision.imageSize)")
        }
    }

    /// Wraps towers that were loaded separately.
    ///
    /// ```swift
    /// let model = CLIPModel(vision: v, text: t, logitScale: 4.6052, config: config)
    /// ```
    public init(vision: VisionTransformer, text: TextTransformer, logitScale: Float, config: CLIPConfig) {
        self.vision = vision
        self.text = text
        self.logitScale = logitScale
        self.config = config
    }

    /// `logits_per_image` = exp(logit_scale) · cos(image_i, text_j), shape (images, texts).
    ///
    /// ```swift
    /// let logits = model.logits(imageEmbeds: img, textEmbeds: txt)
    /// ```
    public func logits(imageEmbeds: Tensor, textEmbeds: Tensor) -> Tensor {
        var img = imageEmbeds, txt = textEmbeds
        let d = img.shape.last ?? 0
        let ni = d == 0 ? 0 : img.count / d, nt = d == 0 ? 0 : txt.count / d
        img.storage.withUnsafeMutableBufferPointer { l2Normalize($0.baseAddress!, rows: ni, cols: d) }
        txt.storage.withUnsafeMutableBufferPointer { l2Normalize($0.baseAddress!, rows: nt, cols: d) }
        var out = [Float](repeating: 0, count: ni * nt)
        let scale = Float(exp(Double(logitScale)))
        img.storage.withUnsafeBufferPointer { a in
            txt.storage.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { c in
                    blasGemm(transA: false, transB: true, m: ni, n: nt, k: d, alpha: scale, a: a.baseAddress!, lda: d,
                         b: b.baseAddress!, ldb: d, beta: 0, c: c.baseAddress!, ldc: nt)
                }
            }
        }
        return Tensor(computedShape: [ni, nt], storage: out)
    }
}
