// Who may call the API: bearer API keys (constant-time), loopback Host headers without keys, JSON-only POSTs.

import Foundation
import Hummingbird

/// One API key and the name the access log shows for it (the key itself is never logged).
public struct APIKey: Sendable, Equatable {
    /// Shown in the access log for requests that present this key.
    public let name: String
    /// The secret the client sends as `Authorization: Bearer KEY` (never logged).
    public let key: String

    /// A key and its log name.
    public init(name: String, key: String) {
        self.name = name
        self.key = key
    }

    /// Parses a key list: one key per line (or per comma in `$CLIP_API_KEYS`), optionally `name:key`; blank lines
    /// and lines starting with `#` are skipped. Unnamed keys are called `key1`, `key2`, ….
    ///
    /// - Throws: ``ServerConfigurationError`` for a key shorter than 16 characters or with whitespace inside.
    public static func parse(_ text: String, separator: Character = "\n", source: String) throws -> [APIKey] {
        var keys: [APIKey] = []
        for raw in text.split(separator: separator) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(separator: ":", maxSplits: 1).map(String.init)
            let (name, key) = parts.count == 2 ? (parts[0], parts[1]) : ("key\(keys.count + 1)", parts[0])
            guard key.count >= 16, !key.contains(where: \.isWhitespace) else {
                throw ServerConfigurationError(message: "\(source): API key \"\(name)\" must be at least 16 characters without spaces")
            }
            keys.append(APIKey(name: name, key: key))
        }
        return keys
    }
}

enum AccessControl {
    /// The name of the key that `Authorization: Bearer …` presents, comparing against every key in constant time
    /// (no early exit on the first differing byte or key); nil when it matches none.
    static func keyName(_ authorization: String?, keys: [APIKey]) -> String? {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return nil }
        let given = Array(authorization.dropFirst(7).utf8)
        var found: String?
        for k in keys {
            let want = Array(k.key.utf8)
            var diff = UInt8(truncatingIfNeeded: given.count ^ want.count)
            for i in 0..<want.count { diff |= want[i] ^ (i < given.count ? given[i] : 0) }
            if diff == 0 && found == nil { found = k.name }
        }
        return found
    }

    /// Whether a `Host` header names this machine's loopback (DNS rebinding sends a foreign name to 127.0.0.1).
    static func isLoopbackHost(_ host: String?) -> Bool {
        guard let host, !host.isEmpty else { return true }   // no Host: not a browser
        var name = host.lowercased()
        if name.hasPrefix("[") {
            name = String(name.dropFirst().prefix { $0 != "]" })
        } else if let colon = name.lastIndex(of: ":") {
            name = String(name[..<colon])
        }
        return name == "localhost" || name == "::1" || name.hasPrefix("127.") && name.split(separator: ".").count == 4
            && name.split(separator: ".").allSatisfy { UInt8($0) != nil }
    }

    /// Whether `address` (a `--host` value) only accepts connections from this machine.
    static func isLoopbackBind(_ address: String) -> Bool {
        address == "localhost" || address == "::1" || address.hasPrefix("127.")
    }

    /// The checks every request passes before its route: keys (all routes but /health), Host (loopback without
    /// keys), and a JSON content type on POST.
    static func check(_ request: Request, path: String, endpoint: Endpoint?, configuration c: ServerConfiguration) throws -> String? {
        var keyName: String?
        // CORS preflights carry no credentials (browsers never send them there).
        if !c.apiKeys.isEmpty && path != "/health" && !CORS.isPreflight(request, configuration: c) {
            guard let name = AccessControl.keyName(request.headers[.authorization], keys: c.apiKeys) else {
                throw APIError(status: .unauthorized,
                               message: "Incorrect API key provided. Send it as the header Authorization: Bearer YOUR_KEY.",
                               code: "invalid_api_key", headers: [.wwwAuthenticate: "Bearer"])
            }
            keyName = name
        }
        // HTTP/1 puts Host in the authority; a Host field that arrived as a header is checked too.
        let host = request.headers.first { $0.name.canonicalName == "host" }?.value ?? request.head.authority
        if c.apiKeys.isEmpty && isLoopbackBind(c.host) && !isLoopbackHost(host) {
            throw APIError(status: .forbidden,
                           message: "this server only answers requests addressed to localhost (Host: \(host ?? ""))",
                           code: "invalid_host")
        }
        // Only for the POST routes: an unknown path or method still gets its 404 or 405.
        if request.method == .post, endpoint?.methods.contains(.post) == true {
            let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
            guard type == "application/json" else {
                throw APIError(status: .unsupportedMediaType,
                               message: "POST bodies must be JSON: send Content-Type: application/json",
                               code: "unsupported_content_type")
            }
        }
        return keyName
    }
}

/// `X-Request-ID`: a client's own id when it is short and plain, else a new one; echoed, logged, in error bodies.
enum RequestID {
    static func accept(_ given: String?) -> String {
        if let given, (1...128).contains(given.utf8.count),
           given.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x2D || $0 == 0x5F || $0 == 0x2E }) {
            return given
        }
        return UUID().uuidString.lowercased()
    }
}

/// Opt-in CORS (`--cors-origin`): browser pages on the listed origins may call the API.
enum CORS {
    /// The value for `Access-Control-Allow-Origin`, when the request's `Origin` is allowed.
    static func allowedOrigin(_ request: Request, configuration c: ServerConfiguration) -> String? {
        guard !c.corsOrigins.isEmpty, let origin = request.headers.first(where: { $0.name.canonicalName == "origin" })?.value
        else { return nil }
        if c.corsOrigins.contains("*") { return "*" }
        return c.corsOrigins.contains(origin) ? origin : nil
    }

    /// Whether `request` is a CORS preflight this server answers (CORS on, method OPTIONS).
    static func isPreflight(_ request: Request, configuration c: ServerConfiguration) -> Bool {
        request.method == .options && !c.corsOrigins.isEmpty
    }

    /// 204 for an `OPTIONS` preflight: the route's methods and the headers a client may send.
    static func preflight(allowed: [HTTPRequest.Method]) -> Reply {
        Reply(status: .noContent, body: [], headers: [
            .init("Access-Control-Allow-Methods")!: (allowed + [.options]).map(\.rawValue).joined(separator: ", "),
            .init("Access-Control-Allow-Headers")!: "Authorization, Content-Type, X-Request-ID",
            .init("Access-Control-Max-Age")!: "600",
        ])
    }
}
