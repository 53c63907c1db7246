// transformers' CLIPModel: both towers plus `logit_scale`, loaded from a Hugging Face directory.

import CLIPCore
import Foundation
import Synchronization
import Tensor
import TextTransformer
import VisionTransformer

#if canImport(Glibc)
import Glibc
#endif

/// Both CLIP towers and the learned temperature, loaded from one checkpoint.
///
/// ```swift
/// let model = try CLIPModel(directory: "/models/clip-vit-base-patch32")
/// print(model.config.projectionDim, model.compute.backend)
/// ```
public struct CLIPModel: Sendable {
    /// The checkpoint's `config.json`.
    public let config: CLIPConfig
    /// The image tower (`get_image_features`).
    public let vision: VisionTransformer
    /// The text tower (`get_text_features`).
    public let text: TextTransformer
    /// The raw `logit_scale` parameter; logits use `exp(logitScale)`.
    public let logitScale: Float
    /// Whether the packed weights came from `LoadOptions.preparedWeightsDirectory` or were written to it.
    public private(set) var preparedWeights = PreparedWeightsState.disabled
    /// Why the prepared weights could not be written, when ``preparedWeights`` is `.notWritten`.
    public private(set) var preparedWeightsProblem: String?
    /// The kernels and threads the towers compute with.
    public var compute: Compute { vision.encoder.compute }
    /// Maps a tower's prepared weights in ahead of its first pass; nil without a mapped prepared-weights cache.
    private var warmer: WeightWarmer?

    /// A model tower, for ``warmUp(_:)``.
    public enum Tower: Sendable, CaseIterable {
        /// `vision_model.*` and `visual_projection`.
        case vision
        /// `text_model.*` and `text_projection`.
        case text

        var prefixes: [String] {
            switch self {
            case .vision: return ["vision_model.", "visual_projection."]
            case .text: return ["text_model.", "text_projection."]
            }
        }
    }

    /// Starts mapping the prepared (memory-mapped) weights of `towers` into the process on a background thread,
    /// once per tower, and returns at once. Without it a tower's first pass takes its page faults one by one
    /// (~20 ms for the ViT-B/32 image tower here); ``CLIP`` calls this before decoding images, while the second
    /// core would otherwise wait. Only timing changes: results are identical whether or not the pages are in.
    ///
    /// ```swift
    /// model.warmUp([.vision])
    /// let pixels = model.vision.preprocess(try decoder.decode(bytes))   // the pages come in meanwhile
    /// ```
    public func warmUp(_ towers: [Tower]) {
        warmer?.start(towers)
    }

    /// Loads `config.json`, `model.safetensors` (F32, F16 or BF16) and, if present, `preprocessor_config.json`.
    /// Every tensor must be consumed: unknown keys are an error, except the I64 `position_ids` buffers.
    ///
    /// ```swift
    /// let model = try CLIPModel(directory: "Weights/demo")
    /// ```
    /// - Throws: ``ConfigError``, ``SafeTensorsError`` or ``WeightError`` naming the file and key at fault.
    public init(directory: String, options: LoadOptions = LoadOptions()) throws {
        try CLIPModel.checkCheckpointFiles(directory)
        let config = try CLIPConfig(contentsOf: directory + "/config.json")
        let file = try SafeTensorsFile(path: directory + "/model.safetensors", copy: options.copyWeights)
        let prePath = directory + "/preprocessor_config.json"
        var st = stat()
        let hasPre = stat(prePath, &st) == 0
        let pre = hasPre ? try ImagePreprocessor(contentsOf: prePath) : nil
        let compute = try options.makeCompute()
        // A mapped cache is another file under the process: not with copied weights.
        let prepared = options.copyWeights ? nil : options.preparedWeightsDirectory.flatMap { dir in
            compute.packsWeights ? PreparedWeights(directory: dir, source: file, compute: compute) : nil
        }
        try self.init(config: config, weights: WeightReader(file: file, prepared: prepared, quantized: config.quantization != nil),
                      preprocessor: pre, compute: compute)
        prepared?.save()
        if let prepared, prepared.isValid { warmer = WeightWarmer(prepared) }
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

    /// `logits_per_image` = exp(logit_scale) · cos(image_i, text_j), row-major (images, texts).
    package func logits(imageEmbeds: Embeddings, textEmbeds: Embeddings) throws -> [Float] {
        try Embeddings.cosine(imageEmbeds, textEmbeds, scale: Float(exp(Double(logitScale))))
    }

    /// A directory without `model.safetensors` but with another checkpoint format gets an error that says how to
    /// convert it.
    static func checkCheckpointFiles(_ directory: String) throws {
        let fm = FileManager.default
        guard !fm.fileExists(atPath: directory + "/model.safetensors") else { return }
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw FileReadError(path: directory, reason: "no such directory (expected a Hugging Face CLIP directory: config.json + model.safetensors)")
        }
        let names = (try? fm.contentsOfDirectory(atPath: directory)) ?? []
        let hint: String
        if names.contains("pytorch_model.bin") {
            hint = "it holds pytorch_model.bin: convert with `Tools/convert hf \(directory) --out DIR`, or download the safetensors file (Tools/download-weights)"
        } else if let pt = names.first(where: { $0.hasSuffix(".pt") }) {
            hint = "it holds \(pt): convert with `Tools/convert openai \(directory)/\(pt) --out DIR`"
        } else if names.contains("onnx") || names.contains(where: { $0.hasSuffix(".onnx") }) {
            hint = "it holds ONNX files: convert with `Tools/convert onnx \(directory) --out DIR`"
        } else {
            hint = "expected a Hugging Face CLIP directory (config.json + model.safetensors); see Tools/download-weights"
        }
        throw FileReadError(path: directory + "/model.safetensors", reason: "missing; \(hint)")
    }
}

/// Populates the prepared-weights mapping per tower on a detached thread, at most once per tower.
private final class WeightWarmer: Sendable {
    private let prepared: PreparedWeights
    private let started = Mutex<Set<CLIPModel.Tower>>([])

    init(_ prepared: PreparedWeights) { self.prepared = prepared }

    func start(_ towers: [CLIPModel.Tower]) {
        let new = started.withLock { done -> [CLIPModel.Tower] in
            let todo = towers.filter { !done.contains($0) }
            done.formUnion(todo)
            return todo
        }
        guard !new.isEmpty else { return }
        let prepared = self.prepared
        Thread.detachNewThread { prepared.populate(prefixes: new.flatMap(\.prefixes)) }
    }
}
