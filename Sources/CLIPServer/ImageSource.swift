// Where an image in a request comes from: a data URL, bare base64, or (only with --allow-remote-images) an
// http(s) URL fetched with AsyncHTTPClient from an address the SSRF policy checked, under size and time limits.

import AsyncHTTPClient
import Foundation
import NIOCore

/// A parsed image reference from a request.
enum ImageReference: Sendable, Equatable {
    /// Base64 text (from a `data:…;base64,` URL or bare), decoded later off the event loop.
    case base64(Substring)
    case remote(URL)

    /// Parses `data:image/png;base64,…`, `http(s)://…` or bare base64; `param` names the field in errors.
    static func parse(_ s: String, param: String) throws -> ImageReference {
        let trimmed = s.drop { $0.isWhitespace }
        if trimmed.isEmpty { throw APIError.badRequest("\(param) is empty: expected a data URL (data:image/png;base64,…) or base64 image bytes", param: param) }
        let head = trimmed.prefix(16).lowercased()
        if head.hasPrefix("data:") {
            guard let comma = trimmed.firstIndex(of: ",") else {
                throw APIError.badRequest("\(param) is a data URL without a comma: expected data:image/…;base64,<data>", param: param)
            }
            let meta = trimmed[trimmed.index(trimmed.startIndex, offsetBy: 5)..<comma].lowercased()
            guard meta.split(separator: ";").contains("base64") else {
                throw APIError.badRequest("\(param) must be a base64 data URL (data:image/…;base64,<data>)", param: param)
            }
            let mediaType = meta.split(separator: ";", omittingEmptySubsequences: false).first.map(String.init) ?? ""
            if !mediaType.isEmpty && !mediaType.hasPrefix("image/") && mediaType != "application/octet-stream" {
                throw APIError(status: .unsupportedMediaType,
                               message: "\(param) has media type \"\(mediaType)\"; expected an image (JPEG, PNG, BMP, GIF or TGA)",
                               param: param, code: "unsupported_image_format")
            }
            return .base64(trimmed[trimmed.index(after: comma)...])
        }
        if head.hasPrefix("http://") || head.hasPrefix("https://") {
            guard let url = URL(string: String(trimmed)), let host = url.host, !host.isEmpty else {
                throw APIError.badRequest("\(param) is not a valid URL", param: param)
            }
            return .remote(url)
        }
        // Base64 never contains ":", so "scheme:" means a URL of another kind (file:, ftp:, …).
        if let colon = head.firstIndex(of: ":"), colon > head.startIndex,
           head[head.startIndex..<colon].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." }) {
            let scheme = head[head.startIndex..<colon]
            throw APIError.badRequest(
                "\(param): URL scheme \"\(scheme)\" is not supported; send a data URL (data:image/png;base64,…) or base64 image bytes",
                param: param, code: "unsupported_url_scheme")
        }
        return .base64(trimmed)
    }
}

/// Decodes base64 leniently: whitespace ignored, URL-safe alphabet and missing padding accepted.
func decodeBase64(_ s: Substring, param: String) throws -> [UInt8] {
    if let d = Data(base64Encoded: String(s)) { return [UInt8](d) }
    var cleaned = String()
    cleaned.reserveCapacity(s.utf8.count + 3)
    for c in s.unicodeScalars where !CharacterSet.whitespacesAndNewlines.contains(c) {
        switch c {
        case "-": cleaned.append("+")
        case "_": cleaned.append("/")
        default: cleaned.unicodeScalars.append(c)
        }
    }
    if cleaned.utf8.count % 4 != 0 { cleaned += String(repeating: "=", count: 4 - cleaned.utf8.count % 4) }
    guard let d = Data(base64Encoded: cleaned) else {
        throw APIError.badRequest("\(param) is not valid base64 (expected a data URL like data:image/png;base64,… or base64 image bytes)", param: param)
    }
    return [UInt8](d)
}

/// Why a remote image could not be fetched.
enum RemoteFetchError: Error, Equatable {
    case tooLarge(limit: Int)
    case timeout(seconds: Double)
    case status(Int)
    case redirect(String)
    case network(String)
}

/// Fetches one image URL under a byte cap and a whole-fetch deadline, connecting only to addresses that
/// ``AddressPolicy`` approved: each hop's host is resolved once, checked, and the connection goes to that address
/// (AsyncHTTPClient's `dnsOverride`; TLS still verifies the original host name). Redirects are followed by hand (at
/// most 5), each one resolved and checked again. Compressed bodies are refused, and the transfer is cut at the cap.
enum RemoteImageFetcher {
    static let maxRedirects = 5

    static func fetch(_ url: URL, maxBytes: Int, timeout: Duration, allowPrivateHosts: Bool = false,
                      resolver: @escaping AddressPolicy.Resolver = AddressPolicy.systemResolver) async throws -> [UInt8] {
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) * 1e-18
        // AsyncHTTPClient's deadline ends when the response head arrives; the race below also bounds the body.
        return try await withThrowingTaskGroup(of: [UInt8].self) { group in
            group.addTask {
                let deadline = NIODeadline.now() + .nanoseconds(Int64(seconds * 1e9))
                var current = url
                for _ in 0...maxRedirects {
                    switch try await fetchOnce(current, maxBytes: maxBytes, deadline: deadline, seconds: seconds,
                                               allowPrivateHosts: allowPrivateHosts, resolver: resolver) {
                    case .body(let bytes):
                        return bytes
                    case .redirect(let location):
                        guard let next = URL(string: location, relativeTo: current)?.absoluteURL,
                              let scheme = next.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
                            throw RemoteFetchError.redirect("redirect to a non-http(s) URL")
                        }
                        current = next
                    }
                }
                throw RemoteFetchError.redirect("more than \(maxRedirects) redirects")
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw RemoteFetchError.timeout(seconds: seconds)
            }
            defer { group.cancelAll() }
            guard let bytes = try await group.next() else { throw RemoteFetchError.timeout(seconds: seconds) }
            return bytes
        }
    }

    private enum Hop {
        case body([UInt8])
        case redirect(String)
    }

    /// One request to one checked address: a body, or where a redirect points.
    private static func fetchOnce(_ url: URL, maxBytes: Int, deadline: NIODeadline, seconds: Double,
                                  allowPrivateHosts: Bool, resolver: AddressPolicy.Resolver) async throws -> Hop {
        guard url.user == nil, url.password == nil else { throw RemoteFetchError.redirect("credentials in the URL") }
        guard let host = url.host, !host.isEmpty else { throw RemoteFetchError.network("no host") }
        let address = try AddressPolicy.pin(host: host, allowPrivate: allowPrivateHosts, resolver: resolver)
        var config = HTTPClient.Configuration(redirectConfiguration: .disallow, decompression: .disabled)
        let bare = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        config.dnsOverride[bare] = address
        config.dnsOverride[host] = address
        config.connectionPool = .init(idleTimeout: .seconds(1))
        let backstop = TimeAmount.nanoseconds(Int64((seconds + 1) * 1e9))
        config.timeout = .init(connect: backstop, read: backstop)
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: config)
        let result: Result<Hop, Error>
        do {
            result = .success(try await exchange(client, url, maxBytes: maxBytes, deadline: deadline))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            result = .failure(RemoteFetchError.timeout(seconds: seconds))
        } catch {
            result = .failure(error)
        }
        // Closes the connection, also when the body was abandoned at the cap.
        try? await client.shutdown()
        return try result.get()
    }

    private static func exchange(_ client: HTTPClient, _ url: URL, maxBytes: Int, deadline: NIODeadline) async throws -> Hop {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.headers.add(name: "Accept", value: "image/*")
        request.headers.add(name: "User-Agent", value: "clip-serve")
        // A small gzip can inflate to gigabytes before a byte cap sees it: ask for none, refuse any.
        request.headers.add(name: "Accept-Encoding", value: "identity")
        let response = try await client.execute(request, deadline: deadline)
        let status = Int(response.status.code)
        if (300..<400).contains(status), let location = response.headers.first(name: "Location") {
            return .redirect(location)
        }
        guard (200..<300).contains(status) else { throw RemoteFetchError.status(status) }
        if let encoding = response.headers.first(name: "Content-Encoding")?.lowercased(), encoding != "identity" {
            throw RemoteFetchError.network("compressed response (\(encoding))")
        }
        if let length = response.headers.first(name: "Content-Length").flatMap(Int.init), length > maxBytes {
            throw RemoteFetchError.tooLarge(limit: maxBytes)
        }
        var bytes: [UInt8] = []
        for try await chunk in response.body {
            guard bytes.count + chunk.readableBytes <= maxBytes else { throw RemoteFetchError.tooLarge(limit: maxBytes) }
            bytes += chunk.readableBytesView
        }
        return .body(bytes)
    }
}
