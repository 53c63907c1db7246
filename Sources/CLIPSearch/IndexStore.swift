// The index file: SQLite schema, metadata, batched writes and the one-indexer-at-a-time lock.

import CSQLite
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The SQLite file behind an ``ImageIndex``.
///
/// Schema 1: `meta(key, value)` holds `format`, `schema_version`, `model_fingerprint`, `dimension` and `dtype`
/// (`f16`); `images(id, path, size, mtime, embedding)` holds one row per image, `path` relative to the index
/// file's folder (absolute when outside it), `embedding` `dimension` little-endian IEEE half floats.
/// WAL journal: readers see the last committed batch while an indexer writes. Paths are unique by construction
/// (one indexer at a time, which reads every path first and updates by id): a UNIQUE index would cost ~35 bytes
/// per image for lookups the indexer does in memory.
package final class IndexStore {
    static let schemaVersion = 1
    /// `PRAGMA application_id`: "CLIP".
    static let applicationID: Int64 = 0x434C_4950

    let path: String
    let db: Database

    /// Opens an existing index (or creates one when `create`), checking that it is one of ours.
    package init(path: String, create: Bool, readOnly: Bool) throws {
        self.path = path
        let exists = FileManager.default.fileExists(atPath: path)
        if !exists && !create { throw SearchIndexError.notFound(path: path) }
        if exists { try IndexStore.checkHeader(path) }
        db = try Database(path: path, readOnly: readOnly && exists, create: create)
        let blank = try !exists || db.pragma("application_id") == 0 && tableCount() == 0
        if blank {
            guard !readOnly else { throw SearchIndexError.notFound(path: path) }
            try initialise()
        }
        try validate()
    }

    /// Refuses old JSON indexes and non-SQLite files before SQLite sees them.
    static func checkHeader(_ path: String) throws {
        guard let h = FileHandle(forReadingAtPath: path) else {
            throw SearchIndexError.cannotOpen(path: path, reason: "cannot read the file")
        }
        defer { try? h.close() }
        let head = [UInt8]((try? h.read(upToCount: 16)) ?? Data())
        if head.isEmpty { return }   // an empty file becomes a new index
        if head.first.map({ $0 == UInt8(ascii: "{") || $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") }) == true {
            throw SearchIndexError.oldJSONIndex(path: path)
        }
        guard head.count == 16, head == Array("SQLite format 3\0".utf8) else {
            throw SearchIndexError.notAnIndex(path: path, reason: "not a SQLite database")
        }
    }

    private func tableCount() throws -> Int64 {
        let s = try db.prepare("SELECT count(*) FROM sqlite_master")
        return try s.step() ? s.int(0) : 0
    }

    private func initialise() throws {
        // 64 KiB pages: rows of ~1.1 KB (a 512-d F16 vector and its path) waste ~2 bytes each instead of ~300 with
        // 4 KiB pages. Must be set before the first table exists (and before WAL).
        try db.execute("PRAGMA page_size=65536")
        try db.execute("PRAGMA journal_mode=WAL")
        try db.transaction {
            try db.execute("PRAGMA application_id=\(IndexStore.applicationID)")
            try db.execute("""
                CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
                CREATE TABLE images(id INTEGER PRIMARY KEY, path TEXT NOT NULL, size INTEGER NOT NULL,
                                    mtime REAL NOT NULL, embedding BLOB NOT NULL);
                INSERT INTO meta VALUES ('format', 'swift-clip-search'), ('schema_version', '\(IndexStore.schemaVersion)'),
                                        ('dtype', 'f16'), ('dimension', '0'), ('model_fingerprint', '');
                """)
        }
    }

    private func validate() throws {
        guard try db.pragma("application_id") == IndexStore.applicationID else {
            throw SearchIndexError.notAnIndex(path: path, reason: "a SQLite database of another application")
        }
        let meta = try self.meta()
        guard meta["format"] == "swift-clip-search", let v = meta["schema_version"].flatMap(Int.init) else {
            throw SearchIndexError.notAnIndex(path: path, reason: "no clip search metadata")
        }
        guard v <= IndexStore.schemaVersion else { throw SearchIndexError.newerSchema(path: path, version: v) }
        guard meta["dtype"] == "f16", let d = meta["dimension"].flatMap(Int.init), d >= 0, d <= 1 << 16 else {
            throw SearchIndexError.notAnIndex(path: path, reason: "bad dtype or dimension in its metadata")
        }
        try db.execute("PRAGMA synchronous=NORMAL")
        // Reads straight from the page cache of the kernel instead of copying pages into SQLite's.
        try db.execute("PRAGMA mmap_size=\(1 << 40)")
    }

    func meta() throws -> [String: String] {
        let s = try db.prepare("SELECT key, value FROM meta")
        var out: [String: String] = [:]
        while try s.step() { out[s.text(0)] = s.text(1) }
        return out
    }

    var dimension: Int { get throws { Int(try meta()["dimension"] ?? "") ?? 0 } }
    var fingerprint: String { get throws { try meta()["model_fingerprint"] ?? "" } }

    /// Sets the model and dimension; a different model empties the index first (its vectors are meaningless).
    /// Returns whether rows were dropped.
    package func setModel(fingerprint: String, dimension: Int) throws -> Bool {
        try db.transaction {
            let m = try meta()
            let changed = m["model_fingerprint"] != fingerprint || m["dimension"] != String(dimension)
            let hadRows = try count() > 0
            if changed {
                try db.execute("DELETE FROM images")
                let s = try db.prepare("INSERT OR REPLACE INTO meta VALUES (?, ?)")
                for (k, v) in [("model_fingerprint", fingerprint), ("dimension", String(dimension))] {
                    s.bind(1, k); s.bind(2, v); try s.run()
                }
            }
            return changed && hadRows
        }
    }

    package func count() throws -> Int {
        let s = try db.prepare("SELECT count(*) FROM images")
        return try s.step() ? Int(s.int(0)) : 0
    }

    /// Every row's path, size and modification time.
    func files() throws -> [String: (id: Int64, size: Int64, mtime: Double)] {
        let s = try db.prepare("SELECT id, path, size, mtime FROM images")
        var out: [String: (Int64, Int64, Double)] = [:]
        while try s.step() { out[s.text(1)] = (s.int(0), s.int(2), s.double(3)) }
        return out
    }

    /// Writes one batch in one transaction: a kill loses at most this batch. A row with `id` replaces that row
    /// (a changed file); without one it is new.
    package func write(_ rows: [(path: String, size: Int64, mtime: Double, vector: [Float])], replacing ids: [Int64?]? = nil) throws {
        try db.transaction {
            let insert = try db.prepare("INSERT INTO images(path, size, mtime, embedding) VALUES (?, ?, ?, ?)")
            let update = try db.prepare("UPDATE images SET path = ?, size = ?, mtime = ?, embedding = ? WHERE id = ?")
            for (i, r) in rows.enumerated() {
                let half = r.vector.map { Float16($0).bitPattern.littleEndian }
                let s = ids?[i] == nil ? insert : update
                s.bind(1, r.path); s.bind(2, r.size); s.bind(3, r.mtime)
                half.withUnsafeBytes { s.bind(4, blob: $0) }
                if let id = ids?[i] { s.bind(5, id) }
                try s.run()
            }
        }
    }

    func delete(ids: [Int64]) throws {
        guard !ids.isEmpty else { return }
        try db.transaction {
            let s = try db.prepare("DELETE FROM images WHERE id = ?")
            for id in ids { s.bind(1, id); try s.run() }
        }
    }

    /// The largest image id (0 when empty): an upper bound on the row count, read from the rowid tree's edge.
    func maxID() throws -> Int {
        let s = try db.prepare("SELECT max(id) FROM images")
        return try s.step() ? Int(s.int(0)) : 0
    }

    /// The stored path of an image id ("#id" when the row is gone).
    func path(of id: Int64) throws -> String {
        let s = try db.prepare("SELECT path FROM images WHERE id = ?")
        s.bind(1, id)
        return try s.step() ? s.text(0) : "#\(id)"
    }

    /// Changes whenever another connection commits (SQLite's `data_version`).
    func dataVersion() throws -> Int64 { try db.pragma("data_version") }
}

/// An exclusive lock on an index for one indexer, held until released or the process ends (a kill releases it).
/// `flock` on a sidecar `INDEX-lock` file: SQLite's own POSIX locks on the database are per process and would
/// be dropped by any other descriptor of the same file being closed.
final class IndexerLock {
    private let fd: Int32

    init(indexPath: String, wait: Bool) throws {
        let lockPath = URL(fileURLWithPath: indexPath).resolvingSymlinksInPath().path + "-lock"
        fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw SearchIndexError.cannotOpen(path: lockPath, reason: String(cString: strerror(errno)))
        }
        if flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0 {
            close(fd)
            throw SearchIndexError.busy(path: indexPath)
        }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
