// Writes a safetensors file atomically (a temporary file renamed into place), its data area 64-byte aligned.
// (key, dtype, shape, bytes)… + string metadata -> <path>.

#if canImport(Glibc)
import Glibc
#endif

/// A file that could not be written (the same type as a read failure: the path and the reason).
public typealias FileWriteError = FileError

/// One tensor to write: its bytes must hold `shape`'s element count of `dtype`.
package struct SafeTensorsEntry {
    package var key: String
    package var dtype: SafeTensorsDType
    package var shape: [Int]
    package var bytes: UnsafeRawBufferPointer

    package init(key: String, dtype: SafeTensorsDType, shape: [Int], bytes: UnsafeRawBufferPointer) {
        self.key = key; self.dtype = dtype; self.shape = shape; self.bytes = bytes
    }

    /// An F32 tensor.
    package init(key: String, shape: [Int], floats: UnsafeBufferPointer<Float>) {
        self.init(key: key, dtype: .f32, shape: shape, bytes: UnsafeRawBufferPointer(floats))
    }
}

/// Writes F32 `tensors` (in order) and `metadata` to `path`; see ``writeSafeTensors(_:metadata:to:)``.
package func writeSafeTensors(
    _ tensors: [(key: String, shape: [Int], data: UnsafeBufferPointer<Float>)], metadata: [String: String], to path: String
) throws {
    try writeSafeTensors(tensors.map { SafeTensorsEntry(key: $0.key, shape: $0.shape, floats: $0.data) }, metadata: metadata,
                         to: path)
}

/// Writes `tensors` (in order) and `metadata` to `path`: the header is padded so the data area starts 64-byte aligned,
/// the bytes go to a temporary file in the same directory, then a rename replaces `path` in one step, so a reader sees
/// either the old file or the complete new one.
package func writeSafeTensors(_ tensors: [SafeTensorsEntry], metadata: [String: String], to path: String) throws {
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
        let bytes = t.bytes.count
        guard bytes == t.shape.reduce(1, *) * t.dtype.byteSize else {
            throw FileWriteError(path: path, reason: "tensor \(t.key): \(bytes) bytes do not hold shape \(t.shape) of \(t.dtype.rawValue)")
        }
        header += (i == 0 && metadata.isEmpty ? "" : ",") + quoted(t.key) + ":{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":["
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
    for t in tensors {
        if let base = t.bytes.baseAddress, t.bytes.count > 0 { try write(base, t.bytes.count) }
    }
    guard rename(temporary, path) == 0 else {
        throw FileWriteError(path: path, reason: "cannot rename into place (\(String(cString: strerror(errno))))")
    }
    ok = true
}

import Foundation
