// Writes a safetensors file of F32 tensors atomically (a temporary file renamed into place), data 64-byte aligned.
// (key, shape, floats)… + string metadata -> <path>.

#if canImport(Glibc)
import Glibc
#endif

/// Errors writing a file.
public struct FileWriteError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}

/// Writes `tensors` (F32, in order) and `metadata` to `path`: the header is padded so the data area starts 64-byte
/// aligned, the bytes go to a temporary file in the same directory, then a rename replaces `path` in one step, so a
/// reader sees either the old file or the complete new one.
package func writeSafeTensors(
    _ tensors: [(key: String, shape: [Int], data: UnsafeBufferPointer<Float>)], metadata: [String: String], to path: String
) throws {
    func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
    var header = "{"
    if !metadata.isEmpty {
        header += "\"__metadata__\":{" + metadata.sorted { $0.key < $1.key }.map { quoted($0.key) + ":" + quoted($0.value) }
            .joined(separator: ",") + "}"
    }
    var offset = 0
    for (i, t) in tensors.enumerated() {
        let bytes = t.data.count * 4
        header += (i == 0 && metadata.isEmpty ? "" : ",") + quoted(t.key) + ":{\"dtype\":\"F32\",\"shape\":["
            + t.shape.map(String.init).joined(separator: ",") + "],\"data_offsets\":[\(offset),\(offset + bytes)]}"
        offset += bytes
    }
    header += "}"
    while (8 + header.utf8.count) % 64 != 0 { header += " " }

    let temporary = path + ".tmp-\(getpid())"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw FileWriteError(path: temporary, reason: "cannot create (\(String(cString: strerror(errno))))") }
    var ok = false
    defer {
        close(fd)
        if !ok { unlink(temporary) }
    }
    func write(_ p: UnsafeRawPointer, _ n: Int) throws {
        var done = 0
        while done < n {
            let w = Glibc.write(fd, p + done, n - done)
            if w < 0 {
                if errno == EINTR { continue }
                throw FileWriteError(path: temporary, reason: "write failed (\(String(cString: strerror(errno))))")
            }
            done += w
        }
    }
    var length = UInt64(header.utf8.count).littleEndian
    try write(&length, 8)
    try Array(header.utf8).withUnsafeBytes { try write($0.baseAddress!, $0.count) }
    for t in tensors where t.data.count > 0 {
        try write(UnsafeRawPointer(t.data.baseAddress!), t.data.count * 4)
    }
    guard rename(temporary, path) == 0 else {
        throw FileWriteError(path: path, reason: "cannot rename into place (\(String(cString: strerror(errno))))")
    }
    ok = true
}

import Foundation
