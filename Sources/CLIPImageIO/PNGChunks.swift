// PNG chunk walking, for the cases where Pillow's output depends on chunk contents.

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
