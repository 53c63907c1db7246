// The API's response bodies as Codable values (OpenAI's shapes), encoded in one place.

import Foundation

/// `{"object": "list", "data": [...], "model"?, "usage"?}`.
struct ListResponse<Item: Encodable>: Encodable {
    var object = "list"
    let data: [Item]
    var model: String?
    var usage: Usage?
}

/// Token counts of an embeddings request.
struct Usage: Encodable {
    let promptTokens: Int
    let totalTokens: Int
}

/// One row of `/v1/embeddings`: floats, or OpenAI's base64 of little-endian float32.
struct EmbeddingObject: Encodable {
    enum Vector: Encodable {
        case floats([Float])
        case base64(String)

        func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .floats(let f): try c.encode(f)
            case .base64(let s): try c.encode(s)
            }
        }
    }

    var object = "embedding"
    let index: Int
    let embedding: Vector
}

/// `/v1/models` entries.
struct ModelObject: Encodable {
    let id: String
    var object = "model"
    /// Unix time the server started (OpenAI: when the model was created).
    let created: Int
    var ownedBy = "swift-clip"
    /// Length of every embedding (the projection dimension, 512 for ViT-B/32).
    let embeddingDimension: Int
    /// Side of the square the image tower sees, in pixels.
    let imageSize: Int
    /// Most tokens per text, start and end tokens included.
    let contextLength: Int
}

/// `GET /health`.
struct HealthResponse: Encodable {
    struct Queue: Encodable {
        let pending: Int
        let max: Int
        let rejected: Int
    }

    var status = "ok"
    let model: String
    let batching: Bool
    let queue: Queue
    let batches: Int
    let inputs: Int
}

/// `/v1/search` hits.
struct SearchHit: Encodable {
    let path: String
    let score: Float
}

/// `{"error": {"message", "type", "param", "code"}}`, with `null` for an absent param or code (OpenAI's shape).
struct ErrorResponse: Encodable {
    struct Body: Encodable {
        let message: String
        let type: String
        let param: Nullable<String>
        let code: Nullable<String>
        /// The request's `X-Request-ID` (also in the response header and the access log); omitted when absent.
        let requestId: String?
    }

    let error: Body
}

/// An optional that encodes `nil` as `null` (synthesised `Encodable` leaves the key out).
struct Nullable<Wrapped: Encodable>: Encodable {
    let value: Wrapped?

    init(_ value: Wrapped?) { self.value = value }

    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if let value { try c.encode(value) } else { try c.encodeNil() }
    }
}

/// One access-log line.
struct AccessLogLine: Encodable {
    let time: String
    let method: String
    let path: String
    let status: Int
    let durationMs: Double
    let bytes: Int
    /// The API key's name (never the key), when keys are configured.
    let key: String?
    let requestId: String
}

/// The encoder every response goes through: snake_case keys in sorted order, slashes unescaped. Embeddings and
/// scores are finite; a non-finite float would be written as a string rather than fail the response.
enum ResponseJSON {
    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        // Encoding these plain value types cannot fail; an empty object is the defensive fallback.
        return (try? [UInt8](encoder.encode(value))) ?? Array("{}".utf8)
    }
}

/// Little-endian float32 bytes, base64-encoded (OpenAI's `encoding_format: "base64"`).
func base64Floats(_ a: [Float]) -> String {
    var data = Data(capacity: a.count * 4)
    for f in a {
        let le = f.bitPattern.littleEndian
        withUnsafeBytes(of: le) { data.append(contentsOf: $0) }
    }
    return data.base64EncodedString()
}
