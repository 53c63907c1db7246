// CLIP configuration as in transformers' CLIPConfig / CLIPTextConfig / CLIPVisionConfig, read from config.json.

import Tensor

/// Errors in `config.json`; each names the file and the field at fault.
public enum ConfigError: Error, Equatable, CustomStringConvertible {
    case unreadable(file: String, reason: String)
    case invalidJSON(file: String, reason: String)
    case wrongType(file: String, field: String, expected: String, found: String)
    case invalidValue(file: String, field: String, value: String, reason: String)

    /// The message: the file, then the field and what is wrong with it.
    public var description: String {
        switch self {
        case let .unreadable(f, r): return "\(f): cannot read config: \(r)"
        case let .invalidJSON(f, r): return "\(f): \(r)"
        case let .wrongType(f, field, e, found): return "\(f): \"\(field)\" must be \(e), found \(found)"
        case let .invalidValue(f, field, v, r): return "\(f): \"\(field)\" = \(v): \(r)"
        }
    }
}

/// Shape of one transformer encoder stack: the hyper-parameters transformers' text and vision configs share, each
/// read from its tower's section of config.json.
public struct EncoderConfig: Sendable, Equatable {
    /// Width of the residual stream (`hidden_size`).
    public var hiddenSize: Int
    /// Width of the MLP's hidden layer (`intermediate_size`).
    public var intermediateSize: Int
    /// Encoder layers (`num_hidden_layers`).
    public var numHiddenLayers: Int
    /// Attention heads per layer (`num_attention_heads`); they divide `hiddenSize`.
    public var numAttentionHeads: Int
    /// The MLP's activation (`hidden_act`).
    public var hiddenAct: Activation
    /// Added to the variance in every layer norm (`layer_norm_eps`).
    public var layerNormEps: Float
    /// Width of each head: hidden size / heads.
    public var headDim: Int { hiddenSize / numAttentionHeads }

    /// A stack with transformers' default activation and epsilon.
    public init(hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int, numAttentionHeads: Int,
                hiddenAct: Activation = .quickGELU, layerNormEps: Float = 1e-5) {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.hiddenAct = hiddenAct
        self.layerNormEps = layerNormEps
    }

    /// The integer fields, their config.json keys and the largest plausible value of each.
    static var sizes: [(field: WritableKeyPath<EncoderConfig, Int>, key: String, limit: Int)] {
        [(\.hiddenSize, "hidden_size", 65536), (\.intermediateSize, "intermediate_size", 1 << 18),
         (\.numHiddenLayers, "num_hidden_layers", 1024), (\.numAttentionHeads, "num_attention_heads", 4096)]
    }
}

/// A tower's hyper-parameters: its encoder stack's, which read as the tower's own (`config.text.hiddenSize` is
/// `config.text.encoder.hiddenSize`), as in transformers, and the tower's own.
@dynamicMemberLookup
public protocol TowerConfig {
    /// The encoder stack's shape.
    var encoder: EncoderConfig { get set }
}

extension TowerConfig {
    /// The encoder's fields as the tower's.
    public subscript<T>(dynamicMember field: WritableKeyPath<EncoderConfig, T>) -> T {
        get { encoder[keyPath: field] }
        set { encoder[keyPath: field] = newValue }
    }

    /// The encoder's integer fields as the tower's, with their config.json keys.
    static var encoderInts: [(WritableKeyPath<Self, Int>, String)] {
        let encoder: WritableKeyPath<Self, EncoderConfig> = \.encoder
        return EncoderConfig.sizes.map { (encoder.appending(path: $0.field), $0.key) }
    }
}

/// The text tower's hyper-parameters (transformers' `CLIPTextConfig`, same defaults).
public struct CLIPTextConfig: TowerConfig, Sendable, Equatable {
    /// The encoder stack: 512 wide, MLP 2048, 12 layers of 8 heads by default.
    public var encoder = EncoderConfig(hiddenSize: 512, intermediateSize: 2048, numHiddenLayers: 12, numAttentionHeads: 8)
    /// Rows of the token embedding (`vocab_size`).
    public var vocabSize = 49408
    /// Rows of the position embedding: the context length in tokens (`max_position_embeddings`).
    public var maxPositionEmbeddings = 77
    /// `pad_token_id`, as config.json gives it (null keeps the default).
    public var padTokenId = 1
    /// `bos_token_id`, as config.json gives it (null keeps the default).
    public var bosTokenId = 49406
    /// `eos_token_id`: where the text tower pools (2, in legacy OpenAI configs, means the highest id).
    public var eosTokenId = 49407

    /// transformers' defaults (= ViT-B/32's text tower, except the legacy token ids).
    public init() {}
}

/// The vision tower's hyper-parameters (transformers' `CLIPVisionConfig`, same defaults).
public struct CLIPVisionConfig: TowerConfig, Sendable, Equatable {
    /// The encoder stack: 768 wide, MLP 3072, 12 layers of 12 heads by default.
    public var encoder = EncoderConfig(hiddenSize: 768, intermediateSize: 3072, numHiddenLayers: 12, numAttentionHeads: 12)
    /// Input channels (`num_channels`): 3 for RGB.
    public var numChannels = 3
    /// Side of the square input image in pixels (`image_size`).
    public var imageSize = 224
    /// Side of a square patch in pixels (`patch_size`); it divides `imageSize`.
    public var patchSize = 32

    /// transformers' defaults (= ViT-B/32's vision tower).
    public init() {}

    /// Patches per side.
    public var gridSize: Int { imageSize / patchSize }
    /// Number of patches (tokens without the class token).
    public var numPatches: Int { gridSize * gridSize }
    /// Tokens per image: patches plus the class token.
    public var numPositions: Int { numPatches + 1 }
}

/// The `quantization_config` of an int8 checkpoint: every encoder layer's linear weights are I8 with one F32 scale
/// per output row (`<key>_scale`), the token embedding likewise per vocabulary row; activations are quantized per
/// row at run time.
public struct QuantizationConfig: Sendable, Equatable {
    /// The only method this package reads and writes.
    public static let method = "swift-clip-int8"
    /// The format version this package reads and writes.
    public static let formatVersion = 1

    /// `quant_method`.
    public var method = QuantizationConfig.method
    /// `format_version`.
    public var formatVersion = QuantizationConfig.formatVersion

    /// This package's method and format version.
    public init() {}

    /// Reads the JSON object; an unknown method or version is an error naming the field.
    package init(json: JSONValue, source: String) throws {
        guard json.objectValue != nil else {
            throw ConfigError.wrongType(file: source, field: "quantization_config", expected: "an object", found: json.kindName)
        }
        guard let m = json["quant_method"]?.stringValue else {
            throw ConfigError.wrongType(file: source, field: "quantization_config.quant_method", expected: "a string",
                                        found: json["quant_method"]?.kindName ?? "nothing")
        }
        guard m == QuantizationConfig.method else {
            throw ConfigError.invalidValue(file: source, field: "quantization_config.quant_method", value: m,
                                           reason: "only \"\(QuantizationConfig.method)\" (written by `clip quantize`) is supported")
        }
        let version = json["format_version"]?.intValue ?? -1
        guard version == QuantizationConfig.formatVersion else {
            throw ConfigError.invalidValue(file: source, field: "quantization_config.format_version", value: String(version),
                                           reason: "must be \(QuantizationConfig.formatVersion)")
        }
    }

    /// The JSON object written into config.json.
    public var json: String {
        "{\"quant_method\": \"\(method)\", \"format_version\": \(formatVersion), "
            + "\"weights\": \"int8 symmetric per output row\", \"activations\": \"int8 symmetric per row, dynamic\"}"
    }
}

/// A whole CLIP model's configuration (`config.json` of a Hugging Face CLIP checkpoint).
///
/// ```swift
/// let config = try CLIPConfig(contentsOf: "Weights/demo/config.json")
/// print(config.vision.imageSize, config.projectionDim)
/// ```
public struct CLIPConfig: Sendable, Equatable {
    /// The text tower (`text_config`).
    public var text = CLIPTextConfig()
    /// The vision tower (`vision_config`).
    public var vision = CLIPVisionConfig()
    /// Width of the embedding space both towers project into (`projection_dim`).
    public var projectionDim = 512
    /// `logit_scale_init_value`: training's starting logit scale (inference uses the checkpoint's `logit_scale`).
    public var logitScaleInitValue: Float = 2.6592
    /// Set for an int8 checkpoint written by `clip quantize` (`quantization_config` in config.json).
    public var quantization: QuantizationConfig?

    /// transformers' defaults.
    public init() {}

    /// The configuration of `openai/clip-vit-base-patch32` (151 M parameters).
    public static var vitBasePatch32: CLIPConfig {
        var c = CLIPConfig()
        c.text.bosTokenId = 0   // the legacy ids that checkpoint's config.json carries
        c.text.eosTokenId = 2
        return c
    }

    /// Reads and validates a `config.json` file.
    /// - Throws: ``ConfigError`` naming the field.
    public init(contentsOf path: String) throws {
        try self.init(json: try loadConfigJSON(path), source: path)
    }

    /// Builds a configuration from parsed JSON, with transformers' defaults for missing optional keys.
    ///
    /// Legacy `text_config_dict` / `vision_config_dict` objects take precedence over `text_config` /
    /// `vision_config`, as in transformers. Unknown keys (`torch_dtype`, `transformers_version`, …) are ignored.
    package init(json: JSONValue, source: String) throws {
        guard json.objectValue != nil else {
            throw ConfigError.wrongType(file: source, field: "(root)", expected: "an object", found: json.kindName)
        }
        let r = FieldReader(file: source)
        projectionDim = try r.int(json, "projection_dim", default: projectionDim)
        logitScaleInitValue = try r.float(json, "logit_scale_init_value", default: logitScaleInitValue)

        // Each section's fields as (key path, JSON name); every value falls back to the current (default) one.
        let textSection = try r.section(json, legacy: "text_config_dict", current: "text_config")
        try r.read(textSection, into: &text, ints: [(\.vocabSize, "vocab_size")] + CLIPTextConfig.encoderInts
                    + [(\.maxPositionEmbeddings, "max_position_embeddings")],
                   nullableInts: [(\.padTokenId, "pad_token_id"), (\.bosTokenId, "bos_token_id"), (\.eosTokenId, "eos_token_id")])

        let visionSection = try r.section(json, legacy: "vision_config_dict", current: "vision_config")
        try r.read(visionSection, into: &vision, ints: CLIPVisionConfig.encoderInts + [
            (\.numChannels, "num_channels"), (\.imageSize, "image_size"), (\.patchSize, "patch_size"),
        ])
        if let q = json["quantization_config"], !q.isNull {
            quantization = try QuantizationConfig(json: q, source: source)
        }
        try validate(source: source, textPrefix: textSection.name + ".", visionPrefix: visionSection.name + ".")
    }

    /// Checks sizes are positive and divisible as the architecture needs.
    public func validate(source: String = "config", textPrefix: String = "text_config.",
                         visionPrefix: String = "vision_config.") throws {
        func positive(_ v: Int, _ field: String, max: Int = 1 << 20) throws {
            guard v > 0, v <= max else {
                throw ConfigError.invalidValue(file: source, field: field, value: String(v),
                                               reason: v <= 0 ? "must be positive" : "is implausibly large (limit \(max))")
            }
        }
        try positive(projectionDim, "projection_dim", max: 65536)
        try positive(text.vocabSize, textPrefix + "vocab_size", max: 1 << 22)
        for s in EncoderConfig.sizes { try positive(text.encoder[keyPath: s.field], textPrefix + s.key, max: s.limit) }
        try positive(text.maxPositionEmbeddings, textPrefix + "max_position_embeddings", max: 1 << 16)
        for s in EncoderConfig.sizes { try positive(vision.encoder[keyPath: s.field], visionPrefix + s.key, max: s.limit) }
        try positive(vision.numChannels, visionPrefix + "num_channels", max: 16)
        try positive(vision.imageSize, visionPrefix + "image_size", max: 8192)
        try positive(vision.patchSize, visionPrefix + "patch_size", max: 8192)
        let encoders = [(text.encoder, textPrefix), (vision.encoder, visionPrefix)]
        for (e, prefix) in encoders {
            guard e.hiddenSize % e.numAttentionHeads == 0 else {
                throw ConfigError.invalidValue(file: source, field: prefix + "num_attention_heads",
                                               value: String(e.numAttentionHeads),
                                               reason: "must divide hidden_size \(e.hiddenSize)")
            }
        }
        guard vision.imageSize % vision.patchSize == 0 else {
            throw ConfigError.invalidValue(file: source, field: visionPrefix + "patch_size",
                                           value: String(vision.patchSize),
                                           reason: "must divide image_size \(vision.imageSize)")
        }
        for (e, prefix) in encoders {
            guard e.layerNormEps.isFinite, e.layerNormEps > 0 else {
                throw ConfigError.invalidValue(file: source, field: prefix + "layer_norm_eps", value: String(e.layerNormEps),
                                               reason: "must be a positive finite number")
            }
        }
    }
}

/// Reads and parses a JSON configuration file (at most 16 MiB), with errors as ``ConfigError``.
package func loadConfigJSON(_ path: String, limit: Int = 16 << 20) throws -> JSONValue {
    let bytes: [UInt8]
    do { bytes = try readFile(path, limit: limit) } catch let e as FileReadError {
        throw ConfigError.unreadable(file: path, reason: e.reason)
    }
    do { return try JSONValue.parse(bytes) } catch let e as JSONError {
        throw ConfigError.invalidJSON(file: path, reason: e.description)
    }
}

/// Typed field access with errors that name the field path.
struct FieldReader {
    let file: String

    /// Reads one tower's section into `target`: `ints`, then `nullableInts`, then its encoder's layer_norm_eps and
    /// hidden_act, each defaulting to its current value; errors name `section.field`.
    func read<T: TowerConfig>(_ section: (name: String, value: JSONValue), into target: inout T,
                              ints: [(WritableKeyPath<T, Int>, String)],
                              nullableInts: [(WritableKeyPath<T, Int>, String)] = []) throws {
        let (obj, prefix) = (section.value, section.name + ".")
        for (path, key) in ints { target[keyPath: path] = try int(obj, key, default: target[keyPath: path], prefix: prefix) }
        for (path, key) in nullableInts {
            target[keyPath: path] = try int(obj, key, default: target[keyPath: path], prefix: prefix, allowNull: true)
        }
        target.encoder.layerNormEps = try float(obj, "layer_norm_eps", default: target.encoder.layerNormEps, prefix: prefix)
        target.encoder.hiddenAct = try activation(obj, "hidden_act", default: target.encoder.hiddenAct, prefix: prefix)
    }

    func section(_ json: JSONValue, legacy: String, current: String) throws -> (name: String, value: JSONValue) {
        if let l = json[legacy], !l.isNull {
            guard l.objectValue != nil else {
                throw ConfigError.wrongType(file: file, field: legacy, expected: "an object", found: l.kindName)
            }
            return (legacy, l)
        }
        if let c = json[current], !c.isNull {
            guard c.objectValue != nil else {
                throw ConfigError.wrongType(file: file, field: current, expected: "an object", found: c.kindName)
            }
            return (current, c)
        }
        return (current, .object([]))
    }

    func int(_ obj: JSONValue, _ key: String, default d: Int, prefix: String = "", allowNull: Bool = false) throws -> Int {
        guard let v = obj[key] else { return d }
        if v.isNull && allowNull { return d }
        guard let i = v.intValue else {
            throw ConfigError.wrongType(file: file, field: prefix + key, expected: "an integer", found: describe(v))
        }
        return i
    }

    func float(_ obj: JSONValue, _ key: String, default d: Float, prefix: String = "") throws -> Float {
        guard let v = obj[key] else { return d }
        guard let x = v.doubleValue else {
            throw ConfigError.wrongType(file: file, field: prefix + key, expected: "a number", found: describe(v))
        }
        guard x.isFinite, abs(x) < 1e30 else {
            throw ConfigError.invalidValue(file: file, field: prefix + key, value: String(x), reason: "must be finite")
        }
        return Float(x)
    }

    func activation(_ obj: JSONValue, _ key: String, default d: Activation, prefix: String = "") throws -> Activation {
        guard let v = obj[key] else { return d }
        guard let s = v.stringValue else {
            throw ConfigError.wrongType(file: file, field: prefix + key, expected: "a string", found: describe(v))
        }
        guard let a = Activation(rawValue: s) else {
            throw ConfigError.invalidValue(file: file, field: prefix + key, value: "\"\(s)\"",
                                           reason: "unsupported activation (supported: quick_gelu, gelu)")
        }
        return a
    }

    func describe(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): return "\"\(s.prefix(40))\""
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .bool(let b): return String(b)
        default: return v.kindName
        }
    }
}
