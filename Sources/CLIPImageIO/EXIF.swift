// EXIF orientation from a JPEG's APP1 segment or a PNG's eXIf chunk.

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

    static func tiffOrientation(_ b: UnsafeBufferPointer<UInt8>, start: Int, end: Int) -> Int? {
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
