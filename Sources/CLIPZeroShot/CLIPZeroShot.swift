// The user-facing facade: zero-shot classification, embeddings and similarity over images and text.

import Foundation

/// An image to encode: a file, encoded bytes (JPEG/PNG/BMP/GIF/TGA), or raw RGB8 pixels.
///
/// ```swift
/// let a = CLIPImage.path("cat.jpg")
/// let b = CLIPImage.data(Array(pngData))
/// let c = CLIPImage.pixels(try RGBImage(width: 2, height: 1, pixels: [255, 0, 0, 0, 0, 255]))
/// ```
public enum CLIPImage: Sendable {
    case path(String)
    case data([UInt8])
    case pixels(RGBImage)
}

/// One label's probability in a zero-shot classification.
public struct LabelScore: Sendable, Equatable, Codable {
    public let label: String
    public let score: Float

    /// ```swift
    /// let s = LabelScore(label: "cat", score: 0.93)
    /// ```
    public init(label: String, score: Float) {
        self.label = label
        self.score = score
    }
}

/// Errors from the facade's own checks (components throw their own typed errors too).
public enum CLIPError: Error, Equatable, CustomStringConvertible {
    case noLabels
    case emptyLabel(index: Int)
    case invalidTemplate(String)
    case noTemplates
    case noInputs

    public var description: String {
        switch self {
        case .noLabels: return "no labels given: classification needs at least one candidate label"
        case .emptyLabel(let i): return "label \(i) is empty"
        case .invalidTemplate(let t): return "template \"\(t)\" must contain exactly one \"{}\" placeholder for the label"
        case .noTemplates: return "the template list is empty"
        case .noInputs: return "nothing to embed: the input list is empty"
        }
    }
}

/// Zero-shot image classification and embeddings with a CLIP model.
///
/// Thread-safe: the model is immutable after loading and the label cache is locked, so one instance can serve
/// many concurrent tasks.
/// ```swift
/// let clip = try CLIPZeroShot(directory: "/models/clip-vit-base-patch32")
/// let ranked = try clip.classify(image: .path("photo.jpg"), labels: ["cat", "dog", "car"])
/// print(ranked[0].label, ranked[0].score)
/// ```
public final class CLIPZeroShot: Sendable {
    /// transformers' `zero-shot-image-classification` pipeline default.
    public static let defaultTemplate = "This is a photo of {}."

    public let model: CLIPModel
    /// The tokenizer; when loading from a directory, the shared one, parsed in the background while the first
    /// image is encoded (reading it waits for that parse).
    public var tokenizer: CLIPTokenizer {
        get throws {
            if let given { return given }
            return try CLIPTokenizer.shared()
        }
    }
    private let given: CLIPTokenizer?
    public let decoder: ImageDecoder
    private let cache: EmbeddingCache

    /// Loads a Hugging Face CLIP directory (`config.json` + `model.safetensors`).
    ///
    /// ```swift
    /// let clip = try CLIPZeroShot(weights: URL(fileURLWithPath: "/models/clip"))
    /// ```
    public convenience init(weights: URL, options: LoadOptions = LoadOptions(), decoder: ImageDecoder = ImageDecoder(),
                            cacheCapacity: Int = 4096) throws {
        try self.init(directory: weights.path, options: options, decoder: decoder, cacheCapacity: cacheCapacity)
    }

    /// Loads a Hugging Face CLIP directory given as a path.
    ///
    /// ```swift
    /// let clip = try CLIPZeroShot(directory: "Weights/demo")
    /// ```
    public convenience init(directory: String, options: LoadOptions = LoadOptions(), decoder: ImageDecoder = ImageDecoder(),
                            cacheCapacity: Int = 4096) throws {
        // The tokenizer's vocabulary is parsed in the background (the shared tokenizer's one-time initialisation):
        // while the weights map and, in `classify`, while the image is encoded.
        DispatchQueue.global().async { _ = try? CLIPTokenizer.shared() }
        let model = try CLIPModel(directory: directory, options: options)
        self.init(model: model, tokenizer: nil, decoder: decoder, cacheCapacity: cacheCapacity)
    }

    /// Wraps an already-loaded model (e.g. towers loaded separately).
    ///
    /// ```swift
    /// let clip = CLIPZeroShot(model: model, tokenizer: try .shared())
    /// ```
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

    /// Ranks `labels` for an image: softmax over exp(logit_scale)·cos(image, "template with label"), sorted
    /// descending — the same numbers as transformers' `zero-shot-image-classification` pipeline.
    ///
    /// ```swift
    /// let r = try clip.classify(image: .path("dog.jpg"), labels: ["dog", "cat"])             // default template
    /// let v = try clip.classify(image: .path("dog.jpg"), labels: ["a dog", "a cat"], template: nil) // verbatim
    /// ```
    /// - Parameter template: a string with one `{}`; `nil` uses the labels verbatim.
    public func classify(image: CLIPImage, labels: [String], template: String? = CLIPZeroShot.defaultTemplate) throws -> [LabelScore] {
        try classify(images: [image], labels: labels, templates: [template])[0]
    }

    /// Prompt ensembling: each label's text embedding is the normalised mean of its L2-normalised embeddings
    /// under every template (OpenAI's recipe; see ``imageNetTemplates``).
    ///
    /// ```swift
    /// let r = try clip.classify(image: .path("dog.jpg"), labels: ["dog", "cat"], templates: CLIPZeroShot.imageNetTemplates)
    /// ```
    public func classify(image: CLIPImage, labels: [String], templates: [String]) throws -> [LabelScore] {
        guard !templates.isEmpty else { throw CLIPError.noTemplates }
        return try classify(images: [image], labels: labels, templates: templates.map { Optional($0) })[0]
    }

    /// Classifies several images against the same labels with one batched image forward pass.
    ///
    /// ```swift
    /// let results = try clip.classify(images: [.path("a.jpg"), .path("b.jpg")], labels: ["cat", "dog"])
    /// ```
    public func classify(images: [CLIPImage], labels: [String], templates: [String?] = [CLIPZeroShot.defaultTemplate]) throws -> [[LabelScore]] {
        guard !labels.isEmpty else { throw CLIPError.noLabels }
        guard !templates.isEmpty else { throw CLIPError.noTemplates }
        if let i = labels.firstIndex(where: { $0.allSatisfy(\.isWhitespace) }) { throw CLIPError.emptyLabel(index: i) }
        // Images first: on a fresh load, the tokenizer finishes parsing meanwhile.
        let imageEmbeds = try imageEmbeddings(images, normalized: true)          // (N, D)
        let classEmbeddings = try labelEmbeddings(labels, templates: templates)   // (L, D), normalised
        let d = imageEmbeds.shape[1]
        let scale = Float(exp(Double(model.logitScale)))
        var results: [[LabelScore]] = []
        for i in 0..<images.count {
            var logits = [Float](repeating: 0, count: labels.count)
            for j in 0..<labels.count {
                var dot: Float = 0
                for k in 0..<d { dot += imageEmbeds.storage[i * d + k] * classEmbeddings.storage[j * d + k] }
                logits[j] = scale * dot
            }
            logits.withUnsafeMutableBufferPointer { softmax($0.baseAddress!, rows: 1, cols: labels.count) }
            let ranked = zip(labels, logits).map { LabelScore(label: $0, score: $1) }
                .enumerated().sorted { $0.element.score != $1.element.score ? $0.element.score > $1.element.score : $0.offset < $1.offset }
                .map(\.element)
            results.append(ranked)
        }
        return results
    }

    /// One L2-normalised embedding per label, averaged over `templates` when there are several.
    ///
    /// ```swift
    /// let e = try clip.labelEmbeddings(["cat", "dog"], templates: ["a photo of a {}."])   // (2, D)
    /// ```
    public func labelEmbeddings(_ labels: [String], templates: [String?]) throws -> Tensor {
        for t in templates.compactMap({ $0 }) where t.components(separatedBy: "{}").count != 2 {
            throw CLIPError.invalidTemplate(t)
        }
        let d = model.config.projectionDim
        let t = templates.count
        // Every label × template prompt at once, so cache misses share batched text passes.
        let prompts = labels.flatMap { label in
            templates.map { $0.map { $0.replacingOccurrences(of: "{}", with: label) } ?? label }
        }
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
        return Tensor(computedShape: [labels.count, d], storage: out)
    }

    /// Normalised text embeddings for final prompt strings, served from the LRU cache where possible.
    func promptEmbeddings(_ prompts: [String]) throws -> [[Float]] {
        var result = [[Float]?](repeating: nil, count: prompts.count)
        var missing: [Int] = []
        for (i, p) in prompts.enumerated() {
            if let hit = cache.get(p) { result[i] = hit } else { missing.append(i) }
        }
        if !missing.isEmpty {
            // Encode each distinct missing prompt once.
            var unique: [String] = []
            var seen = Set<String>()
            for i in missing where seen.insert(prompts[i]).inserted { unique.append(prompts[i]) }
            let embeds = try textEmbeddings(unique, normalized: true)
            let d = embeds.shape[1]
            var byPrompt: [String: [Float]] = [:]
            for (u, p) in unique.enumerated() {
                let row = Array(embeds.storage[(u * d)..<((u + 1) * d)])
                byPrompt[p] = row
                cache.put(p, row)
            }
            for i in missing { result[i] = byPrompt[prompts[i]] }
        }
        return result.map { $0 ?? [] }
    }

    // MARK: Embeddings

    /// Image embeddings (`get_image_features`), one row per image, L2-normalised unless `normalized` is false.
    ///
    /// ```swift
    /// let e = try clip.imageEmbeddings([.path("a.jpg"), .path("b.png")])   // (2, 512)
    /// ```
    public func imageEmbeddings(_ images: [CLIPImage], normalized: Bool = true) throws -> Tensor {
        guard !images.isEmpty else { throw CLIPError.noInputs }
        var storage: [Float] = []
        var d = model.config.projectionDim
        for start in stride(from: 0, to: images.count, by: CLIPZeroShot.imageBatch) {
            var pixels: [Float] = []
            let chunk = images[start..<min(start + CLIPZeroShot.imageBatch, images.count)]
            for image in chunk { pixels.append(contentsOf: model.vision.preprocess(try decode(image))) }
            let part = try model.vision.imageFeatures(pixels, batch: chunk.count)
            d = part.shape[1]
            storage.append(contentsOf: part.storage)
        }
        var out = Tensor(computedShape: [images.count, d], storage: storage)
        if normalized { normalizeRows(&out) }
        return out
    }

    /// Text embeddings (`get_text_features`) of raw strings (tokenised, truncated to 77 tokens).
    ///
    /// ```swift
    /// let e = try clip.textEmbeddings(["a red circle", "a blue square"])   // (2, D)
    /// ```
    public func textEmbeddings(_ texts: [String], normalized: Bool = true) throws -> Tensor {
        guard !texts.isEmpty else { throw CLIPError.noInputs }
        let limit = model.config.text.maxPositionEmbeddings
        let tok = try tokenizer
        // Bounded batches keep activation memory flat for any number of texts (10,000 labels use ~10 MB).
        var storage: [Float] = []
        var d = model.config.projectionDim
        for start in stride(from: 0, to: texts.count, by: CLIPZeroShot.textBatch) {
            let chunk = texts[start..<min(start + CLIPZeroShot.textBatch, texts.count)]
            let ids = chunk.map { text -> [Int] in
                var t = tok.encode(text)
                if t.count > limit { t = Array(t.prefix(limit)); t[limit - 1] = tok.endOfText }
                return t
            }
            let part = try model.text.textFeatures(ids)
            d = part.shape[1]
            storage.append(contentsOf: part.storage)
        }
        var out = Tensor(computedShape: [texts.count, d], storage: storage)
        if normalized { normalizeRows(&out) }
        return out
    }

    /// Async image embeddings that honour task cancellation between batches of ``imageBatch`` images: a
    /// cancelled task stops with `CancellationError` and leaves the model untouched (it is immutable), so the
    /// same instance keeps serving.
    ///
    /// ```swift
    /// let task = Task { try await clip.cancellableImageEmbeddings(paths.map { .path($0) }) }
    /// task.cancel()
    /// ```
    public func cancellableImageEmbeddings(_ images: [CLIPImage], normalized: Bool = true) async throws -> Tensor {
        guard !images.isEmpty else { throw CLIPError.noInputs }
        var storage: [Float] = []
        var d = model.config.projectionDim
        for start in stride(from: 0, to: images.count, by: CLIPZeroShot.imageBatch) {
            try Task.checkCancellation()
            let chunk = Array(images[start..<min(start + CLIPZeroShot.imageBatch, images.count)])
            let part = try imageEmbeddings(chunk, normalized: normalized)
            d = part.shape[1]
            storage.append(contentsOf: part.storage)
        }
        return Tensor(computedShape: [images.count, d], storage: storage)
    }

    /// Texts encoded per forward pass.
    static let textBatch = 64
    /// Images encoded per forward pass.
    static let imageBatch = 8

    /// Cosine similarity matrix between two sets of embeddings (rows), shape (a.rows, b.rows).
    ///
    /// ```swift
    /// let s = CLIPZeroShot.similarity(imageEmbeds, textEmbeds)
    /// ```
    public static func similarity(_ a: Tensor, _ b: Tensor) -> Tensor {
        var a = a, b = b
        normalizeRows(&a)
        normalizeRows(&b)
        let d = a.shape.last ?? 0
        let na = d == 0 ? 0 : a.count / d, nb = d == 0 ? 0 : b.count / d
        var out = [Float](repeating: 0, count: na * nb)
        for i in 0..<na {
            for j in 0..<nb {
                var s: Float = 0
                for k in 0..<d { s += a.storage[i * d + k] * b.storage[j * d + k] }
                out[i * nb + j] = s
            }
        }
        return Tensor(computedShape: [na, nb], storage: out)
    }

    /// The number of prompt embeddings currently cached.
    public var cachedPromptCount: Int { cache.count }

    /// Decodes a ``CLIPImage`` to RGB8 pixels.
    public func decode(_ image: CLIPImage) throws -> RGBImage {
        switch image {
        case .path(let p): return try decoder.decode(path: p)
        case .data(let d): return try decoder.decode(d)
        case .pixels(let px): return px
        }
    }
}

func normalizeRows(_ t: inout Tensor) {
    let d = t.shape.last ?? 0
    guard d > 0 else { return }
    let rows = t.count / d
    t.storage.withUnsafeMutableBufferPointer { l2Normalize($0.baseAddress!, rows: rows, cols: d) }
}

/// A bounded, thread-safe LRU cache of normalised prompt embeddings keyed by the final prompt string.
final class EmbeddingCache: @unchecked Sendable {
    private let capacity: Int
    private var entries: [String: (value: [Float], stamp: UInt64)] = [:]
    private var clock: UInt64 = 0
    private let lock = Lock()

    init(capacity: Int) { self.capacity = max(0, capacity) }

    func get(_ key: String) -> [Float]? {
        lock.withLock {
            guard var e = entries[key] else { return nil }
            clock += 1
            e.stamp = clock
            entries[key] = e
            return e.value
        }
    }

    func put(_ key: String, _ value: [Float]) {
        guard capacity > 0 else { return }
        lock.withLock {
            clock += 1
            entries[key] = (value, clock)
            if entries.count > capacity {
                // Evict the least recently used eighth at once, so eviction cost is amortised.
                let victims = entries.sorted { $0.value.stamp < $1.value.stamp }.prefix(max(1, capacity / 8))
                for v in victims { entries.removeValue(forKey: v.key) }
            }
        }
    }

    var count: Int { lock.withLock { entries.count } }
}
