// Little- and big-endian integer fields of a byte buffer (callers check the bounds).

extension UnsafeBufferPointer where Element == UInt8 {
    /// Little-endian 16 / 32-bit and big-endian 32-bit unsigned fields at byte `o` (callers check the bounds).
    func le16(_ o: Int) -> Int { Int(self[o]) | Int(self[o + 1]) << 8 }
    func le32(_ o: Int) -> Int { le16(o) | le16(o + 2) << 16 }
    func be32(_ o: Int) -> Int { Int(self[o]) << 24 | Int(self[o + 1]) << 16 | Int(self[o + 2]) << 8 | Int(self[o + 3]) }
}
