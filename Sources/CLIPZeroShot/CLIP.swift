// The user-facing facade: zero-shot classification, embeddings and similarity over images and text.

import CLIPCore
import CLIPImageIO
import CLIPTokenizer
import Foundation
import Tensor
import VisionTransformer

/// Zero-shot image classification and embeddings with a CLIP model.
///
/// Thread-safe: the model is immutable after loading and the prompt cache is locked, so one instance can serve
/// many concurrent tasks.
/// ```swift
/// let clip = try CLIP(directory: "/models/clip-vit-base-patch32")
/// let ranked = try clip.classify(image: .path("photo.jpg"), labels: ["cat", "dog", "car"])
/// print(ranked[0].label, ranked[0].score)
/// ```
public final class CLIP: Sendable {
    /// This release's semantic version (also `clip --version`).
    public static let version = "0.3.0"

    /// The two towers and the learned temperature.
    public let model: CLIPModel
    /// Decodes ``CLIPImage/path(_:)`` and ``CLIPImage/data(_:)-swift.enum.case`` inputs, with its size limits.
    public let decoder: ImageDecoder
    private let given: CLIPTokenizer?
    private let cache: EmbeddingCache

    /// The tokenizer: the shared one (compiled-in vocabulary) unless one was given.
    public var tokenizer: CLIPTokenizer {
        get throws {
            if let given { return given }
            return try CLIPTokenizer.shared()
        }
    }

    /// Loads a Hugging Face CLIP directory (`config.json` + `model.safetensors`, F32, F16, BF16 or this package's
    /// int8 format).
    ///
    /// ```swift
    /// let clip = try CLIP(directory: "Weights/demo", options: LoadOptions(threads: 2))
    /// ```
    /// - Parameters:
    ///   - directory: a Hugging Face CLIP directory.
    ///   - options: compute backend, threads and prepared-weights cache.
    ///   - decoder: decodes image inputs, with its size limits.
    ///   - cacheCapacity: prompt embeddings kept in an LRU cache (0 disables it).
    /// - Throws: ``ConfigError``, ``SafeTensorsError``, ``WeightError`` or ``FileReadError`` naming the file and key.
    public convenience init(directory: String, options: LoadOptions = LoadOptions(), decoder: ImageDecoder = ImageDecoder(),
                            cacheCapacity: Int = 4096) throws {
        warnIfDebugBuild()
        // The shared tokenizer's one-time set-up runs in the background while the weights load.
        DispatchQueue.global().async { _ = try? CLIPTokenizer.shared() }
        let model = try CLIPModel(directory: directory, options: options)
        self.init(model: model, tokenizer: nil, decoder: decoder, cacheCapacity: cacheCapacity)
    }

    /// Loads a Hugging Face CLIP directory given as a file URL.
    public convenience init(weights: URL, options: LoadOptions = LoadOptions(), decoder: ImageDecoder = ImageDecoder(),
                            cacheCapacity: Int = 4096) throws {
        try self.init(directory: weights.path, options: options, decoder: decoder, cacheCapacity: cacheCapacity)
    }

    /// Wraps an already-loaded model (for example towers loaded separately).
    public convenience init(model: CLIPModel, tokenizer: CLIPTokenizer, decoder: ImageDecoder = ImageDecoder(),
                            cacheCapacity: Int = 4096) {
        self.init(model: model, tokenizer: Optional(tokenizer), decoder: decoder, cacheCapacity: cacheCapacity)
    }

    private init(model: CLIPModel, tokenizer: CLIPTokenizer?, decoder: ImageDecoder, cacheCapacity: Int) {
        self.model = model
        self.given = tokenizer
        self.decoder = decoder
        self.cache = EmbeddingCache(capacity: cacheCapacity)
    }

    // MARK: Classification

    /// Ranks `labels` for an image: softmax over exp(logit_scale)·cos(image, prompt), sorted descending; the same
    /// numbers as transformers' `zero-shot-image-classification` pipeline.
    ///
    /// ```swift
    /// let r = try clip.classify(image: .path("dog.jpg"), labels: ["dog", "cat"])                       // default template
    /// let v = try clip.classify(image: .path("dog.jpg"), labels: ["a dog", "a cat"], template: .verbatim)
    /// ```
    public func classify(image: CLIPImage, labels: [String], template: PromptTemplate = .default) throws -> [LabelScore] {
        try classify(images: [image], labels: labels, templates: [template])[0]
    }

    /// Prompt ensembling: each label's text embedding is the normalised mean of its normalised embeddings under
    /// every template (OpenAI's recipe; ``PromptTemplate/imageNet`` holds its 80 ImageNet templates).
    ///
    /// ```swift
    /// let r = try clip.classify(image: .path("dog.jpg"), labels: ["dog", "cat"], templates: PromptTemplate.imageNet)
    /// ```
    public func classify(image: CLIPImage, labels: [String], templates: [PromptTemplate]) throws -> [LabelScore] {
        try classify(images: [image], labels: labels, templates: templates)[0]
    }

    /// Classifies several images against the same labels, with batched image passes.
    public func classify(images: [CLIPImage], labels: [String], templates: [PromptTemplate] = [.default]) throws -> [[LabelScore]] {
        try CLIPError.validate(labels: labels, templates: templates)
        model.warmUp([.vision, .text])   // mapped in while the images decode
        // Images first: on a fresh load, the tokenizer finishes its set-up meanwhile.
        let imageEmbeds = try imageEmbeddings(images)
        return try rank(imageEmbeddings: imageEmbeds, labels: labels,
                        labelEmbeddings: labelEmbeddings(labels, templates: templates))
    }

    /// Ranks labels for image embeddings already computed (one result per image row).
    ///
    /// ```swift
    /// let images = try clip.imageEmbeddings([.path("a.jpg")])
    /// let labels = try clip.labelEmbeddings(["cat", "dog"])
    /// let ranked = try clip.rank(imageEmbeddings: images, labels: ["cat", "dog"], labelEmbeddings: labels)
    /// ```
    public func rank(imageEmbeddings: Embeddings, labels: [String], labelEmbeddings: Embeddings) throws -> [[LabelScore]] {
        guard labelEmbeddings.count == labels.count else { throw CLIPError.dimensionMismatch(labels.count, labelEmbeddings.count) }
        let logits = try model.logits(imageEmbeds: imageEmbeddings, textEmbeds: labelEmbeddings)
        let n = labels.count
        return (0..<imageEmbeddings.count).map { i in CLIPZeroShot.rank(logits: logits[(i * n)..<((i + 1) * n)], labels: labels) }
    }

    /// One normalised embedding per label, averaged over `templates` when there are several.
    public func labelEmbeddings(_ labels: [String], templates: [PromptTemplate] = [.default]) throws -> Embeddings {
        try CLIPError.validate(labels: labels, templates: templates)
        let d = model.config.projectionDim
        let t = templates.count
        // Every label × template prompt at once, so cache misses share batched text passes.
        let prompts = labels.flatMap { label in templates.map { $0.prompt(for: label) } }
        let embeds = try promptEmbeddings(prompts)   // normalised, (L·T, D)
        var out = [Float](repeating: 0, count: labels.count * d)
        for j in 0..<labels.count {
            var mean = embeds[j * t]
            if t > 1 {
                for p in 1..<t { for k in 0..<d { mean[k] += embeds[j * t + p][k] } }
                mean.withUnsafeMutableBufferPointer { l2Normalize($0.baseAddress!, rows: 1, cols: d) }
            }
            out.replaceSubrange((j * d)..<((j + 1) * d), with: mean)
        }
        return Embeddings(rows: labels.count, dimension: d, unchecked: out)
    }

    /// Normalised text embeddings for final prompt strings, served from the LRU cache where possible.
    func promptEmbeddings(_ prompts: [String]) throws -> [[Float]] {
        var result = prompts.map { cache.get($0) }
        var unique: [String] = []
        var seen = Set<String>()
        for (i, p) in prompts.enumerated() where result[i] == nil && seen.insert(p).inserted { unique.append(p) }
        if !unique.isEmpty {
            let embeds = try textEmbeddings(unique)
            var byPrompt: [String: [Float]] = [:]
            for (u, p) in unique.enumerated() {
                let row = Array(embeds[u])
                byPrompt[p] = row
                cache.put(p, row)
            }
            for i in result.indices where result[i] == nil { result[i] = byPrompt[prompts[i]] }
        }
        return result.map { $0 ?? [] }
    }

    /// The number of prompt embeddings currently cached.
    public var cachedPromptCount: Int { cache.count }

    // MARK: Embeddings

    /// Image embeddings (`get_image_features`), one row per image, L2-normalised unless `normalized` is false.
    /// Inside a task, cancellation is honoured between batches of eight images (`CancellationError`).
    ///
    /// ```swift
    /// let e = try clip.imageEmbeddings([.path("a.jpg"), .path("b.png")])   // 2 rows of 512
    /// ```
    public func imageEmbeddings(_ images: [CLIPImage], normalized: Bool = true) throws -> Embeddings {
        model.warmUp([.vision])   // mapped in while the first image decodes
        return try embedImageBatches(count: images.count, normalized: normalized) { range in
            try images[range].flatMap { model.vision.preprocess(try decode($0)) }
        }
    }

    /// Image embeddings from an async context, stopping with `CancellationError` between batches when the task is
    /// cancelled; the model is immutable, so the instance keeps serving.
    ///
    /// ```swift
    /// let task = Task { try await clip.embedImages(paths.map { .path($0) }) }
    /// task.cancel()
    /// ```
    public func embedImages(_ images: [CLIPImage], normalized: Bool = true) async throws -> Embeddings {
        try Task.checkCancellation()
        return try imageEmbeddings(images, normalized: normalized)
    }

    /// Embeddings of images already preprocessed to (3, S, S) pixel values (the server's batched path).
    package func imageEmbeddings(pixelValues: [[Float]], normalized: Bool = true) throws -> Embeddings {
        try embedImageBatches(count: pixelValues.count, normalized: normalized) { range in Array(pixelValues[range].joined()) }
    }

    /// The one batching loop: `count` images in passes of ``imageBatch``, `pixels(range)` giving each pass's
    /// preprocessed input; cancellation is checked before each pass.
    private func embedImageBatches(count: Int, normalized: Bool, pixels: (Range<Int>) throws -> [Float]) throws -> Embeddings {
        guard count > 0 else { throw CLIPError.noInputs }
        var values: [Float] = []
        var d = model.config.projectionDim
        for start in stride(from: 0, to: count, by: CLIP.imageBatch) {
            try Task.checkCancellation()
            let range = start..<min(start + CLIP.imageBatch, count)
            let part = try model.vision.imageFeatures(try pixels(range), batch: range.count)
            d = part.shape[1]
            values.append(contentsOf: part.storage)
        }
        var out = Embeddings(rows: count, dimension: d, unchecked: values)
        if normalized { out.normalize() }
        return out
    }

    /// Text embeddings (`get_text_features`) of raw strings (tokenised, truncated to the context length).
    ///
    /// ```swift
    /// let e = try clip.textEmbeddings(["a red circle", "a blue square"])
    /// ```
    public func textEmbeddings(_ texts: [String], normalized: Bool = true) throws -> Embeddings {
        guard !texts.isEmpty else { throw CLIPError.noInputs }
        let limit = model.config.text.maxPositionEmbeddings
        let tok = try tokenizer
        // Bounded batches keep activation memory flat for any number of texts.
        var values: [Float] = []
        var d = model.config.projectionDim
        for start in stride(from: 0, to: texts.count, by: CLIP.textBatch) {
            try Task.checkCancellation()
            let ids = texts[start..<min(start + CLIP.textBatch, texts.count)].map { text -> [Int] in
                var t = tok.encode(CLIP.contextPrefix(text, words: limit))
                if t.count > limit { t = Array(t.prefix(limit)); t[limit - 1] = tok.endOfText }
                return t
            }
            let part = try model.text.textFeatures(ids)
            d = part.shape[1]
            values.append(contentsOf: part.storage)
        }
        var out = Embeddings(rows: texts.count, dimension: d, unchecked: values)
        if normalized { out.normalize() }
        return out
    }

    /// Texts encoded per forward pass.
    static let textBatch = 64

    /// The head of `text` that decides its first `words` tokens: up to the `words`-th whitespace-separated word
    /// (each word gives at least one token, and cleaning and pre-tokenisation never join words), stopping inside a
    /// word longer than 4,096 characters (it alone gives more tokens than the context holds). A 20 MB input costs
    /// only its head; `TokenizerTests` checks the first 77 ids against the whole text's.
    ///
    /// ```swift
    /// CLIP.contextPrefix("a b c d", words: 2)   // "a b "
    /// ```
    package static func contextPrefix(_ text: String, words: Int) -> String {
        // Scan for the cut; copy only when there is one (almost every text is returned as is).
        let scalars = text.unicodeScalars
        var count = 0, wordLength = 0
        var i = scalars.startIndex
        while i != scalars.endIndex {
            if scalars[i].properties.isWhitespace {
                wordLength = 0
            } else {
                if wordLength == 0 {
                    count += 1
                    if count > words { break }
                }
                wordLength += 1
                // No CLIP token spans more than 32 bytes: a word of 4,096 characters alone overfills the context.
                if wordLength > 4096 { break }
            }
            i = scalars.index(after: i)
        }
        return i == scalars.endIndex ? text : String(scalars[..<i])
    }

    /// Images encoded per forward pass.
    package static let imageBatch = 8

    /// Cosine similarity of every row of `a` with every row of `b`: `result[i][j] = cos(a_i, b_j)`.
    ///
    /// ```swift
    /// let s = try CLIP.similarity(clip.imageEmbeddings(images), clip.textEmbeddings(["a cat"]))
    /// ```
    public static func similarity(_ a: Embeddings, _ b: Embeddings) throws -> [[Float]] {
        let flat = try Embeddings.cosine(a, b)
        return (0..<a.count).map { Array(flat[($0 * b.count)..<(($0 + 1) * b.count)]) }
    }

    /// Decodes a ``CLIPImage`` to RGB8 pixels with ``decoder``.
    public func decode(_ image: CLIPImage) throws -> RGBImage {
        switch image {
        case .path(let p): return try decoder.decode(path: p)
        case .data(let d): return try decoder.decode(d)
        case .pixels(let px): return px
        }
    }

    /// A string that changes when the model's weights or shape change (search indexes record it).
    public var fingerprint: String {
        let c = model.config
        // A checksum of parameters that every checkpoint has and that loading never re-lays out.
        var sum: Double = 0
        for p in [model.vision.embeddings.classEmbedding, model.vision.postLayernorm.weight, model.text.finalLayerNorm.bias] {
            for i in 0..<p.count { sum += Double(p.pointer[i]) * Double(i % 7 + 1) }
        }
        return "clip-v1 proj=\(c.projectionDim) vision=\(c.vision.hiddenSize)x\(c.vision.numHiddenLayers) " +
            "text=\(c.text.hiddenSize)x\(c.text.numHiddenLayers) scale=\(model.logitScale) sum=\(sum)"
    }
}

/// A debug build of this package is slower (the kernel targets are optimised even in debug, the rest is not): say so
/// once, on stderr. Measured on ViT-B/32: ~0.14 s per image in debug against ~0.085 s in release.
private func warnIfDebugBuild() {
    #if DEBUG
    _ = debugWarning
    #endif
}

#if DEBUG
private let debugWarning: Void = {
    FileHandle.standardError.write(Data(
        "warning: swift-clip is a debug build: inference is about 2× slower than a release build (swift build -c release)\n".utf8))
}()
#endif
