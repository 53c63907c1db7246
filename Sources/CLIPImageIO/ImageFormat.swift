// The accepted formats, recognised from their leading bytes, and the BMP header fields the checks need.

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
