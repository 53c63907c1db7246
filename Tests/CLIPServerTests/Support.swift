// Test helpers: models built in-process from Tests/Fixtures, servers under HummingbirdTesting, JSON in and out.

@testable import CLIPServer
import CLIPCore
import CLIPSearch
import CLIPZeroShot
import Foundation
import Hummingbird
import HummingbirdTesting
import Tensor
import Testing

/// Tests/Fixtures in this checkout.
let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures").path

/// The bundled demo model (real 49408-token vocabulary), when it has been trained into Weights/demo.
let demoDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Weights/demo").path
let demoAvailable = FileManager.default.fileExists(atPath: demoDirectory + "/model.safetensors")
    && FileManager.default.fileExists(atPath: demoDirectory + "/config.json")

enum TestModels {
    /// tiny-clip-quick (64 px vision, projection 16) with its 1000-row token embedding tiled to the real
    /// 49408-token vocabulary, so text tokenised by the real CLIP BPE runs through it (row id % 1000).
    static let tiny: CLIP = {
        do { return try makeTiny() } catch { fatalError("cannot build the tiny test model: \(error)") }
    }()

    static func makeTiny() throws -> CLIP {
        let dir = fixtures + "/tiny-clip-quick"
        var config = try CLIPConfig(json: try JSONValue.parse(try readFile(dir + "/config.json", limit: 1 << 20)),
                                    source: dir + "/config.json")
        let vocab = 49408
        let file = try SafeTensorsFile(path: dir + "/model.safetensors")
        var tensors: [(String, [Int], [Float])] = []
        for key in file.keys.sorted() {
            let info = try file.info(key)
            var values = try file.floats(key)
            var shape = info.shape
            if key == "text_model.embeddings.token_embedding.weight" {
                let (rows, width) = (shape[0], shape[1])
                var tiled: [Float] = []
                tiled.reserveCapacity(vocab * width)
                while tiled.count < vocab * width { tiled.append(contentsOf: values.prefix(vocab * width - tiled.count)) }
                values = tiled
                shape = [vocab, width]
            }
            tensors.append((key, shape, values))
        }
        config.text.vocabSize = vocab
        let reader = WeightReader(file: try SafeTensorsFile(bytes: safetensorsBytes(tensors), label: "tiny-49408"))
        // The portable packed kernels: their results do not depend on OpenBLAS's process-wide thread count, which
        // other suites running in parallel change by creating models with other backends.
        let model = try CLIPModel(config: config, weights: reader, compute: try Compute(backend: .portable))
        return CLIP(model: model, tokenizer: try .shared())
    }

    static let demo: CLIP? = demoAvailable ? try? CLIP(directory: demoDirectory) : nil

    /// F32 safetensors bytes.
    static func safetensorsBytes(_ tensors: [(String, [Int], [Float])]) -> [UInt8] {
        var header = "{"
        var offset = 0
        for (i, (name, shape, values)) in tensors.enumerated() {
            if i > 0 { header += "," }
            header += "\"\(name)\":{\"dtype\":\"F32\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + values.count * 4)]}"
            offset += values.count * 4
        }
        header += "}"
        while (header.utf8.count + 8) % 8 != 0 { header += " " }
        var out: [UInt8] = []
        out.reserveCapacity(8 + header.utf8.count + offset)
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header.utf8)
        for (_, _, values) in tensors {
            // Little-endian host (x86-64 / arm64): the array's bytes are the file's bytes.
            values.withUnsafeBytes { out.append(contentsOf: $0) }
        }
        return out
    }
}

/// Access-log lines captured in memory.
final class LogCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String] = []
    var lines: [String] { lock.lock(); defer { lock.unlock() }; return storage }
    var log: AccessLog { AccessLog { line in self.lock.lock(); self.storage.append(line); self.lock.unlock() } }
}

/// Builds a server over `clip` with test-friendly settings, runs `body` against it with the router test
/// framework (no sockets), then stops its threads.
func withServer<T>(
    _ clip: CLIP = TestModels.tiny, log: LogCapture = LogCapture(),
    configure: (inout ServerConfiguration) -> Void = { _ in }, index: ImageIndex? = nil,
    _ body: @Sendable (any TestClientProtocol, CLIPServer) async throws -> T
) async throws -> T {
    var config = ServerConfiguration()
    config.modelName = "test-clip"
    config.port = 0
    config.batchWait = .milliseconds(2)
    configure(&config)
    let server = try CLIPServer(clip: clip, configuration: config, index: index, accessLog: log.log)
    defer { server.shutdown() }
    return try await server.makeApplication().test(.router) { client in try await body(client, server) }
}

/// A JSON request body.
func jsonBody(_ object: Any) -> ByteBuffer {
    ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
}

/// Parses a response body as a JSON object (fails the test when it is not one).
func json(_ response: TestResponse, sourceLocation: SourceLocation = #_sourceLocation) -> [String: Any] {
    let data = Data(response.body.readableBytesView)
    guard let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
        Issue.record("response is not a JSON object: \(String(decoding: data, as: UTF8.self))", sourceLocation: sourceLocation)
        return [:]
    }
    return obj
}

/// POSTs a JSON object.
func post(_ client: any TestClientProtocol, _ uri: String, _ object: Any) async throws -> TestResponse {
    try await client.execute(uri: uri, method: .post, headers: [.contentType: "application/json"], body: jsonBody(object))
}

/// Checks an OpenAI-shaped error: status, `type`, and optionally `param` / `code`; returns the message.
@discardableResult
func expectError(_ response: TestResponse, _ status: HTTPResponse.Status, param: String?? = nil, code: String?? = nil,
                 type: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) -> String {
    #expect(response.status == status, "body: \(String(buffer: response.body))", sourceLocation: sourceLocation)
    #expect(response.headers[.contentType] == "application/json", sourceLocation: sourceLocation)
    let body = json(response, sourceLocation: sourceLocation)
    guard let error = body["error"] as? [String: Any] else {
        Issue.record("no error object in \(body)", sourceLocation: sourceLocation)
        return ""
    }
    #expect(Set(error.keys) == ["message", "type", "param", "code", "request_id"], sourceLocation: sourceLocation)
    #expect(response.headers[.init("X-Request-ID")!] == error["request_id"] as? String, sourceLocation: sourceLocation)
    #expect(error["type"] as? String == type ?? (status.code >= 500 ? "server_error" : "invalid_request_error"), sourceLocation: sourceLocation)
    if let param { #expect((error["param"] as? String) == param, "\(error)", sourceLocation: sourceLocation) }
    if let code { #expect((error["code"] as? String) == code, "\(error)", sourceLocation: sourceLocation) }
    let message = error["message"] as? String ?? ""
    #expect(!message.isEmpty, sourceLocation: sourceLocation)
    return message
}

/// The `embedding` arrays of an embeddings response, as float32 (float or base64 encoding).
func embeddings(_ body: [String: Any], sourceLocation: SourceLocation = #_sourceLocation) -> [[Float]] {
    guard let data = body["data"] as? [[String: Any]] else {
        Issue.record("no data array in \(body)", sourceLocation: sourceLocation)
        return []
    }
    return data.enumerated().map { i, item in
        #expect(item["object"] as? String == "embedding", sourceLocation: sourceLocation)
        #expect(item["index"] as? Int == i, sourceLocation: sourceLocation)
        if let s = item["embedding"] as? String { return floatsFromBase64(s) }
        return (item["embedding"] as? [NSNumber] ?? []).map { Float($0.doubleValue) }
    }
}

func floatsFromBase64(_ s: String) -> [Float] {
    guard let data = Data(base64Encoded: s) else { Issue.record("invalid base64"); return [] }
    let bytes = [UInt8](data)
    return stride(from: 0, to: bytes.count - 3, by: 4).map { i in
        Float(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
    }
}

/// Rows of a tensor.
func rows(_ e: Embeddings) -> [[Float]] { e.rows }

/// A fixture image's bytes.
func image(_ name: String) -> [UInt8] {
    [UInt8](FileManager.default.contents(atPath: fixtures + "/images/" + name) ?? Data())
}

func dataURL(_ bytes: [UInt8], type: String = "image/png") -> String {
    "data:\(type);base64," + Data(bytes).base64EncodedString()
}

/// Largest |a − b| over two lists of rows (infinity on a shape mismatch).
func maxDifference(_ a: [[Float]], _ b: [[Float]]) -> Float {
    guard a.count == b.count, zip(a, b).allSatisfy({ $0.count == $1.count }) else { return .infinity }
    return zip(a, b).map { zip($0, $1).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
}
