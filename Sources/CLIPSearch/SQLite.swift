// A minimal SQLite connection over the C API: open, prepared statements, transactions, typed errors naming the file.

import CSQLite
import Foundation

/// `SQLITE_TRANSIENT`: SQLite copies bound text and blobs (the C macro is not visible to Swift).
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One SQLite connection, used from one thread at a time (the owner serialises access).
final class Database {
    let path: String
    private let handle: OpaquePointer

    /// Opens `path`; `create` makes a new file when there is none.
    init(path: String, readOnly: Bool, create: Bool) throws {
        self.path = path
        var db: OpaquePointer?
        var flags = readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE
        if create && !readOnly { flags |= SQLITE_OPEN_CREATE }
        flags |= SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            if let db { sqlite3_close_v2(db) }
            throw SearchIndexError.cannotOpen(path: path, reason: message)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, 5000)
    }

    deinit { sqlite3_close_v2(handle) }

    func error(_ rc: Int32, _ what: String) -> SearchIndexError {
        let message = String(cString: sqlite3_errmsg(handle))
        switch rc & 0xff {
        case SQLITE_NOTADB: return .notAnIndex(path: path, reason: "not a SQLite database")
        case SQLITE_CORRUPT: return .notAnIndex(path: path, reason: "the database is damaged (\(message))")
        case SQLITE_BUSY, SQLITE_LOCKED: return .busy(path: path)
        default: return .sqlite(path: path, operation: what, message: message)
        }
    }

    func execute(_ sql: String) throws {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc, sql) }
    }

    func prepare(_ sql: String) throws -> Statement {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc, sql) }
        return Statement(db: self, handle: stmt, sql: sql)
    }

    /// Runs `body` in one write transaction (`BEGIN IMMEDIATE`), rolled back if it throws.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// An integer-valued pragma (`data_version`, `application_id`, …).
    func pragma(_ name: String) throws -> Int64 {
        let s = try prepare("PRAGMA \(name)")
        return try s.step() ? s.int(0) : 0
    }
}

/// A prepared statement; bind parameters are 1-based, columns 0-based, as in the C API.
final class Statement {
    private unowned let db: Database
    private let handle: OpaquePointer
    private let sql: String

    init(db: Database, handle: OpaquePointer, sql: String) {
        self.db = db
        self.handle = handle
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    func bind(_ i: Int32, _ v: Int64) { sqlite3_bind_int64(handle, i, v) }
    func bind(_ i: Int32, _ v: Double) { sqlite3_bind_double(handle, i, v) }
    func bind(_ i: Int32, _ v: String) { sqlite3_bind_text(handle, i, v, -1, transient) }
    func bind(_ i: Int32, blob: UnsafeRawBufferPointer) {
        sqlite3_bind_blob(handle, i, blob.baseAddress, Int32(blob.count), transient)
    }

    /// Advances; true while a row is available.
    func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw db.error(rc, sql)
    }

    /// Runs to completion and resets for the next use.
    func run() throws {
        defer { reset() }
        while try step() {}
    }

    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    func int(_ c: Int32) -> Int64 { sqlite3_column_int64(handle, c) }
    func double(_ c: Int32) -> Double { sqlite3_column_double(handle, c) }
    func text(_ c: Int32) -> String {
        guard let p = sqlite3_column_text(handle, c) else { return "" }
        return String(cString: p)
    }
    /// The column's bytes, valid until the next step.
    func blob(_ c: Int32) -> UnsafeRawBufferPointer {
        let p = sqlite3_column_blob(handle, c)
        let n = Int(sqlite3_column_bytes(handle, c))
        return UnsafeRawBufferPointer(start: p, count: p == nil ? 0 : n)
    }
}
