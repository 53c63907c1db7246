// `clip serve`: the OpenAI-compatible HTTP API (see Sources/CLIPServer).

import ArgumentParser
import CLIPSearch
import CLIPServer
import CLIPZeroShot
import Foundation

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve an OpenAI-compatible HTTP API (embeddings, classification).",
        discussion: """
        Routes: POST /v1/embeddings (OpenAI's embeddings API; input: text, [text], or [{"text": …} | {"image": "data:image/…;base64,…"}]),
        POST /v1/classify ({"image", "labels", "template"?, "top_k"?}), POST /v1/search with --index
        ({"query"} or {"image"}, "top_k"?, "filter"? {"prefix"|"glob"}), GET /v1/models, GET /health.
        One JSON access-log line per request goes to stderr. SIGTERM / SIGINT finish in-flight requests, then exit.
        Example: clip serve --weights /models/clip-vit-base-patch32 --port 8080
        """)

    @OptionGroup var weights: WeightsOption
    @Option(name: .long, help: "Address to bind (0.0.0.0 exposes the server to the network).") var host = "127.0.0.1"
    @Option(name: .long, help: "Port (0: any free port; the chosen one is logged).") var port = 8080
    @Option(name: .customLong("model-name"), help: "Model id reported by /v1/models (default: the weights folder's name).")
    var modelName: String?
    @Option(name: .customLong("max-body-mb"), help: "Largest request body in MiB (larger → 413).") var maxBodyMB: Double = 20
    @Option(name: .customLong("max-image-pixels"), help: "Largest decoded image in pixels (larger → 413).")
    var maxImagePixels = 16_777_216
    @Option(name: .customLong("max-request-pixels"),
            help: "Largest total of decoded pixels over one request's images (checked from their headers before decoding).")
    var maxRequestPixels = 67_108_864
    @Option(name: .customLong("max-images"), help: "Most images in one /v1/embeddings request.") var maxImages = 64
    @Flag(name: .customLong("no-batching"), help: "Run each request's forward pass alone.") var noBatching = false
    @Option(name: .customLong("batch-wait-ms"),
            help: "How long a request waits for others to share its forward pass (0: batch only what piled up meanwhile).")
    var batchWaitMs: Double = 5
    @Option(name: .customLong("max-batch"), help: "Most inputs per batched forward pass.") var maxBatch = 32
    @Option(name: .customLong("max-queue"), help: "Most inputs waiting for the model; beyond that requests get 503.")
    var maxQueue = 256
    @Flag(name: .customLong("allow-remote-images"),
          help: "Fetch http(s) image URLs server-side (off by default: only inline data URLs / base64 are accepted).")
    var allowRemoteImages = false
    @Option(name: .customLong("remote-max-mb"), help: "Largest remote image in MiB.") var remoteMaxMB: Double = 10
    @Option(name: .customLong("remote-timeout"), help: "Time limit in seconds for fetching one remote image.")
    var remoteTimeout: Double = 10
    @Flag(name: .customLong("no-access-log"), help: "Do not write the JSON access log to stderr.") var noAccessLog = false
    @Flag(name: .customLong("mmap-weights"),
          help: "Memory-map the weight files instead of reading them into memory (faster start; the files must then not change while the server runs).")
    var mmapWeights = false
    @Flag(name: .customLong("allow-private-hosts"),
          help: "Let --allow-remote-images fetch from loopback, private and link-local addresses (refused by default).")
    var allowPrivateHosts = false
    @Option(name: .customLong("cors-origin"),
            help: "A browser origin allowed to call the API (repeatable; * for any). Default: no CORS.")
    var corsOrigins: [String] = []
    @Option(name: .customLong("shutdown-timeout"),
            help: "Seconds in-flight requests get after SIGTERM / SIGINT before the rest are cut off.")
    var shutdownTimeout = 30
    @Option(name: .customLong("body-timeout"), help: "Seconds a request body may take to arrive (then 408).")
    var bodyTimeout = 60
    @Option(name: .customLong("idle-timeout"), help: "Seconds an idle connection stays open.") var idleTimeout = 30
    @Option(name: .customLong("max-connections"), help: "Most open connections (more wait to be accepted).")
    var maxConnections = 512
    @Option(name: .customLong("api-key-file"),
            help: "File of API keys, one per line, optionally name:key (also $CLIP_API_KEYS, comma-separated). With keys, every route but /health needs Authorization: Bearer KEY.")
    var apiKeyFile: String?
    @Flag(name: .customLong("insecure-no-auth"), help: "Allow a non-loopback --host without API keys.")
    var insecureNoAuth = false
    @Option(name: .customLong("rate-limit"),
            help: "Requests each API key (each client address, without keys) may make, e.g. 10/s, 600/min, 5000/h; more get 429 with Retry-After. /health is not counted.")
    var rateLimit: String?
    @Option(name: .long, help: "Search index for POST /v1/search (built with `clip search index` and the same weights).")
    var index: String?

    func run() async throws {
        let server: CLIPServer
        do {
            // Ranges checked before the values are converted to integers (a huge float would not fit).
            guard maxBodyMB.isFinite, maxBodyMB > 0, maxBodyMB <= 1_048_576, remoteMaxMB.isFinite, remoteMaxMB > 0,
                  remoteMaxMB <= 1_048_576 else {
                throw ValidationError("--max-body-mb and --remote-max-mb must be positive numbers of MiB, at most 1048576")
            }
            guard remoteTimeout.isFinite, remoteTimeout > 0, remoteTimeout <= 3600 else {
                throw ValidationError("--remote-timeout must be a number of seconds in (0, 3600]")
            }
            guard batchWaitMs.isFinite, (0...1000).contains(batchWaitMs) else {
                throw ValidationError("--batch-wait-ms must be in 0...1000")
            }
            let dir = try weights.resolve()
            var config = ServerConfiguration()
            config.host = host
            config.port = port
            config.modelName = modelName ?? URL(fileURLWithPath: dir).standardizedFileURL.lastPathComponent
            config.maxBodyBytes = Int(maxBodyMB * 1024 * 1024)
            config.maxImagePixels = maxImagePixels
            config.maxRequestPixels = maxRequestPixels
            config.idleTimeoutSeconds = idleTimeout
            config.bodyTimeoutSeconds = bodyTimeout
            config.shutdownTimeoutSeconds = shutdownTimeout
            config.corsOrigins = corsOrigins
            config.allowPrivateHosts = allowPrivateHosts
            config.maxConnections = maxConnections
            config.maxImagesPerRequest = maxImages
            config.batching = !noBatching
            config.batchWait = .microseconds(Int64((batchWaitMs * 1000).rounded()))
            config.maxBatch = maxBatch
            config.maxQueue = maxQueue
            config.allowRemoteImages = allowRemoteImages
            config.remoteMaxBytes = Int(remoteMaxMB * 1024 * 1024)
            config.remoteTimeout = .milliseconds(Int64((remoteTimeout * 1000).rounded()))
            if let apiKeyFile {
                guard let text = String(data: try Data(contentsOf: URL(fileURLWithPath: apiKeyFile)), encoding: .utf8) else {
                    throw ValidationError("\(apiKeyFile): not UTF-8 text")
                }
                config.apiKeys += try APIKey.parse(text, source: apiKeyFile)
            }
            if let env = ProcessInfo.processInfo.environment["CLIP_API_KEYS"], !env.isEmpty {
                config.apiKeys += try APIKey.parse(env, separator: ",", source: "$CLIP_API_KEYS")
            }
            if let file = apiKeyFile, config.apiKeys.isEmpty { throw ValidationError("\(file) holds no API key") }
            config.insecureNoAuth = insecureNoAuth
            config.rateLimit = try rateLimit.map { try RateLimit(parsing: $0) }
            if let message = config.validationError() { throw ValidationError(message) }
            // Weights are read into memory: a deploy that truncates or overwrites the files cannot reach them.
            let clip = try CLIP(directory: dir, options: weights.loadOptions(copyWeights: !mmapWeights))
            let searchIndex = try index.map { try ImageIndex(path: $0, compute: clip.model.compute) }
            server = try CLIPServer(clip: clip, configuration: config, index: searchIndex,
                                    accessLog: noAccessLog ? .disabled : .standardError)
        }
        let config = server.configuration
        let host = config.host
        do {
            try await server.run { port in
                let shownHost = host.contains(":") ? "[\(host)]" : host
                let wait = config.batchWait.components
                let event: [String: Any] = [
                    "event": "listening", "url": "http://\(shownHost):\(port)", "model": config.modelName,
                    "batching": config.batching, "max_batch": config.maxBatch, "max_queue": config.maxQueue,
                    "batch_wait_ms": Double(wait.seconds) * 1e3 + Double(wait.attoseconds) / 1e15,
                    "remote_images": config.allowRemoteImages, "api_keys": config.apiKeys.count,
                ]
                if let data = try? JSONSerialization.data(withJSONObject: event, options: [.sortedKeys, .withoutEscapingSlashes]) {
                    FileHandle.standardError.write(data + Data("\n".utf8))
                }
            }
        } catch where Serve.isAddressInUse(error) {
            throw ValidationError("port \(config.port) on \(host) is already in use; choose another with --port (0 picks a free one)")
        }
        FileHandle.standardError.write(Data("{\"event\":\"stopped\"}\n".utf8))
    }

    /// Whether a bind failed because the address is taken (NIO reports errno 98, EADDRINUSE).
    static func isAddressInUse(_ error: Error) -> Bool {
        let text = String(describing: error)
        return text.contains("Address already in use") || text.contains("errno: \(EADDRINUSE)")
    }
}
