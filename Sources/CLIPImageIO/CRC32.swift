// CRC-32 (ISO-HDLC), as PNG chunks use it.

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
