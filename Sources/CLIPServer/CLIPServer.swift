// The OpenAI-compatible HTTP API for a CLIP model: `POST /v1/embeddings`, `POST /v1/classify`, `GET /v1/models`,
// `GET /health`, on Hummingbird 2, with dynamic batching of concurrent requests on a dedicated inference thread.

import CLIPSearch
import CLIPZeroShot
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// Everything `clip serve` can tune.
///
/// ```swift
/// var config = ServerConfiguration()
/// config.port = 0                 // any free port
/// config.batching = false
/// ```
public struct ServerConfiguration: Sendable {
    /// Address to bind (default loopback only).
    public var host = "127.0.0.1"
    /// Port to bind; 0 picks a free one.
    public var port = 8080
    /// The model id reported by `/v1/models` and echoed in responses.
    public var modelName = "clip"
    /// Largest accepted request body in bytes (larger → 413).
    public var maxBodyBytes = 20 << 20
    /// Largest accepted decoded image, in pixels (larger → 413).
    public var maxImagePixels = 16_777_216
    /// Largest total of decoded pixels over one request's images (each checked from its header before decoding).
    public var maxRequestPixels = 67_108_864
    /// Most inputs in one `/v1/embeddings` request (OpenAI's limit is 2048).
    public var maxInputs = 2048
    /// Most images in one `/v1/embeddings` request (each decodes to a 3×S×S float buffer, 0.6 MB at 224 px).
    public var maxImagesPerRequest = 64
    /// Most labels in one `/v1/classify` request.
    public var maxLabels = 2048
    /// Gather concurrent requests into one forward pass.
    public var batching = true
    /// How long the first queued job waits for company before its batch runs.
    public var batchWait: Duration = .milliseconds(5)
    /// Most inputs per batched forward pass (one larger request still runs, alone).
    public var maxBatch = 32
    /// Most inputs waiting for the model; a request that does not fit gets 503 (a request is always admitted
    /// into an empty queue).
    public var maxQueue = 256
    /// Fetch `http(s)` image URLs server-side. Off by default: no server-side fetching at all.
    public var allowRemoteImages = false
    /// Largest remote image in bytes.
    public var remoteMaxBytes = 10 << 20
    /// Whole-fetch time limit for a remote image.
    public var remoteTimeout: Duration = .seconds(10)
    /// Threads that decode and preprocess images (0: one per core).
    public var decodeThreads = 0
    /// Seconds in-flight requests get to finish after SIGTERM / SIGINT; then the remaining ones (a stuck upload)
    /// are cancelled and the server stops.
    public var shutdownTimeoutSeconds = 30
    /// Seconds a request body may take to arrive in full (then 408 and the connection is closed).
    public var bodyTimeoutSeconds = 60
    /// Seconds a connection may sit idle (no request in progress) before it is closed.
    public var idleTimeoutSeconds = 30
    /// Most open connections; further ones wait in the accept backlog.
    public var maxConnections = 512
    /// API keys; when set, every route but `/health` needs `Authorization: Bearer KEY`.
    public var apiKeys: [APIKey] = []
    /// Let remote image URLs reach loopback, private and link-local addresses (refused by default).
    public var allowPrivateHosts = false
    /// Browser origins allowed to call the API (CORS); `*` allows any. Empty: no CORS headers, OPTIONS is 405.
    public var corsOrigins: [String] = []
    /// Listen on a non-loopback address without API keys (refused otherwise).
    public var insecureNoAuth = false
    /// Requests each API key (each client address, without keys) may make; more get 429 with `Retry-After`.
    /// `/health` is not counted. Nil: no limit.
    public var rateLimit: RateLimit?

    /// The defaults: loopback on port 8080, batching on, no keys, no remote images.
    public init() {}

    /// Checks ranges, returning a message for the first bad value.
    public func validationError() -> String? {
        if host.isEmpty { return "--host must not be empty" }
        if !(0...65535).contains(port) { return "--port must be in 0...65535" }
        if maxBodyBytes < 1024 { return "--max-body-mb must be at least 0.001 (1 KiB)" }
        if maxImagePixels < 1 { return "--max-image-pixels must be at least 1" }
        if shutdownTimeoutSeconds < 0 { return "--shutdown-timeout must be 0 or more" }
        if bodyTimeoutSeconds < 1 { return "--body-timeout must be at least 1 second" }
        if idleTimeoutSeconds < 1 { return "--idle-timeout must be at least 1 second" }
        if maxConnections < 1 { return "--max-connections must be at least 1" }
        if maxRequestPixels < maxImagePixels { return "--max-request-pixels must be at least --max-image-pixels" }
        if maxInputs < 1 || maxImagesPerRequest < 1 || maxLabels < 1 { return "input limits must be at least 1" }
        if maxBatch < 1 || maxBatch > 4096 { return "--max-batch must be in 1...4096" }
        if maxQueue < 1 { return "--max-queue must be at least 1" }
        if batchWait < .zero || batchWait > .seconds(1) { return "--batch-wait-ms must be in 0...1000" }
        if remoteMaxBytes < 1 { return "--remote-max-mb must be positive" }
        if remoteTimeout <= .zero || remoteTimeout > .seconds(3600) { return "--remote-timeout must be in (0, 3600] seconds" }
        if modelName.isEmpty { return "--model-name must not be empty" }
        if let r = rateLimit, !(r.requests.isFinite && r.requests > 0 && r.seconds.isFinite && r.seconds > 0) {
            return "--rate-limit must be a positive rate such as 10/s or 600/min"
        }
        if apiKeys.isEmpty && !insecureNoAuth && !AccessControl.isLoopbackBind(host) {
            return "refusing to listen on \(host) without API keys: anyone who can reach it could use it. Give --api-key-file FILE or $CLIP_API_KEYS (or --insecure-no-auth to accept everyone)"
        }
        return nil
    }
}

/// Where the access log goes: one JSON object per line.
public struct AccessLog: Sendable {
    /// Writes one line (without its newline).
    public let write: @Sendable (String) -> Void

    /// An access log that sends each line to `write`.
    ///
    /// ```swift
    /// let log = AccessLog { line in print(line) }   // stdout instead of stderr
    /// ```
    public init(_ write: @escaping @Sendable (String) -> Void) { self.write = write }

    /// Standard error, one `write(2)` per line (atomic for lines under PIPE_BUF).
    public static let standardError = AccessLog { line in
        let bytes = Array((line + "\n").utf8)
        bytes.withUnsafeBytes { buf in
            var offset = 0
            while offset < buf.count {
                let n = Glibc.write(2, buf.baseAddress! + offset, buf.count - offset)
                if n <= 0 { break }
                offset += n
            }
        }
    }

    /// Drops every line.
    public static let disabled = AccessLog { _ in }
}

/// The HTTP server: a CLIP model, its inference queue and the Hummingbird application.
///
/// ```swift
/// let server = try CLIPServer(clip: CLIP(directory: "Weights/demo"), configuration: .init())
/// try await server.run()   // until SIGTERM / SIGINT, then finishes in-flight requests
/// ```
public final class CLIPServer: Sendable {
    /// The settings the server was started with.
    public let configuration: ServerConfiguration
    /// The model behind every route.
    public let clip: CLIP
    /// The search index behind `POST /v1/search`, if any.
    public let index: ImageIndex?
    let engine: InferenceEngine
    let metrics = ServerMetrics()
    /// `--rate-limit`, when set.
    let rateLimiter: RateLimiter?
    let accessLog: AccessLog
    let logger: Logger
    let createdAt: Int

    /// - Throws: ``ServerConfigurationError`` for out-of-range settings.
    public init(clip: CLIP, configuration: ServerConfiguration, index: ImageIndex? = nil,
                accessLog: AccessLog = .standardError, logger: Logger? = nil) throws {
        if let message = configuration.validationError() { throw ServerConfigurationError(message: message) }
        try index?.checkModel(clip)
        self.configuration = configuration
        self.clip = clip
        self.index = index
        self.accessLog = accessLog
        self.engine = InferenceEngine(clip: clip, configuration: configuration)
        self.rateLimiter = configuration.rateLimit.map(RateLimiter.init)
        self.createdAt = Int(Date().timeIntervalSince1970)
        if let logger {
            self.logger = logger
        } else {
            var l = Logger(label: "clip-serve")
            l.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
            self.logger = l
        }
    }

    /// The Hummingbird application serving this server's routes (for `run`, or HummingbirdTesting's `test`).
    public func makeApplication(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in })
        -> Application<RouterResponder<CLIPRequestContext>>
    {
        Application(
            router: makeRouter(),
            server: .http1(configuration: .init(
                idleTimeout: .seconds(Int64(configuration.idleTimeoutSeconds)),
                httpDecoderConfiguration: .init(maxHeaderFieldSize: 16 << 10, maxHeaderListSize: 32 << 10, maxHeaderFieldCount: 100))),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "clip",
                                 availableConnectionsDelegate: .maximum(configuration.maxConnections, logger: logger)),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    /// Serves until SIGTERM or SIGINT, then stops accepting connections, finishes in-flight requests and stops
    /// the inference thread.
    public func run(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let app = makeApplication(onServerRunning: onServerRunning)
        defer { shutdown() }
        var group = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        group.maximumGracefulShutdownDuration = .seconds(configuration.shutdownTimeoutSeconds)
        group.maximumCancellationDuration = .seconds(5)
        try await ServiceGroup(configuration: group).run()
    }

    /// Stops the inference and decode threads once queued work is done (pending jobs still complete).
    public func shutdown() { engine.shutdown() }

    /// Current number of inputs waiting for the model.
    public var queuedInputs: Int { engine.queue.pendingItems }
}

/// A setting out of range or a key file that cannot be used; the message names the option.
public struct ServerConfigurationError: Error, CustomStringConvertible {
    /// What is wrong, naming the option (one line).
    public let message: String
    /// The message.
    public var description: String { message }
}
