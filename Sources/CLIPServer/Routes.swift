// The route handlers: body reading (413, 408), JSON parsing and the work of each route.

import CLIPSearch
import CLIPZeroShot
import Tensor
import Foundation
import Hummingbird
import NIOCore

/// A handler's answer: status, JSON (or text) body and extra headers.
struct Reply: ResponseGenerator {
    var status: HTTPResponse.Status
    var body: [UInt8]
    var headers: HTTPFields = [:]

    init(status: HTTPResponse.Status = .ok, body: [UInt8], headers: HTTPFields = [:]) {
        self.status = status
        self.body = body
        self.headers = headers
    }

    init(_ error: APIError) {
        self.init(status: error.status, body: error.body, headers: error.headers)
    }

    /// A 200 with `value` as its JSON body.
    init<T: Encodable>(_ value: T) {
        self.init(body: ResponseJSON.encode(value))
    }

    func response(from request: Request, context: some RequestContext) -> Response {
        Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// The request context: Hummingbird's core storage plus the connection, so a refused upload can be cut off.
public struct CLIPRequestContext: RequestContext {
    /// Hummingbird's per-request storage (parameters, logger, endpoint path).
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel

    /// The context of a request arriving on `source`'s connection.
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// The route handlers; ``APIMiddleware`` does what every route shares (access, limits, errors, logging).
struct APIHandlers: Sendable {
    let server: CLIPServer

    // MARK: Body

    /// The body as a JSON object, with the size limit (413) and parse errors (400).
    func readJSON(_ request: Request) async throws -> [(String, JSONValue)] {
        let limit = server.configuration.maxBodyBytes
        let tooLarge = APIError.tooLarge(
            "request body is larger than the \(limit)-byte limit (--max-body-mb)", code: "request_too_large")
        let drainCap = APIHandlers.drainLimit(limit)
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            await APIHandlers.drain(request.body, upTo: drainCap)
            throw tooLarge
        }
        let body = request.body
        let seconds = server.configuration.bodyTimeoutSeconds
        // The whole body must arrive within --body-timeout: a trickled upload would otherwise hold a request (and
        // its connection) for ever. The reader and a timer race; the loser is cancelled.
        let (buffer, total) = try await withThrowingTaskGroup(of: (ByteBuffer, Int)?.self) { group in
            group.addTask {
                var buffer = ByteBuffer()
                var total = 0
                for try await chunk in body {
                    total += chunk.readableBytes
                    if total > limit {
                        // Over the limit: keep reading (and dropping) up to the drain cap, then answer 413.
                        buffer = ByteBuffer()
                        if total > drainCap { break }
                        continue
                    }
                    buffer.writeImmutableBuffer(chunk)
                }
                return (buffer, total)
            }
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            guard let first else {
                throw APIError(status: .requestTimeout, message: "the request body did not arrive within \(seconds) s (--body-timeout)",
                               code: "body_timeout")
            }
            return first
        }
        if total > limit { throw tooLarge }
        guard buffer.readableBytes > 0 else {
            throw APIError.badRequest("request body is empty: expected a JSON object", code: "invalid_json")
        }
        let bytes = Array(buffer.readableBytesView)
        let parse: @Sendable () throws -> JSONValue = {
            do { return try JSONValue.parse(bytes) } catch let e as JSONError {
                throw APIError.badRequest("could not parse the JSON body of your request: \(e.description)", code: "invalid_json")
            }
        }
        // Large bodies (inline images) parse on the decode pool, keeping the concurrency pool free.
        let json = bytes.count > 64 << 10 ? try await server.engine.offload(parse) : try parse()
        guard let members = json.objectValue else {
            throw APIError.badRequest("request body must be a JSON object, not \(json.kindName)", code: "invalid_json")
        }
        return members
    }

    /// How much of an oversized body is read and discarded before the 413 goes out. Clients that send the whole
    /// body before reading (Python's urllib and http.client, with `Connection: close`) would otherwise block on a
    /// server that stopped reading, and never see the 413.
    static func drainLimit(_ limit: Int) -> Int { max(4 * limit, 64 << 20) }

    /// Reads and discards up to `cap` more bytes of a request body.
    static func drain(_ body: RequestBody, upTo cap: Int) async {
        var seen = 0
        do {
            for try await chunk in body {
                seen += chunk.readableBytes
                if seen > cap { return }
            }
        } catch {}
    }

    // MARK: GET routes

    func health() -> Reply {
        let stats = server.engine.queue.statistics
        return Reply(HealthResponse(
            model: server.configuration.modelName, batching: server.configuration.batching,
            queue: .init(pending: server.engine.queue.pendingItems, max: server.configuration.maxQueue, rejected: stats.rejected),
            batches: stats.batches, inputs: stats.items))
    }

    var modelObject: ModelObject {
        let config = server.clip.model.config
        return ModelObject(id: server.configuration.modelName, created: server.createdAt,
                           embeddingDimension: config.projectionDim, imageSize: config.vision.imageSize,
                           contextLength: config.text.maxPositionEmbeddings)
    }

    func models() -> Reply { Reply(ListResponse(data: [modelObject])) }

    func metrics() -> Reply {
        var reply = Reply(body: server.metrics.render(queue: server.engine.queue, configuration: server.configuration))
        reply.headers[.contentType] = "text/plain; version=0.0.4"
        return reply
    }

    func model(id: String) throws -> Reply {
        guard id == server.configuration.modelName else {
            throw APIError(status: .notFound, message: "the model '\(id)' does not exist (this server serves '\(server.configuration.modelName)')",
                           param: "model", code: "model_not_found")
        }
        return Reply(modelObject)
    }

    // MARK: Shared parsing

    /// `model` may be absent or any string: this server has one model and reports its own id.
    func checkModel(_ body: [(String, JSONValue)]) throws {
        if let m = body.value("model"), !m.isNull, m.stringValue == nil {
            throw APIError.badRequest("model must be a string, not \(m.kindName)", param: "model")
        }
    }

    /// One image reference to preprocessed pixels: base64 decoding and image decoding run on the decode pool;
    /// remote URLs are fetched only when allowed.
    func pixels(_ ref: ImageReference, param: String, budget: PixelBudget? = nil) async throws -> [Float] {
        let engine = server.engine
        do {
            switch ref {
            case .base64(let text):
                let limit = server.configuration.maxBodyBytes
                return try await engine.offload {
                    let bytes = try decodeBase64(text, param: param)
                    if bytes.count > limit { throw ImageError.tooManyBytes(size: bytes.count, limit: limit) }
                    return try engine.pixelValues(bytes, budget: budget)
                }
            case .remote(let url):
                guard server.configuration.allowRemoteImages else {
                    throw APIError.badRequest(
                        "\(param): remote image URLs are disabled on this server (it fetches nothing server-side unless started with --allow-remote-images); send the image inline as a data URL: data:image/png;base64,…",
                        param: param, code: "remote_images_disabled")
                }
                let bytes: [UInt8]
                do {
                    bytes = try await RemoteImageFetcher.fetch(
                        url, maxBytes: server.configuration.remoteMaxBytes, timeout: server.configuration.remoteTimeout,
                        allowPrivateHosts: server.configuration.allowPrivateHosts)
                } catch {
                    // One answer for every failure, so the server cannot be used to map hosts and ports; the
                    // reason goes to the server log only.
                    server.logger.warning("remote image \(url.absoluteString): \(error)")
                    throw APIError.badRequest("\(param): could not fetch the image URL", param: param,
                                              code: "remote_image_unavailable")
                }
                return try await engine.offload { try engine.pixelValues(bytes, budget: budget) }
            }
        } catch {
            throw APIError.from(error, param: param)
        }
    }

    /// Claims `count` places in the inference queue (503 when full, before any decoding), then decodes `ref`;
    /// the places are given back if decoding fails.
    func reservedPixels(_ ref: ImageReference, param: String, reserving count: Int) async throws -> [Float] {
        let queue = server.engine.queue
        try queue.reserve(count)
        do {
            return try await pixels(ref, param: param)
        } catch {
            queue.release(count)
            throw error
        }
    }

    // MARK: POST /v1/embeddings

    enum EmbeddingInput {
        case text(String)
        case image(ImageReference, param: String)
    }

    func parseInputs(_ value: JSONValue?) throws -> [EmbeddingInput] {
        guard let value, !value.isNull else {
            throw APIError.badRequest("you must provide an input: a string, an array of strings, or an array of {\"text\": …} / {\"image\": \"data:image/…;base64,…\"} objects", param: "input")
        }
        let tokenArrays = "token-id arrays are not supported: this server tokenises text itself with CLIP's BPE; send strings"
        switch value {
        case .string(let s):
            return [.text(s)]
        case .array(let items):
            guard !items.isEmpty else { throw APIError.badRequest("input must not be an empty array", param: "input") }
            guard items.count <= server.configuration.maxInputs else {
                throw APIError.badRequest("input has \(items.count) items, more than the limit of \(server.configuration.maxInputs)", param: "input")
            }
            return try items.enumerated().map { i, item -> EmbeddingInput in
                let param = "input[\(i)]"
                switch item {
                case .string(let s): return .text(s)
                case .int, .double, .array: throw APIError.badRequest(tokenArrays, param: param)
                case .object(let members):
                    if let t = members.value("text") {
                        guard let s = t.stringValue else { throw APIError.badRequest("\(param).text must be a string, not \(t.kindName)", param: "\(param).text") }
                        if members.value("image") != nil || members.value("image_url") != nil {
                            throw APIError.badRequest("\(param) must have either \"text\" or \"image\", not both", param: param)
                        }
                        return .text(s)
                    }
                    var imageValue = members.value("image").map { ("\(param).image", $0) }
                    if imageValue == nil, let iu = members.value("image_url") {
                        // {"type": "image_url", "image_url": {"url": …}} as in OpenAI's chat content parts.
                        imageValue = ("\(param).image_url", iu["url"] ?? iu)
                    }
                    guard let (p, v) = imageValue else {
                        throw APIError.badRequest("\(param) must have a \"text\" or an \"image\" field", param: param)
                    }
                    guard let s = v.stringValue else { throw APIError.badRequest("\(p) must be a string, not \(v.kindName)", param: p) }
                    return .image(try ImageReference.parse(s, param: p), param: p)
                default:
                    throw APIError.badRequest("\(param) must be a string or an object with \"text\" or \"image\", not \(item.kindName)", param: param)
                }
            }
        case .int, .double:
            throw APIError.badRequest(tokenArrays, param: "input")
        default:
            throw APIError.badRequest("input must be a string or an array, not \(value.kindName)", param: "input")
        }
    }

    func embeddings(_ request: Request) async throws -> Reply {
        let body = try await readJSON(request)
        try checkModel(body)
        var base64 = false
        if let f = body.value("encoding_format"), !f.isNull {
            switch f.stringValue {
            case "float": base64 = false
            case "base64": base64 = true
            default:
                throw APIError.badRequest("encoding_format must be \"float\" or \"base64\"", param: "encoding_format")
            }
        }
        let dim = server.clip.model.config.projectionDim
        if let d = body.value("dimensions"), !d.isNull, d.intValue != dim {
            throw APIError.badRequest("dimensions must be \(dim) for this model (CLIP embeddings cannot be shortened)", param: "dimensions")
        }
        let inputs = try parseInputs(body.value("input"))
        let imageCount = inputs.reduce(0) { if case .image = $1 { return $0 + 1 } else { return $0 } }
        guard imageCount <= server.configuration.maxImagesPerRequest else {
            // Each image becomes a (3, S, S) float buffer: bound the memory one request can claim.
            throw APIError.badRequest("input has \(imageCount) images, more than the limit of \(server.configuration.maxImagesPerRequest) per request", param: "input")
        }

        var texts: [String] = []
        var textSlots: [Int] = []
        var images: [(ImageReference, String)] = []
        var imageSlots: [Int] = []
        for (i, input) in inputs.enumerated() {
            switch input {
            case .text(let s): texts.append(s); textSlots.append(i)
            case .image(let ref, let param): images.append((ref, param)); imageSlots.append(i)
            }
        }
        let engine = server.engine
        let clip = server.clip
        let contextLength = clip.model.config.text.maxPositionEmbeddings
        let tokenizer = try clip.tokenizer
        // Counting tokens cleans and tokenises: on the decode pool, each text cut to the head that matters.
        let textList = texts
        var tokens = try await engine.offload {
            textList.reduce(0) { $0 + min(tokenizer.encode(CLIP.contextPrefix($1, words: contextLength)).count, contextLength) }
        }
        tokens += images.count * clip.model.config.vision.numPositions

        // Room in the queue is claimed first, so a full server answers 503 before decoding anything. Texts go to
        // the model at once; images decode in parallel on the decode pool, then follow.
        let queue = engine.queue
        try queue.reserve(texts.count + images.count)
        let textTask: Task<[[Float]], Error>? = texts.isEmpty ? nil : Task {
            try await queue.submit(.texts(texts), reserved: true)
        }
        let pixelValues: [[Float]]
        do {
            let budget = PixelBudget(limit: server.configuration.maxRequestPixels)
            pixelValues = try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
                for (k, (ref, param)) in images.enumerated() {
                    group.addTask { (k, try await self.pixels(ref, param: param, budget: budget)) }
                }
                var out = [[Float]](repeating: [], count: images.count)
                for try await (k, p) in group { out[k] = p }
                return out
            }
        } catch {
            queue.release(images.count)
            throw error
        }
        let im = pixelValues.isEmpty ? [] : try await queue.submit(.images(pixelValues), reserved: true)
        let t = try await textTask?.value ?? []
        var rows = [[Float]](repeating: [], count: inputs.count)
        for (k, slot) in textSlots.enumerated() { rows[slot] = t[k] }
        for (k, slot) in imageSlots.enumerated() { rows[slot] = im[k] }

        let data = rows.enumerated().map { i, row in
            EmbeddingObject(index: i, embedding: base64 ? .base64(base64Floats(row)) : .floats(row))
        }
        return Reply(ListResponse(data: data, model: server.configuration.modelName,
                                  usage: Usage(promptTokens: tokens, totalTokens: tokens)))
    }

    // MARK: POST /v1/classify

    func classify(_ request: Request) async throws -> Reply {
        let body = try await readJSON(request)
        try checkModel(body)
        guard let imageValue = body.value("image"), !imageValue.isNull else {
            throw APIError.badRequest("you must provide an image: a data URL (data:image/png;base64,…) or base64 image bytes", param: "image")
        }
        guard let imageString = imageValue.stringValue else {
            throw APIError.badRequest("image must be a string, not \(imageValue.kindName)", param: "image")
        }
        let ref = try ImageReference.parse(imageString, param: "image")
        guard let labelsValue = body.value("labels"), let labelItems = labelsValue.arrayValue else {
            throw APIError.badRequest("labels must be an array of strings", param: "labels")
        }
        guard !labelItems.isEmpty else { throw APIError.badRequest("labels must not be empty", param: "labels") }
        guard labelItems.count <= server.configuration.maxLabels else {
            throw APIError.badRequest("labels has \(labelItems.count) items, more than the limit of \(server.configuration.maxLabels)", param: "labels")
        }
        let labels = try labelItems.enumerated().map { i, v -> String in
            guard let s = v.stringValue else { throw APIError.badRequest("labels[\(i)] must be a string, not \(v.kindName)", param: "labels[\(i)]") }
            return s
        }
        var template = PromptTemplate.default
        if let t = body.value("template") {
            if t.isNull {
                template = .verbatim
            } else if let s = t.stringValue {
                template = .format(s)
            } else {
                throw APIError.badRequest("template must be a string with one {} (or null for verbatim labels), not \(t.kindName)", param: "template")
            }
        }
        do {
            try CLIPError.validate(labels: labels, templates: [template])
        } catch {
            throw APIError.from(error)   // the facade's rules, mapped to parameters in one place
        }
        var topK = labels.count
        if let k = body.value("top_k"), !k.isNull {
            guard let n = k.intValue, n >= 1 else { throw APIError.badRequest("top_k must be an integer ≥ 1", param: "top_k") }
            topK = min(n, labels.count)
        }

        let clip = server.clip
        let queue = server.engine.queue
        // Room for the label embeddings and the image.
        let pixelValues = try await reservedPixels(ref, param: "image", reserving: 2)
        let templates = [template]
        async let labelRows = queue.submit(.call { try clip.labelEmbeddings(labels, templates: templates).rows }, reserved: true)
        async let imageRows = queue.submit(.images([pixelValues]), reserved: true)
        let (classEmbeddings, imageEmbedding) = try await (labelRows, imageRows)
        let ranked = try clip.rank(
            imageEmbeddings: Embeddings(count: 1, dimension: imageEmbedding[0].count, values: imageEmbedding[0]),
            labels: labels,
            labelEmbeddings: Embeddings(count: labels.count, dimension: imageEmbedding[0].count, values: Array(classEmbeddings.joined())))[0]

        return Reply(ListResponse(data: Array(ranked.prefix(topK)), model: server.configuration.modelName))
    }
}

extension APIHandlers {
    // MARK: POST /v1/search

    /// `{"query": TEXT}` or `{"image": DATA_URL}`, optional `top_k` (1…1000, default 10) and `filter`
    /// (`{"prefix": P}` or `{"glob": G}`) → `{"object": "list", "data": [{"path", "score"}], "model"}`, the numbers
    /// of `clip search query`. Rows committed by a running indexer are seen on the next request.
    func search(_ request: Request) async throws -> Reply {
        guard let index = server.index else {
            await APIHandlers.drain(request.body, upTo: APIHandlers.drainLimit(server.configuration.maxBodyBytes))
            throw APIError(status: .notFound, message: "this server has no search index (start clip serve with --index FILE)",
                           code: "no_search_index")
        }
        let body = try await readJSON(request)
        try checkModel(body)
        let query = body.value("query").flatMap { $0.isNull ? nil : $0 }
        let imageValue = body.value("image").flatMap { $0.isNull ? nil : $0 }
        guard (query == nil) != (imageValue == nil) else {
            throw APIError.badRequest("give exactly one of query (a text) or image (a data URL or base64 image)", param: "query")
        }
        var topK = 10
        if let k = body.value("top_k"), !k.isNull {
            guard let n = k.intValue, (1...1000).contains(n) else {
                throw APIError.badRequest("top_k must be an integer from 1 to 1000", param: "top_k")
            }
            topK = n
        }
        var filter: ImageIndex.Filter?
        if let f = body.value("filter"), !f.isNull {
            guard let members = f.objectValue, members.count == 1, let (key, value) = members.first,
                  let pattern = value.stringValue, key == "prefix" || key == "glob" else {
                throw APIError.badRequest("filter must be {\"prefix\": \"…\"} or {\"glob\": \"…\"}", param: "filter")
            }
            filter = key == "prefix" ? .prefix(pattern) : .glob(pattern)
        }
        let queue = server.engine.queue
        let vector: [Float]
        if let query {
            guard let text = query.stringValue, !text.allSatisfy(\.isWhitespace) else {
                throw APIError.badRequest("query must be a non-empty string", param: "query")
            }
            try queue.reserve(1)
            vector = try await queue.submit(.texts([text]), reserved: true)[0]
        } else {
            guard let imageString = imageValue?.stringValue else {
                throw APIError.badRequest("image must be a string: a data URL (data:image/png;base64,…) or base64 image bytes", param: "image")
            }
            let ref = try ImageReference.parse(imageString, param: "image")
            let pixelValues = try await reservedPixels(ref, param: "image", reserving: 1)
            vector = try await queue.submit(.images([pixelValues]), reserved: true)[0]
        }
        let (top, chosen) = (topK, filter)
        let hits = try await server.engine.offload { try index.search(vector: vector, top: top, filter: chosen) }
        return Reply(ListResponse(data: hits.map { SearchHit(path: $0.path, score: $0.score) },
                                  model: server.configuration.modelName))
    }
}

extension Array where Element == (String, JSONValue) {
    /// The value of `key` in a JSON object's members.
    func value(_ key: String) -> JSONValue? { first { $0.0 == key }?.1 }
}
