// The HTTP API end to end through HummingbirdTesting: every route, every error path, batching on/off, base64.

@testable import CLIPServer
import CLIPZeroShot
import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceLifecycle
import Tensor
import Synchronization
import Testing

@Suite("GET routes, 404, 405")
struct RouteTests {
    @Test func health() async throws {
        try await withServer { client, _ in
            let r = try await client.execute(uri: "/health", method: .get)
            #expect(r.status == .ok)
            let body = json(r)
            #expect(body["status"] as? String == "ok")
            #expect(body["model"] as? String == "test-clip")
            #expect((body["queue"] as? [String: Any])?["max"] as? Int == 256)
            let head = try await client.execute(uri: "/health", method: .head)
            #expect(head.status == .ok)
            #expect(head.body.readableBytes == 0)
        }
    }

    @Test func models() async throws {
        try await withServer { client, _ in
            let r = try await client.execute(uri: "/v1/models", method: .get)
            #expect(r.status == .ok)
            let body = json(r)
            #expect(body["object"] as? String == "list")
            let data = try #require(body["data"] as? [[String: Any]])
            #expect(data.count == 1)
            #expect(data[0]["id"] as? String == "test-clip")
            #expect(data[0]["object"] as? String == "model")
            #expect(data[0]["owned_by"] as? String == "swift-clip")
            #expect(data[0]["created"] is Int)
            #expect(data[0]["embedding_dimension"] as? Int == 16)

            let one = try await client.execute(uri: "/v1/models/test-clip", method: .get)
            #expect(one.status == .ok)
            #expect(json(one)["id"] as? String == "test-clip")
            let missing = try await client.execute(uri: "/v1/models/gpt-4", method: .get)
            expectError(missing, .notFound, param: "model", code: "model_not_found")
        }
    }

    @Test func unknownRouteIs404() async throws {
        try await withServer { client, _ in
            for (uri, method) in [("/", HTTPRequest.Method.get), ("/v1/nope", .post), ("/v1/embeddings/x", .post), ("/v2/models", .get)] {
                let r = try await client.execute(uri: uri, method: method)
                let message = expectError(r, .notFound, code: "unknown_url")
                #expect(message.contains(uri))
            }
        }
    }

    @Test func wrongMethodIs405() async throws {
        try await withServer { client, _ in
            let cases: [(String, HTTPRequest.Method, String)] = [
                ("/v1/embeddings", .get, "POST"), ("/v1/classify", .put, "POST"), ("/v1/models", .post, "GET"),
                ("/health", .delete, "GET, HEAD"), ("/v1/models/test-clip", .post, "GET"),
            ]
            for (uri, method, allow) in cases {
                let r = try await client.execute(uri: uri, method: method, body: ByteBuffer(string: "{}"))
                expectError(r, .methodNotAllowed, code: "method_not_allowed")
                #expect(r.headers[.allow] == allow, "\(method) \(uri)")
            }
        }
    }

    @Test func queryStringIsIgnoredForRouting() async throws {
        try await withServer { client, _ in
            let r = try await client.execute(uri: "/health?verbose=1", method: .get)
            #expect(r.status == .ok)
        }
    }
}

@Suite("POST /v1/embeddings")
struct EmbeddingsTests {
    @Test func textMatchesLibrary() async throws {
        let clip = TestModels.tiny
        let texts = ["a red circle", "a photo of a dog", ""]
        let expected = rows(try clip.textEmbeddings(texts, normalized: true))
        try await withServer { client, _ in
            let r = try await post(client, "/v1/embeddings", ["model": "anything", "input": texts])
            #expect(r.status == .ok)
            let body = json(r)
            #expect(body["object"] as? String == "list")
            #expect(body["model"] as? String == "test-clip")
            let got = embeddings(body)
            #expect(maxDifference(got, expected) == 0)
            for row in got { #expect(abs(row.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5, "L2-normalised") }
            let tokenizer = try clip.tokenizer
            let tokens = texts.reduce(0) { $0 + tokenizer.encode($1).count }
            let usage = try #require(body["usage"] as? [String: Int])
            #expect(usage == ["prompt_tokens": tokens, "total_tokens": tokens])

            // A bare string is one input.
            let single = try await post(client, "/v1/embeddings", ["model": "m", "input": "a red circle"])
            #expect(embeddings(json(single)) == rows(try clip.textEmbeddings(["a red circle"])))
        }
    }

    @Test func longTextIsTruncatedTo77Tokens() async throws {
        let text = Array(repeating: "word", count: 200).joined(separator: " ")
        let expected = rows(try TestModels.tiny.textEmbeddings([text]))
        try await withServer { client, _ in
            let body = json(try await post(client, "/v1/embeddings", ["input": [text]]))
            #expect(embeddings(body) == expected)
            #expect((body["usage"] as? [String: Int])?["prompt_tokens"] == 77)
        }
    }

    @Test func imagesMatchLibrary() async throws {
        let clip = TestModels.tiny
        let png = image("sq_224x224.png"), jpg = image("photo_coffee_q50_422.jpg")
        let expected = rows(try clip.imageEmbeddings([.data(png), .data(jpg)], normalized: true))
        try await withServer { client, _ in
            // data URLs, bare base64, and OpenAI's image_url content-part shape
            let inputs: [[Any]] = [
                [["image": dataURL(png)], ["image": dataURL(jpg, type: "image/jpeg")]],
                [["image": Data(png).base64EncodedString()], ["image": Data(jpg).base64EncodedString()]],
                [["type": "image_url", "image_url": ["url": dataURL(png)]], ["image_url": dataURL(jpg)]],
            ]
            for input in inputs {
                let r = try await post(client, "/v1/embeddings", ["model": "test-clip", "input": input])
                #expect(r.status == .ok, "\(String(buffer: r.body))")
                let body = json(r)
                #expect(embeddings(body) == expected)
                #expect((body["usage"] as? [String: Int])?["prompt_tokens"] == 2 * clip.model.config.vision.numPositions)
            }
        }
    }

    @Test func mixedInputKeepsOrder() async throws {
        let clip = TestModels.tiny
        let png = image("tiny_5x7.png")
        let img = rows(try clip.imageEmbeddings([.data(png)]))[0]
        let txt = rows(try clip.textEmbeddings(["cat", "dog"]))
        try await withServer { client, _ in
            let r = try await post(client, "/v1/embeddings", ["input": [["text": "cat"], ["image": dataURL(png)], "dog"]])
            #expect(r.status == .ok)
            #expect(embeddings(json(r)) == [txt[0], img, txt[1]])
        }
    }

    @Test func base64EncodingDecodesToTheFloatResult() async throws {
        try await withServer { client, _ in
            let input: [Any] = ["a blue square", ["image": dataURL(image("tiny_5x7.png"))]]
            let floats = embeddings(json(try await post(client, "/v1/embeddings", ["input": input, "encoding_format": "float"])))
            let b64 = try await post(client, "/v1/embeddings", ["input": input, "encoding_format": "base64"])
            let body = json(b64)
            let items = try #require(body["data"] as? [[String: Any]])
            #expect(items.allSatisfy { $0["embedding"] is String })
            let decoded = embeddings(body)
            #expect(decoded.count == 2 && decoded.allSatisfy { $0.count == 16 })
            #expect(decoded == floats)
            // Default (absent / null) is float.
            let plain = json(try await post(client, "/v1/embeddings", ["input": input, "encoding_format": NSNull()]))
            #expect((plain["data"] as? [[String: Any]])?.first?["embedding"] is [Any])
        }
    }

    @Test func dimensionsMatchingTheModelIsAccepted() async throws {
        try await withServer { client, _ in
            let r = try await post(client, "/v1/embeddings", ["input": "x", "dimensions": 16])
            #expect(r.status == .ok)
        }
    }

    @Test func badRequests() async throws {
        try await withServer(configure: { $0.maxInputs = 3; $0.maxImagesPerRequest = 1 }) { client, _ in
            func send(_ raw: String) async throws -> TestResponse {
                try await client.execute(uri: "/v1/embeddings", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: raw))
            }
            expectError(try await send("{\"input\": [\"a\""), .badRequest, code: "invalid_json")
            expectError(try await send("not json"), .badRequest, code: "invalid_json")
            expectError(try await send(""), .badRequest, code: "invalid_json")
            expectError(try await send("[\"a\"]"), .badRequest, code: "invalid_json")
            expectError(try await send("{\"input\": \"a\", \"input\": \"b\"}"), .badRequest, code: "invalid_json")

            let cases: [([String: Any], String)] = [
                ([:], "input"),
                (["input": NSNull()], "input"),
                (["input": []], "input"),
                (["input": 42], "input"),
                (["input": [1, 2, 3]], "input[0]"),
                (["input": [[1, 2], [3]]], "input[0]"),
                (["input": ["ok", true]], "input[1]"),
                (["input": ["a", "b", "c", "d"]], "input"),
                (["input": [["image": dataURL(image("tiny_5x7.png"))], ["image": dataURL(image("tiny_5x7.png"))]]], "input"),
                (["input": [["text": 5]]], "input[0].text"),
                (["input": [["image": 5]]], "input[0].image"),
                (["input": [["caption": "x"]]], "input[0]"),
                (["input": [["text": "x", "image": "y"]]], "input[0]"),
                (["input": [["image": ""]]], "input[0].image"),
                (["input": [["image": "data:image/png,notbase64"]]], "input[0].image"),
                (["input": [["image": "data:image/png;base64"]]], "input[0].image"),
                (["input": [["image": "data:image/png;base64,!!!!"]]], "input[0].image"),
                (["input": [["image": "%%% not base64 %%%"]]], "input[0].image"),
                (["input": [["image": "file:///etc/passwd"]]], "input[0].image"),
                (["input": [["image": "ftp://127.0.0.1/x.png"]]], "input[0].image"),
                (["input": [["image": dataURL([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13])]]], "input[0].image"),
                (["input": "x", "encoding_format": "int8"], "encoding_format"),
                (["input": "x", "dimensions": 8], "dimensions"),
                (["input": "x", "model": 3], "model"),
            ]
            for (body, param) in cases {
                let r = try await post(client, "/v1/embeddings", body)
                expectError(r, .badRequest, param: .some(param))
            }
        }
    }

    @Test func remoteURLRefusedByDefault() async throws {
        try await withServer { client, server in
            #expect(!server.configuration.allowRemoteImages)
            for url in ["http://127.0.0.1:9/cat.png", "https://example.com/cat.jpg", "HTTP://169.254.169.254/latest"] {
                let r = try await post(client, "/v1/embeddings", ["input": [["image": url]]])
                let message = expectError(r, .badRequest, param: "input[0].image", code: "remote_images_disabled")
                #expect(message.contains("--allow-remote-images"))
            }
            let c = try await post(client, "/v1/classify", ["image": "http://127.0.0.1:9/cat.png", "labels": ["a"]])
            expectError(c, .badRequest, param: "image", code: "remote_images_disabled")
        }
    }

    @Test func unsupportedImageIs415() async throws {
        try await withServer { client, server in
            let avif: [UInt8] = [0, 0, 0, 0x18] + Array("ftypavif".utf8) + [UInt8](repeating: 0, count: 32)
            for bad in [dataURL(avif, type: "image/avif"), dataURL(Array("%PDF-1.4 hello".utf8)), Data((64..<128).map { UInt8($0) }).base64EncodedString(),
                        "data:text/plain;base64," + Data("hello".utf8).base64EncodedString()] {
                let r = try await post(client, "/v1/embeddings", ["input": [["image": bad]]])
                expectError(r, .unsupportedMediaType, param: "input[0].image", code: "unsupported_image_format")
            }
            let c = try await post(client, "/v1/classify", ["image": dataURL(avif), "labels": ["a"]])
            expectError(c, .unsupportedMediaType, param: "image")
            // A truncated file in a supported format is damaged input (400), not an unsupported format.
            let truncated = Array(image("sq_224x224.png").prefix(40))
            let t = try await post(client, "/v1/embeddings", ["input": [["image": dataURL(truncated)]]])
            expectError(t, .badRequest, param: "input[0].image", code: "invalid_image")
            // Failed requests give back the queue room they reserved.
            #expect(server.queuedInputs == 0)
        }
    }

    @Test func tooLargeIs413() async throws {
        // Body over --max-body-mb: by Content-Length, and streamed without one.
        try await withServer(configure: { $0.maxBodyBytes = 4096 }) { client, _ in
            let big = jsonBody(["input": String(repeating: "a", count: 5000)])
            let r = try await client.execute(uri: "/v1/embeddings", method: .post, headers: [.contentType: "application/json"], body: big)
            expectError(r, .contentTooLarge, code: "request_too_large")
            let declared = try await client.execute(uri: "/v1/classify", method: .post,
                                                    headers: [.contentLength: String(big.readableBytes), .contentType: "application/json"], body: big)
            expectError(declared, .contentTooLarge, code: "request_too_large")
        }
        // Decoded image over --max-image-pixels.
        try await withServer(configure: { $0.maxImagePixels = 1000 }) { client, _ in
            let r = try await post(client, "/v1/embeddings", ["input": [["image": dataURL(image("sq_224x224.png"))]]])
            expectError(r, .contentTooLarge, param: "input[0].image", code: "image_too_large")
        }
    }

    @Test func accessLogHasOneJSONLinePerRequest() async throws {
        let log = LogCapture()
        try await withServer(log: log) { client, _ in
            _ = try await client.execute(uri: "/health", method: .get)
            _ = try await post(client, "/v1/embeddings", ["input": "x"])
            _ = try await client.execute(uri: "/missing?q=1", method: .get)
        }
        let lines = log.lines
        #expect(lines.count == 3)
        let entries = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(entries.count == 3)
        #expect(entries.map { $0["method"] as? String } == ["GET", "POST", "GET"])
        #expect(entries.map { $0["path"] as? String } == ["/health", "/v1/embeddings", "/missing"])
        #expect(entries.map { $0["status"] as? Int } == [200, 200, 404])
        for e in entries {
            #expect((e["duration_ms"] as? Double ?? -1) >= 0)
            #expect((e["bytes"] as? Int ?? 0) > 0)
            #expect(e["time"] is String)
            #expect(!lines.contains { $0.contains("\n") })
        }
    }
}

@Suite("POST /v1/classify")
struct ClassifyTests {
    @Test func sameNumbersAsLibrary() async throws {
        let clip = TestModels.tiny
        let png = image("odd_225x301.png")
        let labels = ["red circle", "blue square", "green triangle", "a dog"]
        try await withServer(clip) { client, _ in
            let variants: [(Any?, PromptTemplate)] = [(nil, .default), ("a photo of a {}", "a photo of a {}"), (NSNull(), .verbatim)]
            for (template, libraryTemplate) in variants {
                let expected = try clip.classify(image: .data(png), labels: labels, template: libraryTemplate)
                var request: [String: Any] = ["model": "test-clip", "image": dataURL(png), "labels": labels]
                if let template { request["template"] = template }
                let r = try await post(client, "/v1/classify", request)
                #expect(r.status == .ok, "\(String(buffer: r.body))")
                let data = try #require(json(r)["data"] as? [[String: Any]])
                #expect(data.map { $0["label"] as? String } == expected.map(\.label))
                #expect(data.map { Float(($0["score"] as? NSNumber)?.doubleValue ?? -1) } == expected.map(\.score))
            }
            // Bare base64 and top_k.
            let expected = try clip.classify(image: .data(png), labels: labels)
            let r = try await post(client, "/v1/classify", ["image": Data(png).base64EncodedString(), "labels": labels, "top_k": 2])
            let data = try #require(json(r)["data"] as? [[String: Any]])
            #expect(data.map { $0["label"] as? String } == expected.prefix(2).map(\.label))
            let all = try await post(client, "/v1/classify", ["image": dataURL(png), "labels": labels, "top_k": 99])
            #expect((json(all)["data"] as? [Any])?.count == 4)
        }
    }

    @Test func badRequests() async throws {
        let img = dataURL(image("tiny_5x7.png"))
        try await withServer { client, _ in
            let cases: [([String: Any], String)] = [
                (["labels": ["a"]], "image"),
                (["image": 7, "labels": ["a"]], "image"),
                (["image": img], "labels"),
                (["image": img, "labels": "a"], "labels"),
                (["image": img, "labels": []], "labels"),
                (["image": img, "labels": ["a", 3]], "labels[1]"),
                (["image": img, "labels": ["a", "  "]], "labels[1]"),
                (["image": img, "labels": ["a"], "template": "no placeholder"], "template"),
                (["image": img, "labels": ["a"], "template": "{} and {}"], "template"),
                (["image": img, "labels": ["a"], "template": 1], "template"),
                (["image": img, "labels": ["a"], "top_k": 0], "top_k"),
                (["image": img, "labels": ["a"], "top_k": "2"], "top_k"),
                (["image": "not base64!", "labels": ["a"]], "image"),
            ]
            for (body, param) in cases {
                expectError(try await post(client, "/v1/classify", body), .badRequest, param: .some(param))
            }
            expectError(try await client.execute(uri: "/v1/classify", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: "{")),
                        .badRequest, code: "invalid_json")
        }
    }
}

@Suite("Dynamic batching and the bounded queue")
struct BatchingTests {
    /// Eight concurrent clients, each with its own inputs, against a batching server with a long wait (so
    /// their jobs share forward passes) and a non-batching one: identical embeddings, equal to the library's.
    /// Sequential requests against a batching server run alone, so they are bitwise the unbatched result.
    @Test func batchingServerIsExactForLoneRequests() async throws {
        let png = image("sq_224x224.png")
        let body = jsonBody(["input": ["a red circle", ["image": dataURL(png)]], "encoding_format": "base64"])
        let on = try await withServer(configure: { $0.batching = true }) { client, _ in
            embeddings(json(try await client.execute(uri: "/v1/embeddings", method: .post, headers: [.contentType: "application/json"], body: body)))
        }
        let off = try await withServer(configure: { $0.batching = false }) { client, _ in
            embeddings(json(try await client.execute(uri: "/v1/embeddings", method: .post, headers: [.contentType: "application/json"], body: body)))
        }
        #expect(on == off)
        #expect(on.count == 2)
    }

    @Test func batchingOnAndOffGiveIdenticalEmbeddings() async throws {
        let clip = TestModels.tiny
        let names = ["sq_224x224.png", "tiny_5x7.png", "odd_225x301.png", "photo_coffee_q50_422.jpg",
                     "png_rgba.png", "bmp_p8.bmp", "gif_transparent.gif", "tga_rgb.tga"]
        let requests: [[Any]] = names.enumerated().map { i, name in
            [["image": dataURL(image(name))], "caption number \(i)", "a photo of \(name)"]
        }
        let bodies = requests.map { jsonBody(["input": $0, "encoding_format": "base64"]) }
        func run(_ batching: Bool) async throws -> ([[[Float]]], InferenceQueue.Stats) {
            try await withServer(clip, configure: {
                $0.batching = batching
                $0.batchWait = .milliseconds(200)
                $0.maxBatch = 64
            }) { client, server in
                let out = try await withThrowingTaskGroup(of: (Int, [[Float]]).self) { group in
                    for (i, body) in bodies.enumerated() {
                        group.addTask {
                            let r = try await client.execute(uri: "/v1/embeddings", method: .post, headers: [.contentType: "application/json"], body: body)
                            #expect(r.status == .ok)
                            return (i, embeddings(json(r)))
                        }
                    }
                    var out = [[[Float]]](repeating: [], count: bodies.count)
                    for try await (i, e) in group { out[i] = e }
                    return out
                }
                return (out, server.engine.queue.statistics)
            }
        }
        let (batched, batchedStats) = try await run(true)
        let (single, singleStats) = try await run(false)
        // Equal up to float32 rounding: the library's own forward pass is not bitwise batch-invariant (an image
        // embedded alone vs. inside a batch differs by ~1e-7 in CLIP.imageEmbeddings itself, because the
        // matmul kernels see a different row count), so shared forward passes can move the last bit or two.
        #expect(maxDifference(batched.flatMap { $0 }, single.flatMap { $0 }) <= 1e-6)
        #expect(batched.map(\.count) == single.map(\.count))
        // Batched: jobs shared forward passes. Unbatched: one job per pass.
        #expect(batchedStats.batches < batchedStats.jobs, "\(batchedStats)")
        #expect(batchedStats.largestBatch > 3, "\(batchedStats)")
        #expect(singleStats.batches == singleStats.jobs, "\(singleStats)")
        // Unbatched, each request is exactly the library's result for its own inputs.
        for (i, name) in names.enumerated() {
            let img = rows(try clip.imageEmbeddings([.data(image(name))]))
            let txt = rows(try clip.textEmbeddings(["caption number \(i)", "a photo of \(name)"]))
            #expect(maxDifference(single[i], img + txt) == 0, "\(name)")
        }
    }

    @Test func fullQueueAnswers503() async throws {
        try await withServer(configure: { $0.maxQueue = 2 }) { client, server in
            let queue = server.engine.queue
            queue.pause()
            // Two inputs fill the queue while the inference thread is held.
            let first = Task { try await post(client, "/v1/embeddings", ["input": ["a", "b"]]) }
            while queue.pendingItems < 2 { try await Task.sleep(for: .milliseconds(2)) }
            let rejected = try await post(client, "/v1/embeddings", ["input": "c"])
            expectError(rejected, .serviceUnavailable, code: "overloaded")
            #expect(rejected.headers[.retryAfter] == "1")
            let rejectedClassify = try await post(client, "/v1/classify", ["image": dataURL(image("tiny_5x7.png")), "labels": ["x"]])
            expectError(rejectedClassify, .serviceUnavailable, code: "overloaded")
            #expect(queue.statistics.rejected >= 2)
            queue.resume()
            #expect(try await first.value.status == .ok)
            // Drained: accepted again.
            #expect(try await post(client, "/v1/embeddings", ["input": "c"]).status == .ok)
        }
    }

    /// A request larger than --max-queue still runs when the queue is empty (it is never starved forever).
    @Test func oversizedRequestRunsAlone() async throws {
        try await withServer(configure: { $0.maxQueue = 2; $0.maxBatch = 2 }) { client, _ in
            let r = try await post(client, "/v1/embeddings", ["input": ["a", "b", "c", "d", "e"]])
            #expect(r.status == .ok)
            #expect(embeddings(json(r)).count == 5)
        }
    }
}

@Suite("Remote images (--allow-remote-images), from a loopback server only")
struct RemoteImageTests {
    @Test func fetchesWithLimits() async throws {
        let png = image("odd_225x301.png")
        let router = Router()
        router.get("/img.png") { _, _ in Response(status: .ok, headers: [.contentType: "image/png"], body: .init(byteBuffer: ByteBuffer(bytes: png))) }
        router.get("/big") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(repeating: 0x41, count: 256 << 10))) }
        router.get("/slow") { _, _ -> Response in
            try await Task.sleep(for: .seconds(8))
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: png)))
        }
        router.get("/missing") { _, _ in Response(status: .notFound) }
        // A compressed body (a small gzip can inflate to gigabytes): refused, whatever it holds.
        router.get("/gzip") { _, _ in
            Response(status: .ok, headers: [.contentType: "image/png", .contentEncoding: "gzip"],
                     body: .init(byteBuffer: ByteBuffer(bytes: [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0])))
        }
        router.get("/redirect") { _, _ in Response(status: .found, headers: [.location: "/img.png"]) }
        let origin = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        let expected = rows(try TestModels.tiny.imageEmbeddings([.data(png)]))
        try await origin.test(.live) { live in
            let base = "http://127.0.0.1:\(try #require(live.port))"
            // Without --allow-private-hosts, this loopback origin is refused outright, with the one generic error.
            try await withServer(configure: { $0.allowRemoteImages = true }) { client, _ in
                for url in [base + "/img.png", "http://localhost:\(try #require(live.port))/img.png", "http://169.254.169.254/latest/meta-data",
                            "http://[::1]:\(try #require(live.port))/img.png", "http://0.0.0.0:\(try #require(live.port))/img.png",
                            "http://user:pass@example.com/img.png", "http://10.0.0.1/img.png"] {
                    let r = try await post(client, "/v1/embeddings", ["input": [["image": url]]])
                    let message = expectError(r, .badRequest, param: "input[0].image", code: "remote_image_unavailable")
                    #expect(message == "input[0].image: could not fetch the image URL", "\(url): \(message)")
                }
            }
            try await withServer(configure: {
                $0.allowRemoteImages = true
                $0.allowPrivateHosts = true
                $0.remoteMaxBytes = 200 << 10   // the image is 113 KB, /big 256 KB
                $0.remoteTimeout = .seconds(3)   // generous for a loaded or sanitised build; /slow needs 8 s
            }) { client, _ in
                for path in ["/img.png", "/redirect"] {
                    let ok = try await post(client, "/v1/embeddings", ["input": [["image": base + path]]])
                    #expect(ok.status == .ok, "\(String(buffer: ok.body))")
                    #expect(embeddings(json(ok)) == expected)
                }
                let cls = try await post(client, "/v1/classify", ["image": base + "/img.png", "labels": ["a", "b"]])
                #expect(cls.status == .ok)
                // Every failure is the same answer: too large, too slow (/slow answers after 8 s; a 200 would mean no
                // limit), missing.
                expectError(try await post(client, "/v1/embeddings", ["input": [["image": base + "/big"]]]),
                            .badRequest, param: "input[0].image", code: "remote_image_unavailable")
                expectError(try await post(client, "/v1/embeddings", ["input": [["image": base + "/slow"]]]),
                            .badRequest, param: "input[0].image", code: "remote_image_unavailable")
                expectError(try await post(client, "/v1/embeddings", ["input": [["image": base + "/missing"]]]),
                            .badRequest, param: "input[0].image", code: "remote_image_unavailable")
                expectError(try await post(client, "/v1/embeddings", ["input": [["image": base + "/gzip"]]]),
                            .badRequest, param: "input[0].image", code: "remote_image_unavailable")
                // Still no other schemes.
                expectError(try await post(client, "/v1/embeddings", ["input": [["image": "file:///etc/hostname"]]]),
                            .badRequest, code: "unsupported_url_scheme")
            }
        }
    }
}

@Suite("Remote image fetching: the checked address is the one connected to")
struct RemoteFetchPinningTests {
    /// An origin on loopback. Fetches that should succeed get a 60 s limit: the full test run keeps both cores
    /// busy, and these tests are about where the connection goes, not how fast.
    static func withOrigin(_ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        let png = image("odd_225x301.png")
        let router = Router()
        router.get("/img.png") { request, _ in
            Response(status: .ok, headers: [.contentType: "image/png", .init("X-Seen-Host")!: request.head.authority ?? ""],
                     body: .init(byteBuffer: ByteBuffer(bytes: png)))
        }
        router.get("/to-private") { _, _ in Response(status: .found, headers: [.location: "http://internal.invalid/img.png"]) }
        router.get("/to-pinned") { _, _ in Response(status: .found, headers: [.location: "/img.png"]) }
        router.get("/loop") { _, _ in Response(status: .found, headers: [.location: "/loop"]) }
        // Headers at once, then a body that trickles for 20 s: only a whole-fetch limit stops it.
        router.get("/trickle") { _, _ in
            Response(status: .ok, headers: [.contentType: "image/png"], body: ResponseBody { writer in
                for _ in 0..<200 {
                    try await writer.write(ByteBuffer(bytes: [0x89]))
                    try await Task.sleep(for: .milliseconds(100))
                }
                try await writer.finish(nil)
            })
        }
        let origin = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await origin.test(.live) { live in try await body(try #require(live.port)) }
    }

    @Test("a name only our resolver knows is fetched from the address it gave (so no second lookup happened)")
    func connectsToCheckedAddress() async throws {
        try await Self.withOrigin { port in
            // The system resolver cannot resolve .invalid (RFC 6761): success proves the connection used our answer.
            let resolver: AddressPolicy.Resolver = { name in
                guard name == "pinned.invalid" else { throw RemoteFetchError.network("unknown \(name)") }
                return ["127.0.0.1"]
            }
            let bytes = try await RemoteImageFetcher.fetch(URL(string: "http://pinned.invalid:\(port)/img.png")!, maxBytes: 1 << 20,
                                                           timeout: .seconds(60), allowPrivateHosts: true, resolver: resolver)
            #expect(bytes == image("odd_225x301.png"))
            // Redirects are re-resolved through the same policy (relative Location: same host, checked again).
            let redirected = try await RemoteImageFetcher.fetch(URL(string: "http://pinned.invalid:\(port)/to-pinned")!, maxBytes: 1 << 20,
                                                                timeout: .seconds(60), allowPrivateHosts: true, resolver: resolver)
            #expect(redirected == bytes)
            // Without --allow-private-hosts the same answer (loopback) is refused before any connection.
            await #expect(throws: RemoteFetchError.self) {
                _ = try await RemoteImageFetcher.fetch(URL(string: "http://pinned.invalid:\(port)/img.png")!, maxBytes: 1 << 20,
                                                       timeout: .seconds(60), allowPrivateHosts: false, resolver: resolver)
            }
        }
    }

    @Test("every address of a name is checked, and every redirect hop")
    func everyAddressAndHop() async throws {
        try await Self.withOrigin { port in
            // A public first answer does not hide a private second one.
            let mixed: AddressPolicy.Resolver = { _ in ["93.184.215.14", "10.0.0.7"] }
            #expect(throws: RemoteFetchError.self) { try AddressPolicy.pin(host: "mixed.invalid", allowPrivate: false, resolver: mixed) }
            let pinned = try AddressPolicy.pin(host: "mixed.invalid", allowPrivate: true, resolver: mixed)
            #expect(pinned == "93.184.215.14")
            // A redirect's host goes through the same resolver and policy (not a lookup of the HTTP client's own).
            let hop: AddressPolicy.Resolver = { name in
                if name == "origin.invalid" { return ["127.0.0.1"] }
                throw RemoteFetchError.network("test resolver asked for \(name)")
            }
            await #expect(throws: RemoteFetchError.network("test resolver asked for internal.invalid")) {
                _ = try await RemoteImageFetcher.fetch(URL(string: "http://origin.invalid:\(port)/to-private")!, maxBytes: 1 << 20,
                                                       timeout: .seconds(60), allowPrivateHosts: true, resolver: hop)
            }
            #expect(AddressPolicy.forbidden(numeric: "169.254.169.254") == "link-local")
            // A generous limit: six hops, each a new connection, in a test run that keeps both cores busy.
            await #expect(throws: RemoteFetchError.redirect("more than \(RemoteImageFetcher.maxRedirects) redirects")) {
                _ = try await RemoteImageFetcher.fetch(URL(string: "http://127.0.0.1:\(port)/loop")!, maxBytes: 1 << 20,
                                                       timeout: .seconds(60), allowPrivateHosts: true)
            }
        }
    }

    @Test("an endless body is cut at the byte cap: the transfer stops, not only the answer")
    func endlessBodyStops() async throws {
        final class Origin: Sendable {
            let cut = Atomic<Bool>(false)
        }
        let state = Origin()
        let router = Router()
        router.get("/endless") { _, _ in
            Response(status: .ok, headers: [.contentType: "image/png"], body: ResponseBody { writer in
                let chunk = ByteBuffer(repeating: 0x41, count: 64 << 10)
                do {
                    while true {
                        try await writer.write(chunk)
                    }
                } catch {
                    state.cut.store(true, ordering: .relaxed)   // the client closed the connection
                    throw error
                }
            })
        }
        let origin = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await origin.test(.live) { live in
            let port = try #require(live.port)
            await #expect(throws: RemoteFetchError.tooLarge(limit: 1 << 20)) {
                _ = try await RemoteImageFetcher.fetch(URL(string: "http://127.0.0.1:\(port)/endless")!, maxBytes: 1 << 20,
                                                       timeout: .seconds(60), allowPrivateHosts: true)
            }
            // The connection was closed (a stalled but open one would leave the origin blocked, not failing). What the
            // origin queued is no measure: its writes are buffered in its own process.
            for _ in 0..<600 where !state.cut.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(50)) }
            let cut = state.cut.load(ordering: .relaxed)
            #expect(cut, "the connection stayed open after the cap")
        }
    }

    @Test("a body that trickles after its headers is cut at the whole-fetch time limit")
    func trickleIsCut() async throws {
        try await Self.withOrigin { port in
            // Without a limit on the body, the fetch would return the trickle's 200 bytes after 20 s.
            await #expect(throws: RemoteFetchError.timeout(seconds: 1)) {
                _ = try await RemoteImageFetcher.fetch(URL(string: "http://127.0.0.1:\(port)/trickle")!, maxBytes: 1 << 20,
                                                       timeout: .seconds(1), allowPrivateHosts: true)
            }
        }
    }
}

@Suite("Graceful shutdown")
struct ShutdownTests {
    /// A request in flight when shutdown starts still gets its answer; the service then returns.
    @Test func inFlightRequestFinishes() async throws {
        var config = ServerConfiguration()
        config.port = 0
        config.modelName = "test-clip"
        let server = try CLIPServer(clip: TestModels.tiny, configuration: config, accessLog: .disabled)
        defer { server.shutdown() }
        let port = AsyncStream<Int>.makeStream()
        let app = server.makeApplication { port.continuation.yield($0) }
        let group = ServiceGroup(configuration: .init(services: [app], logger: server.logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var it = port.stream.makeAsyncIterator()
            let p = try #require(await it.next())
            server.engine.queue.pause()
            let client = TestClient(host: "127.0.0.1", port: p, configuration: .init(timeout: .seconds(20)))
            client.connect()
            let inFlight = Task {
                try await client.post("/v1/embeddings", headers: [.contentType: "application/json"],
                                      body: jsonBody(["input": "still answered"]))
            }
            while server.engine.queue.pendingItems < 1 { try await Task.sleep(for: .milliseconds(2)) }
            await group.triggerGracefulShutdown()
            try await Task.sleep(for: .milliseconds(50))
            server.engine.queue.resume()
            let response = try await inFlight.value
            #expect(response.status == .ok)
            try await client.shutdown()
            try await tasks.waitForAll()
        }
    }
}

@Suite("The demo model (real vocabulary)", .enabled(if: demoAvailable, "Weights/demo not present: train it with Tools/train-demo to run these"))
struct DemoModelTests {
    @Test func textAndClassifyMatchLibrary() async throws {
        let clip = try #require(TestModels.demo)
        let texts = ["a red circle", "a blue square on a white background"]
        let expected = rows(try clip.textEmbeddings(texts))
        try await withServer(clip) { client, _ in
            let r = try await post(client, "/v1/embeddings", ["input": texts, "encoding_format": "base64"])
            #expect(r.status == .ok)
            #expect(embeddings(json(r)) == expected)
            let png = image("sq_224x224.png")
            let labels = ["red circle", "blue square", "green triangle"]
            let lib = try clip.classify(image: .data(png), labels: labels)
            let c = try await post(client, "/v1/classify", ["image": dataURL(png), "labels": labels])
            let data = try #require(json(c)["data"] as? [[String: Any]])
            #expect(data.map { $0["label"] as? String } == lib.map(\.label))
            #expect(data.map { Float(($0["score"] as? NSNumber)?.doubleValue ?? -1) } == lib.map(\.score))
        }
    }
}

@Suite("Image references")
struct ImageReferenceTests {
    @Test func parsing() throws {
        #expect(try ImageReference.parse("data:image/png;base64,QUJD", param: "p") == .base64("QUJD"))
        #expect(try ImageReference.parse("DATA:;base64,QUJD", param: "p") == .base64("QUJD"))
        #expect(try ImageReference.parse("QUJD", param: "p") == .base64("QUJD"))
        #expect(try ImageReference.parse("https://example.com/a.png", param: "p") == .remote(URL(string: "https://example.com/a.png")!))
        #expect(try decodeBase64("QU JD\nRA", param: "p") == Array("ABCD".utf8))   // whitespace, missing padding
        #expect(try decodeBase64("-_8", param: "p") == [0xFB, 0xFF])                 // URL-safe alphabet
        #expect(throws: APIError.self) { try ImageReference.parse("gopher://x", param: "p") }
        #expect(throws: APIError.self) { try ImageReference.parse("https://", param: "p") }
    }
}
