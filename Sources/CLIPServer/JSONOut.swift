// A small append-only JSON writer for responses (floats as their shortest round-trip decimal).

import Foundation

struct JSONOut {
    var bytes: [UInt8] = []

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }

    mutating func string(_ s: String) {
        bytes.append(0x22)
        for u in s.utf8 {
            switch u {
            case 0x22: bytes.append(contentsOf: [0x5C, 0x22])
            case 0x5C: bytes.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: bytes.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: bytes.append(contentsOf: [0x5C, 0x72])
            case 0x09: bytes.append(contentsOf: [0x5C, 0x74])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(u >> 4)], hex[Int(u & 15)]])
            default: bytes.append(u)
            }
        }
        bytes.append(0x22)
    }

    mutating func key(_ k: String) {
        string(k)
        bytes.append(0x3A)
    }

    /// A float as the shortest decimal that reads back to the same float32 (null if not finite).
    mutating func float(_ f: Float) {
        if f.isFinite { raw(f.description) } else { raw("null") }
    }

    mutating func int(_ i: Int) { raw(String(i)) }

    mutating func floatArray(_ a: [Float]) {
        bytes.append(0x5B)
        for (i, f) in a.enumerated() {
            if i > 0 { bytes.append(0x2C) }
            float(f)
        }
        bytes.append(0x5D)
    }

    /// Optional string: `null` when nil.
    mutating func stringOrNull(_ s: String?) {
        if let s { string(s) } else { raw("null") }
    }
}

/// Little-endian float32 bytes, base64-encoded (OpenAI's `encoding_format: "base64"`).
func base64Floats(_ a: [Float]) -> String {
    var data = Data(capacity: a.count * 4)
    for f in a {
        let le = f.bitPattern.littleEndian
        withUnsafeBytes(of: le) { data.append(contentsOf: $0) }
    }
    return data.base64EncodedString()
}
