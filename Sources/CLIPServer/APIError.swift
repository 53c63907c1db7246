// Errors in OpenAI's shape: {"error": {"message", "type", "param", "code"}} with the matching HTTP status.

import CLIPZeroShot
import Tensor
import Foundation
import Hummingbird

struct APIError: Error, CustomStringConvertible {
    var status: HTTPResponse.Status
    var message: String
    var type: String
    var param: String?
    var code: String?
    var headers: HTTPFields = [:]
    /// The request's `X-Request-ID`, repeated in the body.
    var requestID: String?

    init(status: HTTPResponse.Status, message: String, type: String? = nil, param: String? = nil, code: String? = nil,
         headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.type = type ?? (status.code >= 500 ? "server_error" : "invalid_request_error")
        self.param = param
        self.code = code
        self.headers = headers
    }

    var description: String { "\(status.code) \(message)" }

    static func badRequest(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: .badRequest, message: message, param: param, code: code)
    }

    static func tooLarge(_ message: String, param: String? = nil, code: String? = "request_too_large") -> APIError {
        APIError(status: .contentTooLarge, message: message, param: param, code: code)
    }

    static let overloaded = APIError(
        status: .serviceUnavailable,
        message: "the server is overloaded: the inference queue is full; retry shortly",
        type: "server_error", code: "overloaded", headers: [.retryAfter: "1"])

    static let shuttingDown = APIError(
        status: .serviceUnavailable, message: "the server is shutting down", type: "server_error", code: "shutting_down",
        headers: [.retryAfter: "1"])

    /// The JSON body.
    var body: [UInt8] {
        ResponseJSON.encode(ErrorResponse(error: .init(message: message, type: type, param: Nullable(param),
                                                       code: Nullable(code), requestId: requestID)))
    }

    /// Maps any error from parsing, fetching, decoding or the model to an API error; `param` names the input.
    static func from(_ error: Error, param: String? = nil) -> APIError {
        switch error {
        case let e as APIError:
            return e
        case is QueueFullError:
            return .overloaded
        case is QueueClosedError, is CancellationError:
            return .shuttingDown
        case let e as ImageError:
            let what = param.map { "\($0): " } ?? ""
            switch e.underlying {
            case .tooManyBytes, .tooManyPixels:
                return .tooLarge(what + e.description, param: param, code: "image_too_large")
            case .unsupportedFormat:
                return APIError(status: .unsupportedMediaType, message: what + e.description, param: param,
                                code: "unsupported_image_format")
            case .emptyData, .emptyImage, .corrupt, .unreadable, .invalidPixelBuffer, .file:
                return .badRequest(what + e.description, param: param, code: "invalid_image")
            }
        case let e as RemoteFetchError:
            let what = param.map { "\($0): " } ?? ""
            switch e {
            case .tooLarge(let limit):
                return .tooLarge(what + "the remote image is larger than the \(limit)-byte limit", param: param,
                                 code: "image_too_large")
            case .timeout(let s):
                return .badRequest(what + "fetching the remote image took longer than \(s) s", param: param,
                                   code: "remote_image_timeout")
            case .status(let code):
                return .badRequest(what + "the remote image URL answered HTTP \(code)", param: param,
                                   code: "remote_image_unavailable")
            case .redirect(let why), .network(let why):
                return .badRequest(what + "cannot fetch the remote image: \(why)", param: param,
                                   code: "remote_image_unavailable")
            }
        case let e as TextInputError:
            return .badRequest(e.description, param: param ?? "input", code: "invalid_text")
        case let e as CLIPError:
            switch e {
            case .emptyLabel(let i): return .badRequest("labels[\(i)] is empty", param: "labels[\(i)]")
            case .invalidTemplate: return .badRequest(e.description, param: "template")
            case .noLabels: return .badRequest("labels must not be empty", param: "labels")
            default: return .badRequest(e.description, param: param)
            }
        case let e as HTTPError where e.status == .notFound:
            // Hummingbird's router, for a path our route table matched but its trie did not.
            return APIError(status: .notFound, message: "Invalid URL", code: "unknown_url")
        case let e as JSONError:
            return .badRequest("could not parse the JSON body of your request: \(e.description)", code: "invalid_json")
        default:
            return APIError(status: .internalServerError, message: "internal error: \(error)", type: "server_error",
                            code: "internal_error")
        }
    }
}
