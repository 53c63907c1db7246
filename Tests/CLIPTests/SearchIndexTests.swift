// The SQLite search index: numpy reference results, incremental updates, concurrent indexers, hostile files.

import CLIPCore
import CLIPImageIO
@testable import CLIPSearch
import CLIPTokenizer
import CLIPZeroShot
import Foundation
import Tensor
import Testing
import TextTransformer
import VisionTransformer

let searchFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/search").path
let tinyModel = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/classify").path

func scratch(_ name: String) throws -> String {
    let d = NSTemporaryDirectory() + "clip-search-\(name)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

/// A 24-bit BMP of a solid colour with a darker square whose position depends on `seed`.
func bmp(seed: Int, width: Int = 32, height: Int = 32) -> Data {
    let rowBytes = (width * 3 + 3) & ~3
    var d = Data()
    func le32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { d.append(contentsOf: $0) } }
    func le16(_ v: Int) { withUnsafeBytes(of: UInt16(v).littleEndian) { d.append(contentsOf: $0) } }
    d.append(contentsOf: [0x42, 0x4D]); le32(54 + rowBytes * height); le32(0); le32(54)
    le32(40); le32(width); le32(height); le16(1); le16(24); le32(0); le32(rowBytes * height); le32(2835); le32(2835); le32(0); le32(0)
    let r = UInt8((seed * 37) % 256), g = UInt8((seed * 91) % 256), b = UInt8((seed * 53) % 256)
    for y in 0..<height {
        var row = [UInt8](repeating: 0, count: rowBytes)
        for x in 0..<width {
            let inSquare = abs(x - seed % 24 - 4) < 5 && abs(y - (seed / 24) % 24 - 4) < 5
            row[x * 3] = inSquare ? b / 3 : b; row[x * 3 + 1] = inSquare ? g / 3 : g; row[x * 3 + 2] = inSquare ? r / 3 : r
        }
        d.append(contentsOf: row)
    }
    return d
}

/// Reads the fixture written by Tools/make_search_fixture.py.
struct SearchFixture: Decodable {
    let dimension: Int
    let paths: [String]
    let halfBits: [[UInt16]]
    var vectors: [[Float]] { halfBits.map { $0.map { Float(Float16(bitPattern: $0)) } } }
    let queries: [[Float]]
    let top: Int
    let expected: [[Int]]
    let scores: [[Float]]
    let prefix: String
    let expectedPrefix: [[Int]]
}

struct SearchIndexTests {
    @Test("results equal numpy's brute force: same order, scores within 1e-5, with and without a path filter")
    func numpyReference() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: searchFixtures + "/reference.json"))
        let f = try JSONDecoder().decode(SearchFixture.self, from: data)
        #expect(f.vectors.count == 300 && f.queries.count >= 10)
        let dir = try scratch("numpy")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/index.db"
        let store = try IndexStore(path: path, create: true, readOnly: false)
        _ = try store.setModel(fingerprint: "synthetic", dimension: f.dimension)
        try store.write(zip(f.paths, f.vectors).map { ($0, 1, 0, $1) })
        let index = try ImageIndex(path: path)
        #expect(index.count == 300)
        for (qi, q) in f.queries.enumerated() {
            let hits = try index.search(vector: q, top: f.top)
            #expect(hits.map(\.path) == f.expected[qi].map { ImageIndex.display(f.paths[$0], folder: dir) })
            let c = compare(hits.map(\.score), f.scores[qi], atol: 1e-5)
            #expect(c.mismatches.isEmpty, "query \(qi): \(c)")
            let filtered = try index.search(vector: q, top: f.top, filter: .prefix(f.prefix))
            #expect(filtered.map(\.path) == f.expectedPrefix[qi].map { ImageIndex.display(f.paths[$0], folder: dir) })
        }
    }

    @Test("index a folder, add, delete, re-index incrementally; text and image queries match a brute-force scan")
    func incremental() throws {
        let clip = try CLIP(directory: tinyModel)
        let dir = try scratch("incremental")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/photos/sub", withIntermediateDirectories: true)
        for i in 0..<40 { try bmp(seed: i).write(to: URL(fileURLWithPath: dir + "/photos" + (i % 2 == 0 ? "/" : "/sub/") + "img\(i).bmp")) }
        try Data("notes".utf8).write(to: URL(fileURLWithPath: dir + "/photos/notes.txt"))
        let path = dir + "/index.db"
        var progress: [Int] = []
        var s = try ImageIndexer(path: path, clip: clip).update(folder: dir + "/photos") { progress.append($0.done) }
        #expect(s.embedded == 40 && s.unchanged == 0 && s.removed == 0 && s.failed.isEmpty)
        #expect(s.skipped.count == 1 && s.skipped[0].hasSuffix("photos/notes.txt"))
        #expect(progress.first == 0 && progress.last == 40)

        for i in 40..<45 { try bmp(seed: i).write(to: URL(fileURLWithPath: dir + "/photos/img\(i).bmp")) }
        for i in [0, 2, 4] { try FileManager.default.removeItem(atPath: dir + "/photos/img\(i).bmp") }
        try Data([0x42, 0x4D, 1, 2, 3]).write(to: URL(fileURLWithPath: dir + "/photos/broken.bmp"))
        s = try ImageIndexer(path: path, clip: clip).update(folder: dir + "/photos")
        #expect(s.embedded == 5 && s.unchanged == 37 && s.removed == 3 && s.failed.count == 1, "\(s)")
        #expect(s.failed.first?.path.hasSuffix("photos/broken.bmp") == true)

        let index = try ImageIndex(path: path)
        #expect(index.count == 42)
        // Brute force over the same files with the library's own embeddings (F32; the index holds F16).
        var files: [String] = []
        try index.forEachEntry { stored, _, _ in files.append(dir + "/" + stored) }
        #expect(files.count == 42 && files.allSatisfy { FileManager.default.fileExists(atPath: $0) })
        let embeds = try clip.imageEmbeddings(files.map { .path($0) })
        for query in ["a red circle", "a blue square"] {
            let q = try clip.textEmbeddings([query])
            let exact = try CLIP.similarity(q, embeds)[0]
            let hits = try index.search(text: query, with: clip, top: 5)
            let order = exact.indices.sorted { exact[$0] > exact[$1] }
            for (h, i) in zip(hits, order) { #expect(abs(h.score - exact[i]) < 2e-3, "\(h) vs \(exact[i])") }
            #expect(hits.first.map { ImageIndex.display(String(files[order[0]].dropFirst(dir.count + 1)), folder: dir) == $0.path } == true)
        }
        let byImage = try index.search(image: .path(dir + "/photos/sub/img17.bmp"), with: clip, top: 1)
        #expect(byImage.first?.path.hasSuffix("photos/sub/img17.bmp") == true)
        #expect(abs((byImage.first?.score ?? 0) - 1) < 2e-3)
    }

    @Test("a reader sees a concurrent indexer's new rows without reopening")
    func readerSeesNewRows() throws {
        let dir = try scratch("reader")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/index.db"
        let store = try IndexStore(path: path, create: true, readOnly: false)
        _ = try store.setModel(fingerprint: "synthetic", dimension: 4)
        try store.write([("a.jpg", 1, 0, [1, 0, 0, 0])])
        let index = try ImageIndex(path: path)
        #expect(try index.search(vector: [0, 1, 0, 0], top: 5).count == 1)
        try store.write([("b.jpg", 1, 0, [0, 1, 0, 0])])
        let hits = try index.search(vector: [0, 1, 0, 0], top: 5)
        #expect(hits.map(\.path).map { URL(fileURLWithPath: $0).lastPathComponent } == ["b.jpg", "a.jpg"])
    }

    @Test("prefix and glob filters on non-ASCII paths")
    func nonASCIIFilters() throws {
        let dir = try scratch("unicode")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/index.db"
        let store = try IndexStore(path: path, create: true, readOnly: false)
        _ = try store.setModel(fingerprint: "synthetic", dimension: 4)
        try store.write([("été/a.jpg", 1, 0, [1, 0, 0, 0]), ("ete/b.jpg", 1, 0, [1, 0, 0, 0]), ("été2/c.jpg", 1, 0, [1, 0, 0, 0])])
        let index = try ImageIndex(path: path)
        let hits = try index.search(vector: [1, 0, 0, 0], top: 10, filter: .prefix("été/"))
        #expect(hits.map { URL(fileURLWithPath: $0.path).lastPathComponent } == ["a.jpg"])
        #expect(try index.search(vector: [1, 0, 0, 0], top: 10, filter: .glob("été*/*.jpg")).count == 2)
    }

    @Test("a second indexer gets a clear busy error and the index stays intact")
    func secondIndexer() throws {
        let clip = try CLIP(directory: tinyModel)
        let dir = try scratch("busy")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/index.db"
        let first = try ImageIndexer(path: path, clip: clip)
        #expect(throws: SearchIndexError.busy(path: path)) { try ImageIndexer(path: path, clip: clip) }
        try bmp(seed: 1).write(to: URL(fileURLWithPath: dir + "/a.bmp"))
        #expect(try first.update(folder: dir).embedded == 1)
        #expect(try ImageIndex(path: path).count == 1)
    }

    @Test("foreign, damaged, truncated and old JSON files are typed errors")
    func hostileFiles() throws {
        let dir = try scratch("hostile")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A real index to damage.
        let good = dir + "/good.db"
        do {
            let store = try IndexStore(path: good, create: true, readOnly: false)
            _ = try store.setModel(fingerprint: "synthetic", dimension: 64)
            var rows: [(path: String, size: Int64, mtime: Double, vector: [Float])] = []
            for i in 0..<3000 { rows.append(("img\(i).jpg", 1, 0, (0..<64).map { Float(($0 * 7 + i) % 13) - 6 })) }
            try store.write(rows)
            try store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        #expect(bytes.count > 4 * 65536)   // several 64 KiB pages
        func write(_ name: String, _ d: Data) throws -> String {
            let p = dir + "/" + name
            try d.write(to: URL(fileURLWithPath: p))
            return p
        }
        let cases: [(String, Data)] = [
            ("old.json", Data("{\"version\":1,\"root\":\"photos\",\"entries\":[]}".utf8)),
            ("random.db", Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) })),
            ("truncated.db", bytes.prefix(bytes.count / 2)),
            ("header-only.db", bytes.prefix(100)),
            ("zeroed-page.db", { var b = bytes; b.replaceSubrange(2 * 65536..<3 * 65536, with: Data(count: 65536)); return b }()),
        ]
        for (name, data) in cases {
            let p = try write(name, data)
            do {
                let index = try ImageIndex(path: p)
                _ = try index.search(vector: [Float](repeating: 1, count: 64), top: 3)
                Issue.record("\(name) opened and answered")
            } catch let e as SearchIndexError {
                if name == "old.json" { #expect(e == .oldJSONIndex(path: p)) }
                #expect(e.description.contains(p))
            }
        }
        // Another application's SQLite database.
        let other = dir + "/other.db"
        do {
            let db = try Database(path: other, readOnly: false, create: true)
            try db.execute("CREATE TABLE t(x); INSERT INTO t VALUES (1)")
        }
        #expect(throws: SearchIndexError.notAnIndex(path: other, reason: "a SQLite database of another application")) {
            try ImageIndex(path: other)
        }
        #expect(throws: SearchIndexError.notFound(path: dir + "/none.db")) { try ImageIndex(path: dir + "/none.db") }
    }

    @Test("re-indexing keeps the index file's mode and its symlink")
    func modeAndSymlink() throws {
        let clip = try CLIP(directory: tinyModel)
        let dir = try scratch("mode")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/store", withIntermediateDirectories: true)
        try bmp(seed: 3).write(to: URL(fileURLWithPath: dir + "/a.bmp"))
        _ = try ImageIndexer(path: dir + "/store/real.db", clip: clip).update(folder: dir)
        chmod(dir + "/store/real.db", 0o600)
        try FileManager.default.createSymbolicLink(atPath: dir + "/link.db", withDestinationPath: dir + "/store/real.db")
        try bmp(seed: 4).write(to: URL(fileURLWithPath: dir + "/b.bmp"))
        _ = try ImageIndexer(path: dir + "/link.db", clip: clip).update(folder: dir)
        let attrs = try FileManager.default.attributesOfItem(atPath: dir + "/store/real.db")
        #expect((attrs[.posixPermissions] as? Int) == 0o600)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/link.db") == dir + "/store/real.db")
        #expect(try ImageIndex(path: dir + "/link.db").count == 2)
    }
}
