// Why a search index could not be opened, read, written or queried.

/// A search-index failure, naming the index file.
public enum SearchIndexError: Error, Equatable, CustomStringConvertible {
    /// No index at this path (queries never create one).
    case notFound(path: String)
    /// SQLite could not open the file.
    case cannotOpen(path: String, reason: String)
    /// The file is not a search index of this package (another SQLite database, another format, or damaged).
    case notAnIndex(path: String, reason: String)
    /// An index from clip 0.2 or earlier (a JSON file).
    case oldJSONIndex(path: String)
    /// The index was written by a newer release.
    case newerSchema(path: String, version: Int)
    /// Another process is updating the index.
    case busy(path: String)
    /// The index was built with other weights.
    case modelMismatch(path: String)
    /// A query vector of the wrong length, or with non-finite values.
    case invalidQuery(reason: String)
    /// A stored vector has the wrong length or non-finite values.
    case invalidVector(path: String, image: String, reason: String)
    /// Any other SQLite error.
    case sqlite(path: String, operation: String, message: String)

    /// A one-line message naming the index file.
    public var description: String {
        switch self {
        case .notFound(let p): return "\(p): no search index here; build one with `clip search index DIR` (or pass --index)"
        case .cannotOpen(let p, let r): return "\(p): cannot open the search index (\(r))"
        case .notAnIndex(let p, let r): return "\(p): not a clip search index (\(r))"
        case .oldJSONIndex(let p):
            return "\(p): a JSON index from clip 0.2 or earlier; delete it and re-index with `clip search index DIR` (indexes are SQLite files now)"
        case .newerSchema(let p, let v): return "\(p): index schema version \(v) is newer than this clip understands (\(IndexStore.schemaVersion))"
        case .busy(let p): return "\(p): the index is being updated by another process (wait for it, or pass --wait)"
        case .modelMismatch(let p): return "\(p): the index was built with different weights; re-run `clip search index` with these weights"
        case .invalidQuery(let r): return "invalid query vector: \(r)"
        case .invalidVector(let p, let i, let r): return "\(p): stored vector of \(i) is invalid (\(r)); re-index that file"
        case .sqlite(let p, let op, let m): return "\(p): SQLite error in \(op): \(m)"
        }
    }
}
