// The one error type for files that cannot be read or written: the path and the reason.

/// A file operation that failed, naming the file (`FileReadError` and `FileWriteError` are this type).
public struct FileError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
}
