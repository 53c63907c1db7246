// Short PNG and BMP palettes completed with opaque black, as Pillow shows them.

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
