// The one error type for files that cannot be read or written: the path and the reason.

/// A file operation that failed, naming the file (`FileReadError` and `FileWriteError` are this type).
public struct FileError: Error, Equatable, CustomStringConvertible {
    /// The file's path, as given to the operation that failed.
    public let path: String
    /// What went wrong, e.g. `not a regular file`.
    public let reason: String
    /// The message: `<path>: <reason>`.
    public var description: String { "\(path): \(reason)" }

    /// Creates the error for the file at `path`, with a human-readable `reason`.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
}
