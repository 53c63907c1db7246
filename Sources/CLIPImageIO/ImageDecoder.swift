// Image decoding with stb_image (JPEG through its libjpeg-exact back end, PNG, BMP, GIF first frame, TGA) and libwebp, behind
// size and structure checks, plus EXIF orientation, producing RGB8 as PIL's `convert("RGB")` would (alpha
// dropped, gray replicated).

import CLIPCore
import CSTBImage

/// Decodes encoded images to ``RGBImage`` with limits that are checked before any large allocation.
///
/// ```swift
/// let decoder = ImageDecoder()
/// let image = try decoder.decode(path: "cat.jpg")
/// print(image.width, image.height)
/// ```
public struct ImageDecoder: Sendable {
    /// The largest accepted image in pixels (PIL's `MAX_IMAGE_PIXELS`).
    public var maxPixels: Int
    /// The largest accepted encoded size in bytes.
    public var maxBytes: Int

    /// Creates a decoder with the given limits (defaults: 89,478,485 pixels, 256 MiB).
    public init(maxPixels: Int = 89_478_485, maxBytes: Int = 256 << 20) {
        self.maxPixels = maxPixels
        self.maxBytes = maxBytes
    }

    /// Reads and decodes an image file. Decoding errors come wrapped in ``ImageError/file(path:error:)``, so their
    /// message names the file; ``ImageError/underlying`` gives the bare reason.
    public func decode(path: String) throws -> RGBImage {
        let bytes: [UInt8]
        do { bytes = try readFile(path, limit: maxBytes) } catch let e as FileReadError {
            throw ImageError.unreadable(path: path, reason: e.reason)
        }
        do { return try decode(bytes) } catch let e as ImageError {
            throw ImageError.file(path: path, error: e)   // so the message names the file
        }
    }

    /// Decodes an encoded image held in memory, applying the JPEG EXIF orientation.
    public func decode(_ bytes: [UInt8]) throws -> RGBImage {
        guard !bytes.isEmpty else { throw ImageError.emptyData }
        guard bytes.count <= maxBytes else { throw ImageError.tooManyBytes(size: bytes.count, limit: maxBytes) }
        guard bytes.count <= Int(Int32.max) else { throw ImageError.tooManyBytes(size: bytes.count, limit: Int(Int32.max)) }
        if bytes.withUnsafeBufferPointer({ ImageDecoder.isWebP($0) }) {
            return try bytes.withUnsafeBufferPointer { try decodeWebP($0) }
        }
        if let foreign = ImageDecoder.foreignFormat(bytes) { throw ImageError.unsupportedFormat(foreign) }
        // Only the five supported formats reach stb_image (its HDR, PSD, PIC and PNM readers are not compiled
        // in), and their declared size is checked first.
        guard let format = bytes.withUnsafeBufferPointer({ ImageFormat.sniff($0) }) else {
            throw ImageError.unsupportedFormat("unrecognised data")
        }
        // Short palettes are completed with opaque black first: stb_image would read colours for indices past
        // the palette from uninitialised stack memory; Pillow shows them black.
        let bytes = bytes.withUnsafeBufferPointer { PaletteCompletion.completed($0, format: format) } ?? bytes
        return try bytes.withUnsafeBufferPointer { buf -> RGBImage in
            if let (w, h) = format.declaredSize(buf) {
                guard w > 0, h > 0 else { throw ImageError.emptyImage(width: w, height: h) }
                guard w <= maxPixels, h <= maxPixels, w * h <= maxPixels else {
                    throw ImageError.tooManyPixels(width: w, height: h, limit: maxPixels)
                }
            }
            // stb_image is not hardened: reject structures known to make it read out of bounds or over-allocate.
            try StructureCheck.validate(buf, format: format)
            var w: Int32 = 0, h: Int32 = 0, comp: Int32 = 0
            // Header only: refuse absurd sizes before stb allocates anything.
            guard stbi_info_from_memory(buf.baseAddress, Int32(buf.count), &w, &h, &comp) == 1 else {
                let reason = ImageDecoder.stbReason() ?? "unrecognised data"
                // A JPEG / PNG / GIF / BMP signature that stb cannot parse is a damaged file, not a foreign
                // format; TGA has no signature, so an unparsable "TGA" is just unrecognised data.
                if format != .tga { throw ImageError.corrupt(reason: "damaged \(format.name) header (\(reason))") }
                throw ImageError.unsupportedFormat(reason)
            }
            guard w > 0, h > 0 else { throw ImageError.emptyImage(width: Int(w), height: Int(h)) }
            guard Int(w) * Int(h) <= maxPixels else {
                throw ImageError.tooManyPixels(width: Int(w), height: Int(h), limit: maxPixels)
            }
            // Every 8×8 block of a JPEG costs at least one bit per scan (two in a baseline scan: DC and end of block),
            // so a file with under one byte per 1,024 pixels cannot hold its declared image: refuse it before
            // allocating and decoding megapixels of nothing (64 such files made one request decode for 34 s).
            if format == .jpeg, buf.count < Int(w) * Int(h) / 1024 {
                throw ImageError.corrupt(reason: "JPEG data (\(buf.count) bytes) is far too short for its declared \(w)×\(h) pixels")
            }
            let isPNG = format == .png
            let image: RGBImage
            if format == .jpeg {
                image = try decodeJPEG(buf, width: Int(w), height: Int(h))
            } else if isPNG && comp == 1 && stbi_is_16_bit_from_memory(buf.baseAddress, Int32(buf.count)) == 1 {
                image = try decodeGray16(buf)
            } else if format == .gif || (isPNG && (comp == 1 || comp == 3)) || (isPNG && PNGChunks.hasSimplePaletteTransparency(buf)) {
                // A GIF transparent index, a PNG tRNS colour key, or a palette whose tRNS has exactly one fully
                // transparent entry (the rest opaque): PIL keeps these as a "transparency" colour and
                // transformers' convert_to_rgb composites those pixels onto white.
                image = try decodeRGB(buf, keyedTransparencyToWhite: true)
            } else {
                image = try decodeRGB(buf, keyedTransparencyToWhite: false)
            }
            let orientation = isPNG ? EXIF.orientation(png: buf) : EXIF.orientation(jpeg: buf)
            return image.applyingEXIFOrientation(orientation)
        }
    }

    /// The width and height an image's header declares, without decoding it or allocating pixels (for budgets
    /// over several images).
    ///
    /// ```swift
    /// let (w, h) = try ImageDecoder().dimensions(bytes)
    /// ```
    public func dimensions(_ bytes: [UInt8]) throws -> (width: Int, height: Int) {
        guard !bytes.isEmpty else { throw ImageError.emptyData }
        guard bytes.count <= Int(Int32.max) else { throw ImageError.tooManyBytes(size: bytes.count, limit: Int(Int32.max)) }
        return try bytes.withUnsafeBufferPointer { buf in
            if ImageDecoder.isWebP(buf) { return try ImageDecoder.webpDimensions(buf) }
            if let foreign = ImageDecoder.foreignFormat(bytes) { throw ImageError.unsupportedFormat(foreign) }
            guard let format = ImageFormat.sniff(buf) else { throw ImageError.unsupportedFormat("unrecognised data") }
            if let size = format.declaredSize(buf) { return size }
            var w: Int32 = 0, h: Int32 = 0, comp: Int32 = 0
            guard stbi_info_from_memory(buf.baseAddress, Int32(buf.count), &w, &h, &comp) == 1 else {
                throw ImageError.corrupt(reason: "damaged \(format.name) header (\(ImageDecoder.stbReason() ?? "unreadable"))")
            }
            return (Int(w), Int(h))
        }
    }

    /// 8-bit RGB via stb_image; with `keyedTransparencyToWhite`, pixels whose alpha is 0 become white.
    private func decodeRGB(_ buf: UnsafeBufferPointer<UInt8>, keyedTransparencyToWhite: Bool) throws -> RGBImage {
        var w: Int32 = 0, h: Int32 = 0, comp: Int32 = 0
        let channels: Int32 = keyedTransparencyToWhite ? 4 : 3
        guard let data = stbi_load_from_memory(buf.baseAddress, Int32(buf.count), &w, &h, &comp, channels) else {
            throw ImageError.corrupt(reason: ImageDecoder.stbReason() ?? "unknown error")
        }
        defer { stbi_image_free(data) }
        guard w > 0, h > 0, Int(w) * Int(h) <= maxPixels else {
            throw ImageError.tooManyPixels(width: Int(w), height: Int(h), limit: maxPixels)
        }
        let n = Int(w) * Int(h)
        if !keyedTransparencyToWhite {
            return RGBImage(uncheckedWidth: Int(w), height: Int(h), pixels: Array(UnsafeBufferPointer(start: data, count: n * 3)))
        }
        var pixels = [UInt8](repeating: 0, count: n * 3)
        for i in 0..<n {
            let transparent = data[i * 4 + 3] == 0
            for c in 0..<3 { pixels[i * 3 + c] = transparent ? 255 : data[i * 4 + c] }
        }
        return RGBImage(uncheckedWidth: Int(w), height: Int(h), pixels: pixels)
    }

    /// JPEG through the libjpeg-exact back end (libjpeg-turbo's IDCT, upsampling and colour conversion on stb's
    /// entropy decoder), so pixels equal Pillow's.
    private func decodeJPEG(_ buf: UnsafeBufferPointer<UInt8>, width: Int, height: Int) throws -> RGBImage {
        var w: Int32 = 0, h: Int32 = 0
        var ok = false
        // Written in place: the header pass already gave the size, so there is no intermediate copy.
        let pixels = [UInt8](unsafeUninitializedCapacity: width * height * 3) { out, count in
            clip_advise_huge_pages(out.baseAddress, out.count)
            ok = clip_jpeg_decode_rgb_into(buf.baseAddress, Int32(buf.count), out.baseAddress, out.count, &w, &h) == 1
            count = ok ? out.count : 0
        }
        guard ok else { throw ImageError.corrupt(reason: ImageDecoder.stbReason() ?? "unknown error") }
        guard Int(w) == width, Int(h) == height else {
            throw ImageError.corrupt(reason: "JPEG frame is \(w)×\(h) but its header said \(width)×\(height)")
        }
        return RGBImage(uncheckedWidth: width, height: height, pixels: pixels)
    }

    /// 16-bit grayscale PNG as PIL converts it: mode I;16 → RGB clamps each value to 255 (it does not scale).
    private func decodeGray16(_ buf: UnsafeBufferPointer<UInt8>) throws -> RGBImage {
        var w: Int32 = 0, h: Int32 = 0, comp: Int32 = 0
        guard let data = stbi_load_16_from_memory(buf.baseAddress, Int32(buf.count), &w, &h, &comp, 1) else {
            throw ImageError.corrupt(reason: ImageDecoder.stbReason() ?? "unknown error")
        }
        defer { stbi_image_free(data) }
        guard w > 0, h > 0, Int(w) * Int(h) <= maxPixels else {
            throw ImageError.tooManyPixels(width: Int(w), height: Int(h), limit: maxPixels)
        }
        let n = Int(w) * Int(h)
        var pixels = [UInt8](repeating: 0, count: n * 3)
        for i in 0..<n {
            let v = UInt8(min(Int(data[i]), 255))
            pixels[i * 3] = v; pixels[i * 3 + 1] = v; pixels[i * 3 + 2] = v
        }
        return RGBImage(uncheckedWidth: Int(w), height: Int(h), pixels: pixels)
    }

    private static func stbReason() -> String? {
        guard let r = stbi_failure_reason() else { return nil }
        let reason = String(cString: r)
        return reason.isEmpty ? "truncated or corrupt data" : reason
    }

    /// Names formats stb_image cannot read, so the error says what the file is.
    static func foreignFormat(_ b: [UInt8]) -> String? {
        func at(_ i: Int, _ s: String) -> Bool {
            let u = Array(s.utf8)
            return b.count >= i + u.count && Array(b[i..<(i + u.count)]) == u
        }
        if b.count >= 4 && ((b[0] == 0x49 && b[1] == 0x49 && b[2] == 0x2A && b[3] == 0) ||
                            (b[0] == 0x4D && b[1] == 0x4D && b[2] == 0 && b[3] == 0x2A)) { return "TIFF" }
        if at(4, "ftyp") {
            // ISO-BMFF: the major brand at 8, compatible brands from 16 to the box size. Generic HEIF brands
            // (mif1, msf1) are named by a compatible brand.
            let heic = ["heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs"]
            if at(8, "avif") || at(8, "avis") { return "AVIF" }
            if heic.contains(where: { at(8, $0) }) { return "HEIC" }
            let boxEnd = b.count >= 4 ? min(b.count, Int(b[0]) << 24 | Int(b[1]) << 16 | Int(b[2]) << 8 | Int(b[3])) : 0
            var o = 16
            while o + 4 <= boxEnd {
                if at(o, "avif") || at(o, "avis") { return "AVIF" }
                if heic.contains(where: { at(o, $0) }) { return "HEIC" }
                o += 4
            }
            return at(8, "mif1") || at(8, "msf1") ? "HEIF" : "ISO media (ftyp)"
        }
        if at(0, "%PDF") { return "PDF" }
        if at(0, "<svg") || at(0, "<?xml") { return "SVG/XML" }
        if b.count >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 1 && b[3] == 0 { return "ICO" }
        return nil
    }
}
