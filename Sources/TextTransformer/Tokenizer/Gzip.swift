// gzip decompression through zlib, for the bundled BPE merges file.

import CZlib

/// Errors from ``gunzip(_:limit:)``.
public struct GzipError: Error, Equatable, CustomStringConvertible {
    public let reason: String
    public var description: String { "gzip: \(reason)" }
}

/// Inflates a gzip stream, refusing output larger than `limit` bytes.
///
/// ```swift
/// let text = try gunzip(Array(compressed), limit: 16 << 20)
/// ```
public func gunzip(_ input: [UInt8], limit: Int = 64 << 20) throws -> [UInt8] {
    var stream = z_stream()
    // 16 + MAX_WBITS: expect a gzip header.
    guard inflateInit2_(&stream, 16 + 15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
        throw GzipError(reason: "cannot initialise zlib")
    }
    defer { inflateEnd(&stream) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    var status: Int32 = Z_OK
    try input.withUnsafeBufferPointer { inBuf in
        stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
        stream.avail_in = UInt32(inBuf.count)
        repeat {
            let produced: Int = chunk.withUnsafeMutableBufferPointer { c in
                stream.next_out = c.baseAddress
                stream.avail_out = UInt32(c.count)
                status = inflate(&stream, Z_NO_FLUSH)
                return c.count - Int(stream.avail_out)
            }
            guard status == Z_OK || status == Z_STREAM_END else {
                throw GzipError(reason: "corrupt stream (zlib status \(status))")
            }
            out.append(contentsOf: chunk[0..<produced])
            guard out.count <= limit else { throw GzipError(reason: "output exceeds \(limit) bytes") }
            if produced == 0 && stream.avail_in == 0 && status != Z_STREAM_END {
                throw GzipError(reason: "truncated stream")
            }
        } while status != Z_STREAM_END
    }
    return out
}
