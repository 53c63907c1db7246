// Where an image in a request comes from: a data URL, bare base64, or (only with --allow-remote-images) an
// http(s) URL fetched with Foundation's URLSession under size and time limits.

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

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

/// Fetches one URL with a byte cap and an overall deadline (one ephemeral URLSession per fetch).
final class RemoteImageFetcher: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let maxBytes: Int
    private let lock = NSLock()
    private var data = Data()
    private var continuation: CheckedContinuation<[UInt8], Error>?
    private var redirects = 0

    private let timeoutSeconds: Double
    private let allowPrivateHosts: Bool

    private init(maxBytes: Int, timeoutSeconds: Double, allowPrivateHosts: Bool) {
        self.maxBytes = maxBytes
        self.timeoutSeconds = timeoutSeconds
        self.allowPrivateHosts = allowPrivateHosts
    }

    /// Refuses URLs with credentials and hosts that resolve to non-public addresses (before the request, and at
    /// every redirect). The check and the connection resolve separately: a DNS answer that changes in between
    /// is not caught (see the README).
    static func checkTarget(_ url: URL, allowPrivateHosts: Bool) throws {
        guard url.user == nil, url.password == nil else { throw RemoteFetchError.redirect("credentials in the URL") }
        guard let host = url.host, !host.isEmpty else { throw RemoteFetchError.network("no host") }
        try AddressPolicy.check(host: host, allowPrivate: allowPrivateHosts)
    }

    static func fetch(_ url: URL, maxBytes: Int, timeout: Duration, allowPrivateHosts: Bool = false) async throws -> [UInt8] {
        try checkTarget(url, allowPrivateHosts: allowPrivateHosts)
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) * 1e-18
        // URLSession's own timeouts are a backstop only: on Linux a sub-second value times out at once (it is
        // truncated to whole seconds), so they are rounded up and the watchdog below enforces `timeout`.
        let backstop = (seconds + 1).rounded(.up)
        let config = URLSessionConfiguration.ephemeral
        config.timeoutIntervalForRequest = backstop
        config.timeoutIntervalForResource = backstop
        config.requestCachePolicy = .reloadIgnoringLocalCacheData
        config.urlCache = nil
        config.httpCookieStorage = nil
        config.httpShouldSetCookies = false
        let fetcher = RemoteImageFetcher(maxBytes: maxBytes, timeoutSeconds: seconds, allowPrivateHosts: allowPrivateHosts)
        let session = URLSession(configuration: config, delegate: fetcher, delegateQueue: nil)
        defer { session.invalidateAndCancel() }
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: backstop)
        request.setValue("image/*", forHTTPHeaderField: "Accept")
        request.setValue("clip-serve", forHTTPHeaderField: "User-Agent")
        // Compressed bodies are refused: a small gzip can inflate to gigabytes before a byte cap sees it.
        request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
        let task = session.dataTask(with: request)
        return try await withCheckedThrowingContinuation { cont in
            fetcher.lock.withLock { fetcher.continuation = cont }
            // Our own watchdog as well as URLSession's timeouts: the whole fetch must end within `timeout`.
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
                if fetcher.finish(.failure(RemoteFetchError.timeout(seconds: seconds))) { task.cancel() }
            }
            task.resume()
        }
    }

    /// Resumes the waiting request once; returns whether this call did.
    @discardableResult
    private func finish(_ result: Result<[UInt8], Error>) -> Bool {
        let cont: CheckedContinuation<[UInt8], Error>? = lock.withLock {
            defer { continuation = nil }
            return continuation
        }
        cont?.resume(with: result)
        return cont != nil
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
            finish(.failure(RemoteFetchError.status(http.statusCode)))
            completionHandler(.cancel)
            return
        }
        if let http = response as? HTTPURLResponse,
           let encoding = http.value(forHTTPHeaderField: "Content-Encoding")?.lowercased(), encoding != "identity" {
            finish(.failure(RemoteFetchError.network("compressed response (\(encoding))")))
            completionHandler(.cancel)
            return
        }
        if response.expectedContentLength > Int64(maxBytes) {
            finish(.failure(RemoteFetchError.tooLarge(limit: maxBytes)))
            completionHandler(.cancel)
            return
        }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive chunk: Data) {
        let over: Bool = lock.withLock {
            data.append(chunk)
            return data.count > maxBytes
        }
        if over {
            finish(.failure(RemoteFetchError.tooLarge(limit: maxBytes)))
            dataTask.cancel()
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        let scheme = request.url?.scheme?.lowercased() ?? ""
        let count: Int = lock.withLock { redirects += 1; return redirects }
        if scheme != "http" && scheme != "https" {
            finish(.failure(RemoteFetchError.redirect("redirect to a non-http(s) URL")))
            completionHandler(nil)
            task.cancel()
        } else if let url = request.url, let refusal = Result(catching: { try RemoteImageFetcher.checkTarget(url, allowPrivateHosts: allowPrivateHosts) }).failure {
            finish(.failure(refusal))
            completionHandler(nil)
            task.cancel()
        } else if count > 5 {
            finish(.failure(RemoteFetchError.redirect("more than 5 redirects")))
            completionHandler(nil)
            task.cancel()
        } else {
            completionHandler(request)
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        if let error {
            let ns = error as NSError
            if ns.domain == NSURLErrorDomain && ns.code == NSURLErrorTimedOut {
                finish(.failure(RemoteFetchError.timeout(seconds: timeoutSeconds)))
            } else {
                finish(.failure(RemoteFetchError.network(error.localizedDescription)))
            }
        } else {
            let bytes = lock.withLock { [UInt8](data) }
            finish(.success(bytes))
        }
    }
}

extension Result {
    /// The error of a failure, nil for a success.
    var failure: Failure? { if case .failure(let e) = self { return e } else { return nil } }
}
