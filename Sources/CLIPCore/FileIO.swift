// Bounded whole-file reads with typed errors (config files, images, token lists).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import Tensor

/// A file that could not be read: the path and the reason.
public typealias FileReadError = FileError

/// Reads a whole regular file, refusing files larger than `limit` bytes before allocating.
public func readFile(_ path: String, limit: Int) throws -> [UInt8] {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else {
        throw FileReadError(path: path, reason: "cannot open (\(String(cString: strerror(errno))))")
    }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw FileReadError(path: path, reason: "cannot stat") }
    guard (st.st_mode & S_IFMT) == S_IFREG else { throw FileReadError(path: path, reason: "not a regular file") }
    let size = Int(st.st_size)
    guard size <= limit else {
        throw FileReadError(path: path, reason: "file is \(size) bytes, over the \(limit)-byte limit")
    }
    var out = [UInt8](repeating: 0, count: size)
    var done = 0
    while done < size {
        let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, size - done) }
        if n < 0 {
            if errno == EINTR { continue }
            throw FileReadError(path: path, reason: "read failed (\(String(cString: strerror(errno))))")
        }
        if n == 0 { break }
        done += n
    }
    return Array(out[0..<done])
}
