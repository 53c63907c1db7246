// `--rate-limit N/s`: a token bucket per API key (per client address without keys); over the rate → 429 with
// `Retry-After`, as OpenAI answers.

import Foundation
import Hummingbird
import Synchronization

/// A request rate: `requests` per `seconds`.
///
/// ```swift
/// var config = ServerConfiguration()
/// config.rateLimit = try RateLimit(parsing: "10/s")
/// ```
public struct RateLimit: Sendable, Equatable, CustomStringConvertible {
    /// Requests allowed per period.
    public let requests: Double
    /// The period in seconds (1, 60 or 3600 from the parser).
    public let seconds: Double

    /// Tokens added per second.
    var perSecond: Double { requests / seconds }

    /// The rate as `--rate-limit` takes it: `10/s`, `600/min`, `5000/h`.
    public var description: String {
        let n = requests.rounded() == requests && requests < 1e15 ? String(Int(requests)) : String(requests)
        switch seconds {
        case 1: return "\(n)/s"
        case 60: return "\(n)/min"
        case 3600: return "\(n)/h"
        default: return "\(n) per \(seconds) s"
        }
    }
}

extension RateLimit {
    /// Parses `N/s`, `N/min`, `N/h` or a bare `N` (per second); N may have a fraction.
    ///
    /// - Throws: ``ServerConfigurationError`` naming the text when it is not such a rate or not positive.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        let units: [String: Double] = ["s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600]
        guard let first = parts.first, let n = Double(first), n.isFinite, n > 0,
              let per = parts.count == 2 ? units[parts[1].lowercased()] : 1 else {
            throw ServerConfigurationError(message: "--rate-limit \"\(text)\": expected a positive rate such as 10/s, 600/min or 5000/h")
        }
        self.init(requests: n, seconds: per)
    }
}

/// Token buckets, one per client: each holds at most one period's requests (at least one) and refills at the rate.
final class RateLimiter: Sendable {
    let limit: RateLimit
    private let capacity: Double
    private let buckets = Mutex<[String: Bucket]>([:])
    /// Most clients remembered; beyond it, buckets that have refilled completely are forgotten first (they would
    /// admit the next request anyway), so a flood of addresses cannot grow the table without bound.
    static let maxClients = 10_000

    struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    init(_ limit: RateLimit) {
        self.limit = limit
        self.capacity = max(1, limit.requests)
    }

    /// Takes one request from `client`'s bucket.
    ///
    /// - Throws: ``APIError`` 429 (`rate_limit_exceeded`) with `Retry-After` when the bucket is empty.
    func admit(_ client: String, now: ContinuousClock.Instant = .now) throws {
        let rate = limit.perSecond, capacity = capacity
        let wait: Double? = buckets.withLock { table in
            if table.count >= RateLimiter.maxClients && table[client] == nil {
                table = table.filter { Self.seconds($0.value.updated.duration(to: now)) * rate + $0.value.tokens < capacity }
                // Still full (a flood of new addresses within one period): forget an arbitrary half, so the cost
                // stays amortised O(1) per request. A forgotten client starts again with a full bucket.
                if table.count >= RateLimiter.maxClients {
                    table = Dictionary(uniqueKeysWithValues: table.prefix(RateLimiter.maxClients / 2).map { ($0.key, $0.value) })
                }
            }
            var bucket = table[client] ?? Bucket(tokens: capacity, updated: now)
            bucket.tokens = min(capacity, bucket.tokens + Self.seconds(bucket.updated.duration(to: now)) * rate)
            bucket.updated = now
            defer { table[client] = bucket }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return (1 - bucket.tokens) / rate
        }
        guard let wait else { return }
        // At most a day: a rate as small as 1e-300/h must not overflow the header's integer.
        let retry = max(1, Int(min(wait, 86_400).rounded(.up)))
        throw APIError(
            status: .tooManyRequests,
            message: "Rate limit reached: \(limit) per API key or client (--rate-limit). Try again in \(String(format: "%.2f", min(wait, 86_400))) s.",
            type: "requests", code: "rate_limit_exceeded",
            headers: [.retryAfter: String(retry),
                      .init("X-RateLimit-Limit-Requests")!: limit.description,
                      .init("X-RateLimit-Reset-Requests")!: String(format: "%.3fs", min(wait, 86_400))])
    }

    /// Clients currently remembered.
    var clients: Int { buckets.withLock { $0.count } }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}
