// Image decoding with stb_image (JPEG through its libjpeg-exact back end, PNG, BMP, GIF first frame, TGA) behind
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
    ///
    /// ```swift
    /// let strict = ImageDecoder(maxPixels: 4_000_000, maxBytes: 10 << 20)
    /// ```
    public init(maxPixels: Int = 89_478_485, maxBytes: Int = 256 << 20) {
        self.maxPixels = maxPixels
        self.maxBytes = maxBytes
    }

    /// Reads and decodes an image file. Decoding errors come wrapped in ``ImageError/file(path:error:)``, so their
    /// message names the file; ``ImageError/underlying`` gives the bare reason.
    ///
    /// ```swift
    /// let img = try ImageDecoder().decode(path: "photo.png")
    /// ```
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
    ///
    /// ```swift
    /// let img = try ImageDecoder().decode(Array(jpegData))
    /// ```
    public func decode(_ bytes: [UInt8]) throws -> RGBImage {
        guard !bytes.isEmpty else { throw ImageError.emptyData }
        guard bytes.count <= maxBytes else { throw ImageError.tooManyBytes(size: bytes.count, limit: maxBytes) }
        guard bytes.count <= Int(Int32.max) else { throw ImageError.tooManyBytes(size: bytes.count, limit: Int(Int32.max)) }
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
        if at(0, "RIFF") && at(8, "WEBP") { return "WebP" }
        if b.count >= 4 && ((b[0] == 0x49 && b[1] == 0x49 && b[2] == 0x2A && b[3] == 0) ||
                            (b[0] == 0x4D && b[1] == 0x4D && b[2] == 0 && b[3] == 0x2A)) { return "TIFF" }
        if at(4, "ftyp") {
            if at(8, "avif") || at(8, "avis") { return "AVIF" }
            if at(8, "heic") || at(8, "heix") || at(8, "mif1") || at(8, "msf1") || at(8, "hevc") { return "HEIC" }
            return "ISO media (ftyp)"
        }
        if at(0, "%PDF") { return "PDF" }
        if at(0, "<svg") || at(0, "<?xml") { return "SVG/XML" }
        if b.count >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 1 && b[3] == 0 { return "ICO" }
        return nil
    }
}

extension UnsafeBufferPointer where Element == UInt8 {
    /// Little-endian 16 / 32-bit and big-endian 32-bit unsigned fields at byte `o` (callers check the bounds).
    func le16(_ o: Int) -> Int { Int(self[o]) | Int(self[o + 1]) << 8 }
    func le32(_ o: Int) -> Int { le16(o) | le16(o + 2) << 16 }
    func be32(_ o: Int) -> Int { Int(self[o]) << 24 | Int(self[o + 1]) << 16 | Int(self[o + 2]) << 8 | Int(self[o + 3]) }
}

/// The BMP fields the decoder's checks need, read as stb_image reads them (OS/2 12-byte core header or a
/// 40-byte-or-longer Windows header). Sizes are absolute (a negative height means top-down rows).
struct BMPHeader {
    let pixelOffset, headerSize, width, height, bitsPerPixel, compression: Int

    /// Nil unless `b` holds the file header and the fields read here (the format sniff guarantees 26 bytes).
    init?(_ b: UnsafeBufferPointer<UInt8>) {
        guard b.count >= 26 else { return nil }
        pixelOffset = b.le32(10)
        headerSize = b.le32(14)
        if headerSize == 12 {
            width = b.le16(18); height = b.le16(20); bitsPerPixel = b.le16(24); compression = 0
        } else {
            func signed(_ v: Int) -> Int { abs(Int(Int32(bitPattern: UInt32(v)))) }
            width = signed(b.le32(18)); height = signed(b.le32(22))
            bitsPerPixel = b.count >= 30 ? b.le16(28) : 0
            compression = b.count >= 34 ? b.le32(30) : -1
        }
    }
}

/// The formats this decoder accepts, recognised from their leading bytes (TGA, which has no signature, from a
/// plausible header).
enum ImageFormat {
    case jpeg, png, bmp, gif, tga

    var name: String {
        switch self {
        case .jpeg: return "JPEG"
        case .png: return "PNG"
        case .bmp: return "BMP"
        case .gif: return "GIF"
        case .tga: return "TGA"
        }
    }

    static func sniff(_ b: UnsafeBufferPointer<UInt8>) -> ImageFormat? {
        if b.count >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF { return .jpeg }
        if b.count >= 8 && b[0] == 0x89 && b[1] == 0x50 && b[2] == 0x4E && b[3] == 0x47 { return .png }
        if b.count >= 6 && b[0] == 0x47 && b[1] == 0x49 && b[2] == 0x46 && b[3] == 0x38 { return .gif }
        if b.count >= 26 && b[0] == 0x42 && b[1] == 0x4D { return .bmp }
        // TGA: colour-map type 0/1, a known image type, a sane pixel depth.
        if b.count >= 18, b[1] <= 1, [1, 2, 3, 9, 10, 11].contains(b[2]), [8, 15, 16, 24, 32].contains(b[16]) { return .tga }
        return nil
    }

    /// Width and height as the header declares them, when they sit at a fixed place (JPEG's are in SOF and
    /// checked by stb's header pass).
    func declaredSize(_ b: UnsafeBufferPointer<UInt8>) -> (Int, Int)? {
        switch self {
        case .png: return b.count >= 24 ? (b.be32(16), b.be32(20)) : nil
        case .gif: return b.count >= 10 ? (b.le16(6), b.le16(8)) : nil
        case .bmp: return BMPHeader(b).map { ($0.width, $0.height) }
        case .tga: return (b.le16(12), b.le16(14))
        case .jpeg: return nil
        }
    }
}

/// Structural checks run before stb_image sees the bytes (found by fuzzing; see Fuzz/README.md).
enum StructureCheck {
    static func validate(_ b: UnsafeBufferPointer<UInt8>, format: ImageFormat) throws {
        switch format {
        case .png: try png(b)
        case .jpeg: try jpeg(b)
        case .tga: try tga(b)
        case .bmp: try bmp(b)
        case .gif: try gif(b)
        }
    }

    /// A TGA must hold all the pixels its header declares: stb reads past the end as zeros, a partial image
    /// (and for uncompressed files, before its buffers were zero-filled, uninitialised memory: CVE-2023-45663).
    static func tga(_ b: UnsafeBufferPointer<UInt8>) throws {
        let type = Int(b[2])
        let idLength = Int(b[0])
        let mapLength = b[1] == 1 ? b.le16(5) * ((Int(b[7]) + 7) / 8) : 0
        let w = b.le16(12), h = b.le16(14)
        let pixelBytes = (Int(b[16]) + 7) / 8
        let start = 18 + idLength + mapLength
        if [1, 2, 3].contains(type) {
            let need = start + w * h * pixelBytes
            guard b.count >= need else {
                throw ImageError.corrupt(reason: "TGA pixel data is truncated: \(b.count) bytes, the header needs \(need)")
            }
        } else if [9, 10, 11].contains(type) {
            // Run-length packets: a header byte (top bit: run, low 7 bits: count − 1), then one pixel for a
            // run or `count` pixels for a raw packet, until w·h pixels are covered.
            var i = start, covered = 0
            while covered < w * h {
                guard i < b.count else {
                    throw ImageError.corrupt(reason: "TGA run-length data is truncated: \(covered) of \(w * h) pixels present")
                }
                let count = Int(b[i] & 0x7F) + 1
                i += 1 + (b[i] & 0x80 != 0 ? 1 : count) * pixelBytes
                guard i <= b.count else {
                    throw ImageError.corrupt(reason: "TGA run-length data is truncated: \(covered) of \(w * h) pixels present")
                }
                covered += count
            }
        }
    }

    /// An uncompressed BMP must hold every row its header declares (the last one without its padding): stb reads
    /// past the end as zeros, a partial image.
    static func bmp(_ b: UnsafeBufferPointer<UInt8>) throws {
        // Other header sizes, RLE and odd depths: stb refuses them itself.
        guard let hdr = BMPHeader(b), hdr.headerSize == 12 || hdr.headerSize >= 40,
              hdr.compression == 0 || hdr.compression == 3, [1, 4, 8, 16, 24, 32].contains(hdr.bitsPerPixel),
              hdr.width > 0, hdr.height > 0 else { return }
        let bits = hdr.width * hdr.bitsPerPixel
        let rowBytes = (bits + 7) / 8, stride = (bits + 31) / 32 * 4
        let (rows, overflow) = stride.multipliedReportingOverflow(by: hdr.height - 1)
        let need = overflow ? Int.max : hdr.pixelOffset + rows + rowBytes
        guard b.count >= need else {
            throw ImageError.corrupt(reason: "BMP pixel data is truncated: \(b.count) bytes, the header needs \(need)")
        }
    }

    /// A GIF's first image (the frame that is decoded) must be complete: stb decodes a cut-off frame as if the
    /// missing pixels were never drawn, a partial image. Walks the block structure up to the end of that frame.
    static func gif(_ b: UnsafeBufferPointer<UInt8>) throws {
        func truncated() -> ImageError { .corrupt(reason: "GIF data is truncated before the end of the first image") }
        /// Skips data sub-blocks (length byte, data) up to and including the zero-length terminator.
        func skipSubBlocks(_ i: inout Int) throws {
            while true {
                guard i < b.count else { throw truncated() }
                let len = Int(b[i])
                i += 1 + len
                if len == 0 { return }
            }
        }
        guard b.count >= 13 else { throw truncated() }
        var i = 13
        if b[10] & 0x80 != 0 { i += 3 << ((Int(b[10]) & 7) + 1) }   // global colour table
        while true {
            guard i < b.count else { throw truncated() }
            switch b[i] {
            case 0x21:   // extension: label, then sub-blocks
                i += 2
                try skipSubBlocks(&i)
            case 0x2C:   // image descriptor, optional local colour table, LZW code size, image data
                guard i + 10 <= b.count else { throw truncated() }
                let flags = b[i + 9]
                i += 10
                if flags & 0x80 != 0 { i += 3 << ((Int(flags) & 7) + 1) }
                i += 1
                try skipSubBlocks(&i)
                return
            default:
                return   // trailer or garbage: stb reports it
            }
        }
    }

    /// Every PNG chunk must fit in the file: stb grows its IDAT buffer by the declared length before reading, so
    /// a 2 GiB length in a 200-byte file means a 2 GiB allocation.
    static func png(_ b: UnsafeBufferPointer<UInt8>) throws {
        var i = 8
        while i + 8 <= b.count {
            let len = Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3])
            let type = String(decoding: b[(i + 4)..<(i + 8)], as: UTF8.self)
            guard len <= b.count - i - 8 else {
                throw ImageError.corrupt(reason: "PNG chunk \(type.debugDescription) at byte \(i) declares \(len) bytes but only \(b.count - i - 8) remain")
            }
            if type == "IEND" { return }
            i += 12 + len
        }
    }

    /// Every JPEG scan must use Huffman tables that were defined before it: stb_image decodes with an undefined
    /// (zeroed) table otherwise and reads out of bounds.
    static func jpeg(_ b: UnsafeBufferPointer<UInt8>) throws {
        var dc = Set<Int>(), ac = Set<Int>(), quant = Set<Int>(), pendingQuant = Set<Int>()
        var progressive = false
        var i = 2
        while i + 4 <= b.count {
            guard b[i] == 0xFF else { i += 1; continue }   // stb skips stray bytes looking for the next marker too
            let marker = b[i + 1]
            if marker == 0xFF { i += 1; continue }
            if marker == 0xD8 || marker == 0x01 || (0xD0...0xD7).contains(marker) { i += 2; continue }
            if marker == 0xD9 { return }
            let len = Int(b[i + 2]) << 8 | Int(b[i + 3])
            let end = i + 2 + len
            guard len >= 2, end <= b.count else {
                throw ImageError.corrupt(reason: "JPEG segment 0xFF\(String(marker, radix: 16, uppercase: true)) at byte \(i) runs past the end of the data")
            }
            switch marker {
            case 0xDB:   // DQT: one or more tables
                var p = i + 4
                while p < end {
                    let precision = Int(b[p] >> 4), id = Int(b[p] & 15)
                    let size = 1 + 64 * (precision == 0 ? 1 : 2)
                    guard precision <= 1, id <= 3, p + size <= end else { throw ImageError.corrupt(reason: "bad JPEG quantisation table at byte \(p)") }
                    quant.insert(id)
                    p += size
                }
            case 0xC0...0xC3, 0xC5...0xC7, 0xC9...0xCB, 0xCD...0xCF:   // SOF: components' quantisation tables
                // stb_image (like most decoders outside libjpeg) does Huffman baseline and progressive only.
                if (0xC9...0xCF).contains(marker) {
                    throw ImageError.unsupportedFormat("arithmetic-coded JPEG (SOF 0x\(String(marker, radix: 16, uppercase: true)))")
                }
                if [0xC3, 0xC5, 0xC6, 0xC7].contains(marker) {
                    throw ImageError.unsupportedFormat("lossless or hierarchical JPEG (SOF 0x\(String(marker, radix: 16, uppercase: true)))")
                }
                if marker == 0xC2 { progressive = true }
                guard len >= 8 else { throw ImageError.corrupt(reason: "bad JPEG frame header at byte \(i)") }
                let nc = Int(b[i + 9])
                guard len >= 8 + 3 * nc else { throw ImageError.corrupt(reason: "bad JPEG frame header at byte \(i)") }
                for k in 0..<nc where !quant.contains(Int(b[i + 12 + 3 * k])) {
                    // stb reads the tables at the end of the frame; a table defined later is also fine for it,
                    // but one that is never defined leaves its dequantisation state uninitialised.
                    pendingQuant.insert(Int(b[i + 12 + 3 * k]))
                }
            case 0xC4:   // DHT: one or more tables
                var p = i + 4
                while p < end {
                    let tc = Int(b[p] >> 4), th = Int(b[p] & 15)
                    guard p + 17 <= end, tc <= 1, th <= 3 else { throw ImageError.corrupt(reason: "bad JPEG Huffman table header at byte \(p)") }
                    var n = 0
                    for k in 1...16 { n += Int(b[p + k]) }
                    guard n <= 256, p + 17 + n <= end else { throw ImageError.corrupt(reason: "bad JPEG Huffman table length at byte \(p)") }
                    if tc == 0 { dc.insert(th) } else { ac.insert(th) }
                    p += 17 + n
                }
            case 0xDA:   // SOS: check the tables each component uses, then skip the entropy-coded data
                if let missing = pendingQuant.subtracting(quant).first {
                    throw ImageError.corrupt(reason: "JPEG uses quantisation table \(missing) but never defines it")
                }
                guard len >= 3 else { throw ImageError.corrupt(reason: "bad JPEG scan header at byte \(i)") }
                let ns = Int(b[i + 4])
                guard len >= 6 + 2 * ns else { throw ImageError.corrupt(reason: "bad JPEG scan header at byte \(i)") }
                let ss = Int(b[i + 5 + 2 * ns]), ah = Int(b[i + 7 + 2 * ns] >> 4)
                for k in 0..<ns {
                    let tables = b[i + 6 + 2 * k]
                    let td = Int(tables >> 4), ta = Int(tables & 15)
                    let needsDC = progressive ? (ss == 0 && ah == 0) : true
                    let needsAC = progressive ? ss > 0 : true
                    if (needsDC && !dc.contains(td)) || (needsAC && !ac.contains(ta)) {
                        throw ImageError.corrupt(reason: "JPEG scan at byte \(i) uses an undefined Huffman table")
                    }
                }
                var j = end
                while j + 1 < b.count && !(b[j] == 0xFF && b[j + 1] != 0 && !(0xD0...0xD7).contains(b[j + 1])) { j += 1 }
                i = j
                continue
            default: break
            }
            i = end
        }
    }
}

/// PNG chunk inspection for the cases where PIL's behaviour depends on chunk contents.
enum PNGChunks {
    /// Calls `body(type, dataRange)` for each chunk until it returns false or IEND; bounds-checked.
    static func forEach(_ b: UnsafeBufferPointer<UInt8>, _ body: (String, Range<Int>) -> Bool) {
        var i = 8
        while i + 12 <= b.count {
            let len = Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3])
            guard len <= b.count - i - 12 else { return }
            let type = String(decoding: b[(i + 4)..<(i + 8)], as: UTF8.self)
            if !body(type, (i + 8)..<(i + 8 + len)) || type == "IEND" { return }
            i += 12 + len
        }
    }

    /// A palette image (colour type 3) whose tRNS is `^\xff*\x00\xff*$`: Pillow's "simple palette" case.
    static func hasSimplePaletteTransparency(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard b.count > 25, b[25] == 3 else { return false }   // IHDR colour type
        var simple = false
        forEach(b) { type, range in
            guard type == "tRNS" else { return type != "IDAT" }
            let alpha = Array(b[range])
            simple = alpha.filter { $0 == 0 }.count == 1 && alpha.allSatisfy { $0 == 0 || $0 == 255 }
            return false
        }
        return simple
    }
}

/// Completes short palettes so that every possible pixel index has a colour, as Pillow's 256-entry palettes do
/// (entries past the stored ones are opaque black). stb_image keeps PNG and BMP palettes in uninitialised stack
/// arrays and reads whatever they hold for an index past the palette (Tests/Fixtures/fuzz-crashers/uninit-*).
enum PaletteCompletion {
    /// A copy of `b` with the palette padded, or nil when nothing needs padding.
    static func completed(_ b: UnsafeBufferPointer<UInt8>, format: ImageFormat) -> [UInt8]? {
        switch format {
        case .png: return b.count > 25 ? png(b) : nil
        case .bmp: return bmp(b)
        case .jpeg, .gif, .tga: return nil   // GIF's palette state is zeroed; TGA checks its indices
        }
    }

    /// Colour-type-3 PNG: PLTE grows to 256 entries (stb does not check CRCs, but the new one is correct).
    static func png(_ b: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard b[25] == 3 else { return nil }   // IHDR colour type: palette
        var plte: Range<Int>?
        PNGChunks.forEach(b) { type, range in
            if type == "PLTE" { plte = range; return false }
            return type != "IDAT"
        }
        guard let range = plte, range.count % 3 == 0, range.count > 0, range.count < 768 else { return nil }
        var data = Array(b[range])
        data += [UInt8](repeating: 0, count: 768 - range.count)
        var out = Array(b[..<(range.lowerBound - 8)])
        out += [0, 0, 3, 0] + Array("PLTE".utf8) + data
        let crc = CRC32.checksum(Array("PLTE".utf8) + data)
        out += [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)]
        out += b[(range.upperBound + 4)...]   // after the old chunk's CRC
        return out
    }

    /// 1/4/8-bit BMP: zero entries are inserted after the ones stb reads, and the pixel-data offset moves by as
    /// much, so stb's palette size (which it derives from that offset) becomes 2^bpp.
    static func bmp(_ b: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard let hdr = BMPHeader(b) else { return nil }
        let offset = hdr.pixelOffset, hsz = hdr.headerSize
        guard [1, 4, 8].contains(hdr.bitsPerPixel), hsz >= 12, hsz <= 1024 else { return nil }
        let entry = hsz == 12 ? 3 : 4
        // stb_image's palette size: (offset − 38) / 3 for OS/2 headers, (offset − 14 − hsz) / 4 otherwise.
        let avail = hsz == 12 ? offset - 38 : offset - 14 - hsz
        guard avail > 0 else { return nil }
        let stored = avail / entry
        let needed = 1 << hdr.bitsPerPixel
        let insertAt = 14 + hsz + stored * entry
        guard stored < needed, insertAt <= b.count else { return nil }
        let extra = (needed - stored) * entry
        var out = Array(b[..<insertAt]) + [UInt8](repeating: 0, count: extra) + Array(b[insertAt...])
        let newOffset = UInt32(truncatingIfNeeded: offset + extra)
        for k in 0..<4 { out[10 + k] = UInt8(truncatingIfNeeded: newOffset >> (8 * UInt32(k))) }
        return out
    }
}

/// CRC-32 (ISO-HDLC, as PNG uses it), bitwise.
enum CRC32 {
    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            c ^= UInt32(byte)
            for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return ~c
    }
}

/// Minimal EXIF reader: the orientation tag (0x0112) of IFD0 in a JPEG's APP1 segment.
enum EXIF {
    /// The orientation (1…8), or 1 when absent, malformed or not a JPEG. Every read is bounds-checked.
    static func orientation(jpeg b: UnsafeBufferPointer<UInt8>) -> Int {
        guard b.count > 4, b[0] == 0xFF, b[1] == 0xD8 else { return 1 }
        var i = 2
        while i + 4 <= b.count {
            guard b[i] == 0xFF else { return 1 }
            let marker = b[i + 1]
            if marker == 0xFF { i += 1; continue }                       // fill byte
            if marker == 0xD8 || (0xD0...0xD7).contains(marker) || marker == 0x01 { i += 2; continue }
            if marker == 0xDA || marker == 0xD9 { return 1 }             // image data starts: no EXIF before it
            let len = Int(b[i + 2]) << 8 | Int(b[i + 3])
            guard len >= 2, i + 2 + len <= b.count else { return 1 }
            if marker == 0xE1, len >= 8 {
                let s = i + 4
                if b[s] == 0x45, b[s + 1] == 0x78, b[s + 2] == 0x69, b[s + 3] == 0x66, b[s + 4] == 0, b[s + 5] == 0,
                   let o = tiffOrientation(b, start: s + 6, end: i + 2 + len) {
                    return o
                }
            }
            i += 2 + len
        }
        return 1
    }

    /// The orientation from a PNG `eXIf` chunk, or 1. Every read is bounds-checked.
    static func orientation(png b: UnsafeBufferPointer<UInt8>) -> Int {
        var result = 1
        PNGChunks.forEach(b) { type, range in
            guard type == "eXIf" else { return true }
            result = tiffOrientation(b, start: range.lowerBound, end: range.upperBound) ?? 1
            return false
        }
        return result
    }

    private static func tiffOrientation(_ b: UnsafeBufferPointer<UInt8>, start: Int, end: Int) -> Int? {
        guard end - start >= 8 else { return nil }
        let little: Bool
        if b[start] == 0x49 && b[start + 1] == 0x49 { little = true }
        else if b[start] == 0x4D && b[start + 1] == 0x4D { little = false }
        else { return nil }
        func u16(_ o: Int) -> Int? {
            guard o >= start, o + 2 <= end else { return nil }
            return little ? Int(b[o]) | Int(b[o + 1]) << 8 : Int(b[o]) << 8 | Int(b[o + 1])
        }
        func u32(_ o: Int) -> Int? {
            guard let a = u16(o), let c = u16(o + 2) else { return nil }
            return little ? a | c << 16 : a << 16 | c
        }
        guard u16(start + 2) == 42, let ifd = u32(start + 4), ifd < end - start else { return nil }
        let ifdStart = start + ifd
        guard let n = u16(ifdStart) else { return nil }
        for e in 0..<n {
            let entry = ifdStart + 2 + e * 12
            guard let tag = u16(entry) else { return nil }
            if tag == 0x0112 {
                guard let type = u16(entry + 2), type == 3, let v = u16(entry + 8) else { return nil }
                return (1...8).contains(v) ? v : nil
            }
        }
        return nil
    }
}
