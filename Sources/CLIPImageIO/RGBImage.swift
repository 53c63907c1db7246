// An 8-bit RGB image in memory (interleaved, row-major) and its EXIF-orientation transforms.

/// An 8-bit RGB image: `pixels[(y * width + x) * 3 + channel]`.
public struct RGBImage: Sendable, Equatable {
    /// Width in pixels, always positive.
    public let width: Int
    /// Height in pixels, always positive.
    public let height: Int
    /// Interleaved RGB bytes, `width * height * 3` of them.
    public let pixels: [UInt8]

    /// Wraps raw RGB8 pixels, checking the buffer size.
    ///
    /// - Throws: ``ImageError/invalidPixelBuffer(width:height:expected:actual:)`` or ``ImageError/emptyImage``.
    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0 else { throw ImageError.emptyImage(width: width, height: height) }
        let (wh, o1) = width.multipliedReportingOverflow(by: height)
        let (n, o2) = wh.multipliedReportingOverflow(by: 3)
        guard !o1, !o2, n == pixels.count else {
            throw ImageError.invalidPixelBuffer(width: width, height: height, expected: o1 || o2 ? Int.max : n,
                                                actual: pixels.count)
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    init(uncheckedWidth width: Int, height: Int, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Applies an EXIF orientation (1…8) the way PIL's `ImageOps.exif_transpose` does.
    public func applyingEXIFOrientation(_ orientation: Int) -> RGBImage {
        guard (2...8).contains(orientation) else { return self }
        let w = width, h = height
        let swaps = orientation >= 5
        let ow = swaps ? h : w, oh = swaps ? w : h
        var out = [UInt8](repeating: 0, count: ow * oh * 3)
        for r in 0..<oh {
            for c in 0..<ow {
                let (sr, sc): (Int, Int)
                switch orientation {
                case 2: (sr, sc) = (r, w - 1 - c)              // mirror horizontal
                case 3: (sr, sc) = (h - 1 - r, w - 1 - c)      // rotate 180
                case 4: (sr, sc) = (h - 1 - r, c)              // mirror vertical
                case 5: (sr, sc) = (c, r)                      // transpose
                case 6: (sr, sc) = (h - 1 - c, r)              // rotate 90 clockwise
                case 7: (sr, sc) = (h - 1 - c, w - 1 - r)      // transverse
                default: (sr, sc) = (c, w - 1 - r)             // 8: rotate 90 counter-clockwise
                }
                let s = (sr * w + sc) * 3, d = (r * ow + c) * 3
                out[d] = pixels[s]; out[d + 1] = pixels[s + 1]; out[d + 2] = pixels[s + 2]
            }
        }
        return RGBImage(uncheckedWidth: ow, height: oh, pixels: out)
    }
}

/// Everything that can go wrong turning bytes into an image.
///
/// ```swift
/// do { _ = try ImageDecoder().decode(path: "cut.jpg") } catch let e as ImageError {
///     print(e)              // cut.jpg: cannot decode image: JPEG data is truncated
///     print(e.underlying)   // cannot decode image: JPEG data is truncated
/// }
/// ```
public enum ImageError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    /// `error` happened decoding the file at `path` (thrown by ``ImageDecoder/decode(path:)``).
    indirect case file(path: String, error: ImageError)
    case emptyData
    case tooManyBytes(size: Int, limit: Int)
    case unsupportedFormat(String)
    case corrupt(reason: String)
    case emptyImage(width: Int, height: Int)
    case tooManyPixels(width: Int, height: Int, limit: Int)
    case invalidPixelBuffer(width: Int, height: Int, expected: Int, actual: Int)

    /// A one-line message, prefixed with the path when the error names a file.
    public var description: String {
        switch self {
        case let .unreadable(p, r): return "\(p): \(r)"
        case let .file(p, e): return "\(p): \(e.description)"
        case .emptyData: return "image data is empty"
        case let .tooManyBytes(s, l): return "image data is \(s) bytes, over the \(l)-byte limit"
        case let .unsupportedFormat(f): return "unsupported image format: \(f) (supported: JPEG, PNG, BMP, GIF, TGA, WebP)"
        case let .corrupt(r): return "cannot decode image: \(r)"
        case let .emptyImage(w, h): return "image has no pixels (\(w)×\(h))"
        case let .tooManyPixels(w, h, l):
            let (pixels, overflow) = w.multipliedReportingOverflow(by: h)
            return "image is \(w)×\(h) = \(overflow ? "more than \(Int.max)" : String(pixels)) pixels, over the \(l)-pixel limit"
        case let .invalidPixelBuffer(w, h, e, a): return "RGB8 buffer for \(w)×\(h) needs \(e) bytes, got \(a)"
        }
    }

    /// The error without its file context: what went wrong, whichever way the image was given.
    public var underlying: ImageError {
        if case .file(_, let e) = self { return e.underlying }
        return self
    }
}
