// API keys, loopback Host headers without keys, JSON-only POSTs, and refusing to expose the server without keys.

@testable import CLIPServer
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("Access control")
struct AccessTests {
    static let key = "sk-test-0123456789abcdef"

    func embed(_ client: any TestClientProtocol, headers: HTTPFields) async throws -> TestResponse {
        var h = headers
        if h[.contentType] == nil { h[.contentType] = "application/json" }
        return try await client.execute(uri: "/v1/embeddings", method: .post, headers: h, body: jsonBody(["input": "a cat"]))
    }

    @Test func apiKeys() async throws {
        let log = LogCapture()
        try await withServer(log: log, configure: { $0.apiKeys = [APIKey(name: "alice", key: Self.key)] }) { client, _ in
            for auth in [nil, "Bearer wrong-key-0123456789", "Bearer " + Self.key.dropLast() + "X", Self.key, "bearer " + Self.key] {
                var h: HTTPFields = [:]
                if let auth { h[.authorization] = auth }
                let r = try await embed(client, headers: h)
                expectError(r, .unauthorized, code: "invalid_api_key")
                #expect(r.headers[.wwwAuthenticate] == "Bearer")
            }
            let ok = try await embed(client, headers: [.authorization: "Bearer " + Self.key])
            #expect(ok.status == .ok)
            let models = try await client.execute(uri: "/v1/models", method: .get, headers: [:])
            expectError(models, .unauthorized, code: "invalid_api_key")
            let health = try await client.execute(uri: "/health", method: .get, headers: [:])
            #expect(health.status == .ok)
        }
        #expect(log.lines.contains { $0.contains("\"key\":\"alice\"") })
        #expect(!log.lines.contains { $0.contains(Self.key) }, "the key itself is never logged")
    }

    @Test("without keys on loopback, only loopback Host headers are served (DNS rebinding)")
    func loopbackHosts() async throws {
        try await withServer { client, _ in
            for host in ["evil.example.com", "evil.example.com:8080", "127.0.0.1.evil.com", "10.0.0.1"] {
                let r = try await embed(client, headers: [.init("Host")!: host])
                expectError(r, .forbidden, code: "invalid_host")
            }
            for host in ["localhost", "localhost:8080", "127.0.0.1:8080", "[::1]:8080", "127.0.0.2"] {
                let r = try await embed(client, headers: [.init("Host")!: host])
                #expect(r.status == .ok, "\(host): \(String(buffer: r.body))")
            }
        }
    }

    @Test("POST bodies must be JSON: 415 otherwise")
    func contentType() async throws {
        try await withServer { client, _ in
            for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
                let r = try await embed(client, headers: [.contentType: type])
                expectError(r, .unsupportedMediaType, code: "unsupported_content_type")
            }
            let missing = try await client.execute(uri: "/v1/embeddings", method: .post, headers: [:], body: jsonBody(["input": "a"]))
            expectError(missing, .unsupportedMediaType, code: "unsupported_content_type")
            let charset = try await embed(client, headers: [.contentType: "application/json; charset=utf-8"])
            #expect(charset.status == .ok)
        }
    }

    @Test("a non-loopback address needs keys or --insecure-no-auth")
    func exposure() throws {
        var c = ServerConfiguration()
        c.host = "0.0.0.0"
        #expect(c.validationError()?.contains("without API keys") == true)
        c.insecureNoAuth = true
        #expect(c.validationError() == nil)
        c.insecureNoAuth = false
        c.apiKeys = [APIKey(name: "k", key: Self.key)]
        #expect(c.validationError() == nil)
        c.apiKeys = []
        c.host = "127.0.0.1"
        #expect(c.validationError() == nil)
    }

    @Test func keyFileParsing() throws {
        let keys = try APIKey.parse("# team keys\nalice:\(Self.key)\n\n  \(Self.key)x  \n", source: "keys.txt")
        #expect(keys == [APIKey(name: "alice", key: Self.key), APIKey(name: "key2", key: Self.key + "x")])
        #expect(throws: ServerConfigurationError.self) { try APIKey.parse("bob:short", source: "keys.txt") }
        #expect(try APIKey.parse("a:\(Self.key),b:\(Self.key)y", separator: ",", source: "env").map(\.name) == ["a", "b"])
    }
}

@Suite("Cost bounds")
struct CostBoundTests {
    @Test("one request's images share a decoded-pixel budget, checked from their headers")
    func requestPixelBudget() async throws {
        let png = image("odd_225x301.png")   // 67,725 pixels
        try await withServer(configure: { $0.maxImagePixels = 100_000; $0.maxRequestPixels = 100_000 }) { client, _ in
            let one = try await post(client, "/v1/embeddings", ["input": [["image": dataURL(png)]]])
            #expect(one.status == .ok)
            let three = try await post(client, "/v1/embeddings", ["input": [["image": dataURL(png)], ["image": dataURL(png)], ["image": dataURL(png)]]])
            expectError(three, .contentTooLarge, code: "image_too_large")
        }
    }

    @Test func budgetArithmetic() throws {
        let b = PixelBudget(limit: 10)
        try b.take(6)
        try b.take(4)
        #expect(throws: APIError.self) { try b.take(1) }
    }
}

@Suite("Request ids and CORS")
struct RequestIDAndCORSTests {
    @Test func requestIDs() async throws {
        let log = LogCapture()
        try await withServer(log: log) { client, _ in
            let given = try await client.execute(uri: "/health", method: .get, headers: [.init("X-Request-ID")!: "req-42.a_b"])
            #expect(given.headers[.init("X-Request-ID")!] == "req-42.a_b")
            let hostile = try await client.execute(uri: "/health", method: .get, headers: [.init("X-Request-ID")!: "bad id\u{7}"])
            let generated = try #require(hostile.headers[.init("X-Request-ID")!])
            #expect(generated != "bad id\u{7}" && generated.count == 36)
            let error = try await client.execute(uri: "/v1/embeddings", method: .post,
                                                 headers: [.contentType: "application/json", .init("X-Request-ID")!: "err-1"],
                                                 body: jsonBody(["input": []]))
            #expect((json(error)["error"] as? [String: Any])?["request_id"] as? String == "err-1")
        }
        #expect(log.lines.contains { $0.contains("\"request_id\":\"req-42.a_b\"") })
        #expect(log.lines.contains { $0.contains("\"request_id\":\"err-1\"") })
    }

    @Test func cors() async throws {
        let originName = try #require(HTTPFields.Element.Name("Origin"))
        try await withServer(configure: { $0.corsOrigins = ["https://app.example"] }) { client, _ in
            let preflight = try await client.execute(uri: "/v1/embeddings", method: .options, headers: [originName: "https://app.example"])
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.init("Access-Control-Allow-Origin")!] == "https://app.example")
            #expect(preflight.headers[.init("Access-Control-Allow-Methods")!]?.contains("POST") == true)
            #expect(preflight.headers[.init("Access-Control-Allow-Headers")!]?.contains("Authorization") == true)
            let post = try await client.execute(uri: "/v1/embeddings", method: .post,
                                                headers: [.contentType: "application/json", originName: "https://app.example"],
                                                body: jsonBody(["input": "a"]))
            #expect(post.status == .ok && post.headers[.init("Access-Control-Allow-Origin")!] == "https://app.example")
            let other = try await client.execute(uri: "/v1/embeddings", method: .post,
                                                 headers: [.contentType: "application/json", originName: "https://evil.example"],
                                                 body: jsonBody(["input": "a"]))
            #expect(other.headers[.init("Access-Control-Allow-Origin")!] == nil)
        }
        try await withServer { client, _ in
            let r = try await client.execute(uri: "/v1/embeddings", method: .options, headers: [originName: "https://app.example"])
            #expect(r.status == .methodNotAllowed && r.headers[.init("Access-Control-Allow-Origin")!] == nil)
        }
    }
}

@Suite("Rate limit (--rate-limit)")
struct RateLimitTests {
    @Test("N/s, N/min, N/h and a bare N parse; anything else is a configuration error naming the text",
          arguments: [("10/s", 10.0, 1.0), ("600/min", 600, 60), ("5000/h", 5000, 3600), ("2.5", 2.5, 1), (" 3 / m ", 3, 60)])
    func parses(text: String, requests: Double, seconds: Double) throws {
        #expect(try RateLimit(parsing: text) == RateLimit(requests: requests, seconds: seconds))
    }

    @Test(arguments: ["", "0/s", "-1/s", "ten/s", "5/fortnight", "inf/s", "nan", "1e400/s"])
    func refuses(text: String) {
        #expect(throws: ServerConfigurationError.self) { try RateLimit(parsing: text) }
    }

    @Test("a bucket holds one period's requests, refills at the rate, and tells how long to wait")
    func bucket() throws {
        let limiter = RateLimiter(RateLimit(requests: 2, seconds: 1))
        let t0 = ContinuousClock.now
        try limiter.admit("a", now: t0)
        try limiter.admit("a", now: t0)
        #expect(throws: APIError.self) { try limiter.admit("a", now: t0) }
        try limiter.admit("b", now: t0)   // another client has its own bucket
        // Half a second refills one request at 2/s, not two.
        try limiter.admit("a", now: t0 + .milliseconds(500))
        #expect(throws: APIError.self) { try limiter.admit("a", now: t0 + .milliseconds(500)) }
        do {
            try limiter.admit("a", now: t0 + .milliseconds(600))
            Issue.record("admitted with 0.2 of a token")
        } catch let e as APIError {
            #expect(e.status == .tooManyRequests && e.code == "rate_limit_exceeded")
            #expect(e.headers[.retryAfter] == "1")
            #expect(e.headers[.init("X-RateLimit-Reset-Requests")!] == "0.400s")
        }
    }

    @Test("a vanishingly small rate gives a bounded Retry-After, not an overflow")
    func tinyRate() throws {
        let limiter = RateLimiter(try RateLimit(parsing: "1e-300/h"))
        let t0 = ContinuousClock.now
        try limiter.admit("a", now: t0)
        do {
            try limiter.admit("a", now: t0)
            Issue.record("a second request was admitted")
        } catch let e as APIError {
            #expect(e.headers[.retryAfter] == "86400")
        }
        // And a huge one prints without an integer overflow.
        #expect(try RateLimit(parsing: "1e300/s").description == "1e+300/s")
        #expect(try RateLimit(parsing: "600/min").description == "600/min")
    }

    @Test("the table of clients stays bounded under a flood of addresses")
    func boundedTable() throws {
        let limiter = RateLimiter(RateLimit(requests: 1, seconds: 1))
        let t0 = ContinuousClock.now
        // Spread out (old buckets have refilled and are forgotten first) and all at once (nothing has refilled).
        for i in 0..<(RateLimiter.maxClients + 500) { try limiter.admit("10.0.\(i / 256).\(i % 256)", now: t0 + .seconds(2 * i)) }
        #expect(limiter.clients <= RateLimiter.maxClients)
        let t1 = t0 + .seconds(10 * RateLimiter.maxClients)
        for i in 0..<(3 * RateLimiter.maxClients) { try limiter.admit("flood-\(i)", now: t1) }
        #expect(limiter.clients <= RateLimiter.maxClients)
    }

    @Test("per key over HTTP: 429 in OpenAI's shape with Retry-After; other keys and /health unaffected")
    func overHTTP() async throws {
        let other = "sk-other-0123456789abcdef"
        try await withServer(configure: {
            $0.apiKeys = [APIKey(name: "a", key: AccessTests.key), APIKey(name: "b", key: other)]
            $0.rateLimit = RateLimit(requests: 2, seconds: 3600)
        }) { client, _ in
            func models(_ key: String) async throws -> TestResponse {
                try await client.execute(uri: "/v1/models", method: .get, headers: [.authorization: "Bearer " + key])
            }
            #expect(try await models(AccessTests.key).status == .ok)
            #expect(try await models(AccessTests.key).status == .ok)
            let refused = try await models(AccessTests.key)
            // OpenAI's shape for a request-rate limit: type "requests".
            expectError(refused, .tooManyRequests, code: "rate_limit_exceeded", type: "requests")
            #expect(Int(refused.headers[.retryAfter] ?? "") ?? 0 >= 1700, "\(refused.headers)")
            #expect(try await models(other).status == .ok)
            for _ in 0..<5 { #expect(try await client.execute(uri: "/health", method: .get).status == .ok) }
        }
    }
}

@Suite("Remote image address policy")
struct AddressPolicyTests {
    @Test("loopback, private, CGNAT, link-local, multicast, unspecified and IPv4-in-IPv6 forms are refused")
    func literals() throws {
        let refused = ["127.0.0.1", "127.1.2.3", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1",
                       "169.254.169.254", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fc00::1", "fd12::1",
                       "fe80::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1", "64:ff9b::a9fe:a9fe",
                       "localhost", "2130706433", "0x7f000001", "017700000001"]
        for host in refused {
            #expect(throws: RemoteFetchError.self, "\(host)") { try AddressPolicy.check(host: host, allowPrivate: false) }
        }
        for host in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "172.32.0.1", "100.128.0.1"] {
            #expect(throws: Never.self, "\(host)") { try AddressPolicy.check(host: host, allowPrivate: false) }
        }
        try AddressPolicy.check(host: "127.0.0.1", allowPrivate: true)
    }
}

@Suite("GET /metrics")
struct MetricsTests {
    @Test func prometheusText() async throws {
        try await withServer { client, _ in
            _ = try await post(client, "/v1/embeddings", ["input": ["a", "b"]])
            _ = try await post(client, "/v1/embeddings", ["input": []])
            _ = try await client.execute(uri: "/nope", method: .get)
            let r = try await client.execute(uri: "/metrics", method: .get)
            #expect(r.status == .ok)
            #expect(r.headers[.contentType]?.hasPrefix("text/plain") == true)
            let text = String(buffer: r.body)
            #expect(text.contains("clip_http_requests_total{route=\"/v1/embeddings\",method=\"POST\",status=\"200\"} 1"), "\(text)")
            #expect(text.contains("clip_http_requests_total{route=\"/v1/embeddings\",method=\"POST\",status=\"400\"} 1"))
            #expect(text.contains("clip_http_requests_total{route=\"other\",method=\"GET\",status=\"404\"} 1"))
            #expect(text.contains("clip_http_request_duration_seconds_bucket{route=\"/v1/embeddings\""))
            #expect(text.contains("clip_inference_inputs 2"))
            #expect(text.contains("clip_queue_pending_inputs 0"))
        }
        try await withServer(configure: { $0.apiKeys = [APIKey(name: "k", key: AccessTests.key)] }) { client, _ in
            expectError(try await client.execute(uri: "/metrics", method: .get), .unauthorized, code: "invalid_api_key")
        }
    }
}

@Suite("GET /openapi.json")
struct OpenAPITests {
    @Test("the document parses and lists every route with its methods")
    func everyRoute() async throws {
        try await withServer { client, _ in
            let r = try await client.execute(uri: "/openapi.json", method: .get)
            #expect(r.status == .ok)
            let doc = json(r)
            #expect(doc["openapi"] as? String == "3.1.0")
            let paths = try #require(doc["paths"] as? [String: [String: Any]])
            // OpenAPI writes captures as {id}, as the route's label does.
            for endpoint in Endpoint.all {
                let documented = try #require(paths[endpoint.label], "\(endpoint.label) is not documented")
                for m in endpoint.methods where m != .head {
                    #expect(documented[m.rawValue.lowercased()] != nil, "\(m) \(endpoint.label) is not documented")
                }
            }
            #expect(Set(paths.keys) == Set(Endpoint.all.map(\.label)), "documented routes that do not exist")
        }
    }
}
