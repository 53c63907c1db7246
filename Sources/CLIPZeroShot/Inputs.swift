// The facade's inputs and results: images, prompt templates, label scores and the facade's own errors.

import Foundation

/// An image to encode: a file, encoded bytes (JPEG, PNG, BMP, GIF, TGA, WebP), or decoded RGB8 pixels.
///
/// ```swift
/// let a = CLIPImage.path("cat.jpg")
/// let b = CLIPImage.data(try Data(contentsOf: url))      // or [UInt8]
/// let c = CLIPImage.pixels(try RGBImage(width: 2, height: 1, pixels: [255, 0, 0, 0, 0, 255]))
/// ```
public enum CLIPImage: Sendable {
    case path(String)
    case data([UInt8])
    case pixels(RGBImage)

    /// Encoded bytes held in a `Data` value.
    public static func data(_ data: Data) -> CLIPImage { .data([UInt8](data)) }
}

/// How a label becomes the text that is encoded.
///
/// A string literal is a ``format(_:)`` template, so `template: "a photo of a {}."` works.
/// ```swift
/// let r = try clip.classify(image: .path("dog.jpg"), labels: ["a dog", "a cat"], template: .verbatim)
/// ```
public enum PromptTemplate: Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The label itself is the prompt.
    case verbatim
    /// A text with exactly one `{}`, replaced by the label.
    case format(String)

    /// transformers' `zero-shot-image-classification` pipeline default: "This is a photo of {}.".
    public static let `default` = PromptTemplate.format("This is a photo of {}.")

    /// A ``format(_:)`` template from a literal.
    public init(stringLiteral value: String) { self = .format(value) }

    /// The template text, or "verbatim".
    public var description: String {
        switch self {
        case .verbatim: return "verbatim"
        case .format(let f): return f
        }
    }

    /// Throws ``CLIPError/invalidTemplate(_:)`` unless a format has exactly one `{}`.
    public func validate() throws {
        if case .format(let f) = self, f.components(separatedBy: "{}").count != 2 { throw CLIPError.invalidTemplate(f) }
    }

    /// The prompt for `label` (validate first).
    func prompt(for label: String) -> String {
        switch self {
        case .verbatim: return label
        case .format(let f): return f.replacingOccurrences(of: "{}", with: label)
        }
    }
}

/// One label's probability in a zero-shot classification.
public struct LabelScore: Sendable, Equatable, Codable {
    /// The label as given.
    public let label: String
    /// Its probability; the scores of one classification sum to 1.
    public let score: Float

    /// A label with its probability.
    public init(label: String, score: Float) {
        self.label = label
        self.score = score
    }
}

/// Errors from the facade's own checks (loading and decoding throw their own typed errors).
public enum CLIPError: Error, Equatable, CustomStringConvertible {
    case noLabels
    case emptyLabel(index: Int)
    case invalidTemplate(String)
    case noTemplates
    case noInputs
    case dimensionMismatch(Int, Int)

    /// A one-line message.
    public var description: String {
        switch self {
        case .noLabels: return "no labels given: classification needs at least one candidate label"
        case .emptyLabel(let i): return "label \(i) is empty"
        case .invalidTemplate(let t): return "template \"\(t)\" must contain exactly one \"{}\" placeholder for the label"
        case .noTemplates: return "the template list is empty"
        case .noInputs: return "nothing to embed: the input list is empty"
        case .dimensionMismatch(let a, let b): return "embedding dimensions differ: \(a) and \(b)"
        }
    }

    /// Checks a classification request: at least one label, none blank, at least one template, each valid.
    /// The one place these rules live (the server calls it too).
    ///
    /// ```swift
    /// try CLIPError.validate(labels: ["cat", "dog"], templates: [.default])
    /// ```
    public static func validate(labels: [String], templates: [PromptTemplate]) throws {
        guard !labels.isEmpty else { throw CLIPError.noLabels }
        if let i = labels.firstIndex(where: { $0.allSatisfy(\.isWhitespace) }) { throw CLIPError.emptyLabel(index: i) }
        guard !templates.isEmpty else { throw CLIPError.noTemplates }
        for t in templates { try t.validate() }
    }
}
