// The route table on Hummingbird's router, and the middleware every request passes: request id, API keys and
// Host, rate limit, 404 / 405 with `Allow`, errors in OpenAI's shape, CORS, metrics and the access log.

import Foundation
import Hummingbird
import NIOCore

/// One route: its path (Hummingbird's syntax, `:id` captures a segment), its methods and its handler. The router
/// is built from this list, and 404 / 405 / CORS preflights are answered from it, so each route is named once.
struct Endpoint: Sendable {
    let path: RouterPath
    let methods: [HTTPRequest.Method]
    let handler: @Sendable (APIHandlers, Request, CLIPRequestContext) async throws -> Reply

    init(_ path: RouterPath, _ methods: [HTTPRequest.Method],
         _ handler: @escaping @Sendable (APIHandlers, Request, CLIPRequestContext) async throws -> Reply) {
        self.path = path
        self.methods = methods
        self.handler = handler
    }

    static let all: [Endpoint] = [
        Endpoint("/health", [.get, .head]) { api, _, _ in api.health() },
        Endpoint("/v1/models", [.get]) { api, _, _ in api.models() },
        Endpoint("/v1/models/:id", [.get]) { api, _, context in
            try api.model(id: context.parameters.get("id").flatMap { $0.removingPercentEncoding } ?? "")
        },
        Endpoint("/v1/embeddings", [.post]) { api, request, _ in try await api.embeddings(request) },
        Endpoint("/v1/classify", [.post]) { api, request, _ in try await api.classify(request) },
        Endpoint("/v1/search", [.post]) { api, request, _ in try await api.search(request) },
        Endpoint("/metrics", [.get]) { api, _, _ in api.metrics() },
        Endpoint("/openapi.json", [.get]) { _, _, _ in Reply(body: Array(OpenAPI.document.utf8)) },
    ]

    /// The route whose path matches `path` (by Hummingbird's segment matching), whatever the method.
    static func matching(_ path: String) -> Endpoint? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        return all.first { e in e.path.count == segments.count && zip(e.path, segments).allSatisfy { $0 ~= $1 } }
    }

    /// The metrics label: the route's pattern (`/v1/models/{id}`), bounded in number.
    var label: String { path.description }
}

extension CLIPServer {
    /// Hummingbird's router over ``Endpoint/all``, behind ``APIMiddleware``.
    func makeRouter() -> Router<CLIPRequestContext> {
        let router = Router(context: CLIPRequestContext.self)
        router.add(middleware: APIMiddleware(server: self))
        let api = APIHandlers(server: self)
        for endpoint in Endpoint.all {
            for method in endpoint.methods {
                router.on(endpoint.path, method: method) { request, context in
                    try await endpoint.handler(api, request, context)
                }
            }
        }
        return router
    }
}

/// What every request shares, around its route.
struct APIMiddleware: RouterMiddleware {
    typealias Context = CLIPRequestContext
    let server: CLIPServer

    static let timeFormat = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let path = request.uri.path
        let c = server.configuration
        let requestID = RequestID.accept(request.headers.first { $0.name.canonicalName == "x-request-id" }?.value)
        let endpoint = Endpoint.matching(path)
        var keyName: String?
        var response: Response
        do {
            // Refusals come before the route reads the body.
            let allowed: Endpoint
            do {
                keyName = try AccessControl.check(request, path: path, endpoint: endpoint, configuration: c)
                if let limiter = server.rateLimiter, path != "/health", !CORS.isPreflight(request, configuration: c) {
                    try limiter.admit(keyName ?? context.channel.remoteAddress?.ipAddress ?? "unknown")
                }
                guard let endpoint else {
                    throw APIError(status: .notFound, message: "Invalid URL (\(request.method.rawValue) \(path))", code: "unknown_url")
                }
                if !endpoint.methods.contains(request.method) && !CORS.isPreflight(request, configuration: c) {
                    let methods = endpoint.methods.map(\.rawValue).joined(separator: ", ")
                    throw APIError(status: .methodNotAllowed,
                                   message: "method \(request.method.rawValue) is not allowed for \(path) (allowed: \(methods))",
                                   code: "method_not_allowed", headers: [.allow: methods])
                }
                allowed = endpoint
            } catch {
                // Read (and drop) the unread body so the client sees the answer.
                await APIHandlers.drain(request.body, upTo: APIHandlers.drainLimit(c.maxBodyBytes))
                throw error
            }
            if CORS.isPreflight(request, configuration: c) {
                response = CORS.preflight(allowed: allowed.methods).response(from: request, context: context)
            } else {
                response = try await next(request, context)
            }
        } catch {
            var e = APIError.from(error)
            e.requestID = requestID
            response = Reply(e).response(from: request, context: context)
        }
        let bytes = response.body.contentLength ?? 0
        if response.headers[.contentType] == nil { response.headers[.contentType] = "application/json" }
        response.headers[.contentLength] = String(bytes)
        // A refused request may have left part of its body unread: close the connection rather than parse the
        // rest as the next request (or keep reading an endless upload).
        if response.status.code >= 400 && request.method == .post {
            response.headers[.connection] = "close"
            // Hummingbird would read the rest of the body before closing (forever, for an endless upload): close
            // the connection once the answer has had time to leave.
            let channel = context.channel
            channel.eventLoop.scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
        }
        response.headers[.init("X-Request-ID")!] = requestID
        if let origin = CORS.allowedOrigin(request, configuration: c) {
            response.headers[.init("Access-Control-Allow-Origin")!] = origin
            response.headers[.init("Vary")!] = "Origin"
            response.headers[.init("Access-Control-Expose-Headers")!] = "X-Request-ID, Retry-After"
        }
        let isHead = request.method == .head
        if isHead { response.body = ResponseBody() }
        let elapsed = start.duration(to: .now)
        let route = endpoint?.label ?? "other"
        server.metrics.record(route: route, method: request.method.rawValue, status: Int(response.status.code), duration: elapsed)
        let ms = Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) * 1e-15
        let line = AccessLogLine(time: APIMiddleware.timeFormat.format(Date()), method: request.method.rawValue, path: path,
                                 status: Int(response.status.code), durationMs: (ms * 1000).rounded() / 1000,
                                 bytes: isHead ? 0 : bytes, key: keyName, requestId: requestID)
        server.accessLog.write(String(decoding: ResponseJSON.encode(line), as: UTF8.self))
        return response
    }
}
