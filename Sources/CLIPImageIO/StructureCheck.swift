// Structural checks run before stb_image sees the bytes: truncation, impossible sizes, undefined tables.

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
