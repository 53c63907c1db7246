// WebP (lossy, lossless, alpha; first frame of animations) through the system libwebp, as Pillow decodes it.

import CWebP

extension ImageDecoder {
    /// Whether the bytes are a RIFF WebP container.
    static func isWebP(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        b.count >= 12 && b[0] == 0x52 && b[1] == 0x49 && b[2] == 0x46 && b[3] == 0x46
            && b[8] == 0x57 && b[9] == 0x45 && b[10] == 0x42 && b[11] == 0x50
    }

    /// Header first (size against ``maxPixels``, nothing allocated), then the first frame straight into RGB,
    /// alpha dropped, then the EXIF (or XMP) orientation.
    func decodeWebP(_ b: UnsafeBufferPointer<UInt8>) throws -> RGBImage {
        var w: Int32 = 0, h: Int32 = 0, alpha: Int32 = 0, animated: Int32 = 0
        let info = clip_webp_info(b.baseAddress, b.count, &w, &h, &alpha, &animated)
        guard info == Int32(CLIP_WEBP_OK) else { throw ImageDecoder.webpError(info, stage: "header") }
        guard w > 0, h > 0 else { throw ImageError.emptyImage(width: Int(w), height: Int(h)) }
        guard Int(w) <= maxPixels, Int(h) <= maxPixels, Int(w) * Int(h) <= maxPixels else {
            throw ImageError.tooManyPixels(width: Int(w), height: Int(h), limit: maxPixels)
        }
        var ow: Int32 = 0, oh: Int32 = 0
        var rc: Int32 = 0
        let pixels = [UInt8](unsafeUninitializedCapacity: Int(w) * Int(h) * 3) { out, count in
            rc = clip_webp_decode_rgb(b.baseAddress, b.count, out.baseAddress, out.count, &ow, &oh)
            count = rc == Int32(CLIP_WEBP_OK) ? out.count : 0
        }
        guard rc == Int32(CLIP_WEBP_OK) else { throw ImageDecoder.webpError(rc, stage: "image data") }
        guard ow == w, oh == h else {
            throw ImageError.corrupt(reason: "WebP frame is \(ow)×\(oh) but its header said \(w)×\(h)")
        }
        let image = RGBImage(uncheckedWidth: Int(w), height: Int(h), pixels: pixels)
        return image.applyingEXIFOrientation(EXIF.orientation(webp: b))
    }

    /// The canvas size from the header alone.
    static func webpDimensions(_ b: UnsafeBufferPointer<UInt8>) throws -> (width: Int, height: Int) {
        var w: Int32 = 0, h: Int32 = 0, alpha: Int32 = 0, animated: Int32 = 0
        let info = clip_webp_info(b.baseAddress, b.count, &w, &h, &alpha, &animated)
        guard info == Int32(CLIP_WEBP_OK) else { throw ImageDecoder.webpError(info, stage: "header") }
        return (Int(w), Int(h))
    }

    static func webpError(_ code: Int32, stage: String) -> ImageError {
        switch code {
        case Int32(CLIP_WEBP_ERR_NOT_WEBP): return .unsupportedFormat("not a WebP file Pillow would open")
        case Int32(CLIP_WEBP_ERR_TRUNCATED): return .corrupt(reason: "truncated WebP \(stage)")
        case Int32(CLIP_WEBP_ERR_UNSUPPORTED): return .unsupportedFormat("a WebP feature libwebp does not decode")
        case Int32(CLIP_WEBP_ERR_OUT_OF_MEMORY): return .corrupt(reason: "libwebp could not allocate memory for the \(stage)")
        default: return .corrupt(reason: "damaged WebP \(stage)")
        }
    }
}

extension EXIF {
    /// The orientation of a WebP: its EXIF chunk (a TIFF block, `Exif\0\0` prefix allowed), else
    /// `tiff:Orientation` in its XMP chunk, as Pillow's `getexif()` falls back to; 1 when absent or malformed.
    static func orientation(webp b: UnsafeBufferPointer<UInt8>) -> Int {
        var offset = 0, length = 0
        if clip_webp_exif(b.baseAddress, b.count, &offset, &length) == Int32(CLIP_WEBP_OK),
           offset + length <= b.count,
           let v = tiffOrientation(b, start: offset, end: offset + length) {
            return v
        }
        guard clip_webp_chunk(b.baseAddress, b.count, "XMP ", &offset, &length) == Int32(CLIP_WEBP_OK),
              offset + length <= b.count else { return 1 }
        // re.search(rb'tiff:Orientation(="|>)([0-9])', xmp)
        let key = Array("tiff:Orientation".utf8)
        var i = offset
        while i + key.count + 2 <= offset + length {
            if b[i] == key[0], (0..<key.count).allSatisfy({ b[i + $0] == key[$0] }) {
                let j = i + key.count
                if b[j] == UInt8(ascii: "="), j + 2 < offset + length, b[j + 1] == UInt8(ascii: "\"") {
                    let d = b[j + 2]
                    if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(d) { return orientationDigit(d) }
                } else if b[j] == UInt8(ascii: ">") {
                    let d = b[j + 1]
                    if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(d) { return orientationDigit(d) }
                }
            }
            i += 1
        }
        return 1
    }

    private static func orientationDigit(_ d: UInt8) -> Int {
        let v = Int(d - UInt8(ascii: "0"))
        return (1...8).contains(v) ? v : 1
    }
}
