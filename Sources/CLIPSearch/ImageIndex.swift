// Image search over a SQLite index: open, query by text, image or vector, filter by path, export.

import CLIPZeroShot
import Foundation
import Synchronization
import Tensor

/// A search index of image embeddings in one SQLite file, queried by text, image or vector.
///
/// Opening reads every vector once into memory; a query is one SIMD scan. When another process (an indexer)
/// commits, the next query reloads, so a long-running reader sees new images without a restart.
/// ```swift
/// let clip = try CLIP(directory: "Weights/clip-vit-base-patch32")
/// let index = try ImageIndex(path: ".clip-index.db")
/// for hit in try index.search(text: "a dog on a beach", with: clip, top: 5) { print(hit.score, hit.path) }
/// ```
public final class ImageIndex: Sendable {
    /// The default index file, in the current directory (`clip search index` and `query` agree on it).
    public static let defaultPath = ".clip-index.db"

    /// One result.
    public struct Hit: Sendable, Equatable, Codable {
        /// The image's path: relative to the current directory when below it, else absolute.
        public let path: String
        /// Cosine similarity to the query.
        public let score: Float
    }

    /// Which images a query may return.
    public enum Filter: Sendable, Equatable {
        /// Paths (as stored: relative to the index's folder) starting with this prefix.
        case prefix(String)
        /// Paths matching a glob (`*`, `?`, `[…]`; SQLite GLOB, case-sensitive).
        case glob(String)
    }

    /// The index file.
    public let path: String
    /// The folder stored paths are relative to (the real index file's folder).
    public let folder: String
    private let state: Mutex<State>
    private let compute: Compute

    private struct State: ~Copyable {
        var store: IndexStore
        var table: VectorTable
        var version: Int64
    }

    /// Opens an existing index for queries.
    ///
    /// - Throws: ``SearchIndexError`` (`notFound`, `notAnIndex`, `oldJSONIndex`, …) naming the file.
    public init(path: String, compute: Compute? = nil) throws {
        self.path = path
        folder = ImageIndex.folder(of: path)
        let store = try IndexStore(path: path, create: false, readOnly: true)
        let table = try VectorTable.load(store)
        let version = try store.dataVersion()
        self.compute = try compute ?? Compute()
        state = Mutex(State(store: store, table: table, version: version))
    }

    /// The number of indexed images (as of the last query or open).
    public var count: Int { state.withLock { $0.table.count } }

    /// The embedding length, 0 for an empty index.
    public var dimension: Int { state.withLock { $0.table.dimension } }

    /// The fingerprint of the model that built the index.
    public var modelFingerprint: String { get throws { try state.withLock { try $0.store.fingerprint } } }

    /// The best matches for a text query.
    public func search(text: String, with clip: CLIP, top: Int = 10, filter: Filter? = nil) throws -> [Hit] {
        try checkModel(clip)
        return try search(vector: Array(clip.textEmbeddings([text])[0]), top: top, filter: filter)
    }

    /// The best matches for an image query.
    public func search(image: CLIPImage, with clip: CLIP, top: Int = 10, filter: Filter? = nil) throws -> [Hit] {
        try checkModel(clip)
        return try search(vector: Array(clip.imageEmbeddings([image])[0]), top: top, filter: filter)
    }

    /// Throws ``SearchIndexError/modelMismatch(path:)`` unless `clip` built this index.
    public func checkModel(_ clip: CLIP) throws {
        let f = try modelFingerprint
        if !f.isEmpty && f != clip.fingerprint { throw SearchIndexError.modelMismatch(path: path) }
    }

    /// The best matches for a query vector (normalised here), score descending, ties in index order.
    ///
    /// ```swift
    /// let hits = try index.search(vector: queryEmbedding, top: 10, filter: .prefix("holidays/"))
    /// ```
    public func search(vector: [Float], top: Int = 10, filter: Filter? = nil) throws -> [Hit] {
        guard top >= 1 else { throw SearchIndexError.invalidQuery(reason: "top must be at least 1") }
        guard vector.allSatisfy(\.isFinite) else { throw SearchIndexError.invalidQuery(reason: "non-finite values") }
        var q = vector
        let norm = q.reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard norm > 0 else { throw SearchIndexError.invalidQuery(reason: "a zero vector") }
        for i in q.indices { q[i] /= norm }
        return try state.withLock { s in
            try refresh(&s)
            guard s.table.count > 0 else { return [] }
            guard q.count == s.table.dimension else {
                throw SearchIndexError.invalidQuery(reason: "\(q.count) values, the index holds \(s.table.dimension)")
            }
            let allowed = try filter.map { try rows(matching: $0, s) }
            let best = s.table.top(top, query: q, allowed: allowed, compute: compute)
            let lookup = try s.store.db.prepare("SELECT path FROM images WHERE id = ?")
            return try best.map { b in
                lookup.bind(1, s.table.ids[b.row])
                defer { lookup.reset() }
                guard try lookup.step() else {
                    throw SearchIndexError.notAnIndex(path: path, reason: "row \(s.table.ids[b.row]) vanished during the query")
                }
                return Hit(path: display(lookup.text(0)), score: b.score)
            }
        }
    }

    /// Reloads the vectors when another connection has committed since the last load.
    private func refresh(_ s: inout State) throws {
        let v = try s.store.dataVersion()
        guard v != s.version else { return }
        s.table = try VectorTable.load(s.store)
        s.version = v
    }

    private func rows(matching filter: Filter, _ s: borrowing State) throws -> Set<Int> {
        let stmt: Statement
        switch filter {
        case .prefix(let p):
            stmt = try s.store.db.prepare("SELECT id FROM images WHERE substr(path, 1, ?) = ?")
            stmt.bind(1, Int64(p.unicodeScalars.count))   // SQLite's substr counts characters of TEXT
            stmt.bind(2, p)
        case .glob(let g):
            stmt = try s.store.db.prepare("SELECT id FROM images WHERE path GLOB ?")
            stmt.bind(1, g)
        }
        var out = Set<Int>()
        while try stmt.step() { if let r = s.table.row(of: stmt.int(0)) { out.insert(r) } }
        return out
    }

    /// Calls `body` with every image's stored path, display path and vector, in index order.
    ///
    /// ```swift
    /// try index.forEachEntry { stored, path, vector in print(path, vector.count) }
    /// ```
    public func forEachEntry(_ body: (_ stored: String, _ path: String, _ vector: [Float]) throws -> Void) throws {
        try state.withLock { s in
            try refresh(&s)
            let stmt = try s.store.db.prepare("SELECT id, path FROM images ORDER BY id")
            while try stmt.step() {
                guard let r = s.table.row(of: stmt.int(0)) else { continue }
                let stored = stmt.text(1)
                try body(stored, display(stored), s.table.vector(r))
            }
        }
    }

    /// A stored path as the user should see it.
    func display(_ stored: String) -> String {
        ImageIndex.display(stored, folder: folder)
    }

    static func display(_ stored: String, folder: String) -> String {
        let absolute = stored.hasPrefix("/") ? stored : (folder == "/" ? "/" : folder + "/") + stored
        let cwd = FileManager.default.currentDirectoryPath
        let prefix = cwd.hasSuffix("/") ? cwd : cwd + "/"
        return absolute.hasPrefix(prefix) ? String(absolute.dropFirst(prefix.count)) : absolute
    }

    /// The absolute folder of the index file, symlinks resolved (so an index reached through a link stores the
    /// same paths as through its real name).
    static func folder(of path: String) -> String {
        let url = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true))
        return url.standardizedFileURL.resolvingSymlinksInPath().deletingLastPathComponent().path
    }
}
