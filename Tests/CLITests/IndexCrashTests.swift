// `clip search index` killed with SIGKILL at random moments: the index always opens, keeps every committed batch,
// and a re-run finishes without re-embedding what is there. Two indexers at once: one wins, the other says so.

import CLIPSearch
import Foundation
import Testing

/// A folder of `count` small 24-bit BMPs of distinct colours.
func bmpFolder(_ count: Int) throws -> String {
    let dir = try tempDir("bmps")
    for i in 0..<count {
        let (w, h) = (32, 32)
        let row = (w * 3 + 3) & ~3
        var d = Data([0x42, 0x4D])
        func le32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { d.append(contentsOf: $0) } }
        func le16(_ v: Int) { withUnsafeBytes(of: UInt16(v).littleEndian) { d.append(contentsOf: $0) } }
        le32(54 + row * h); le32(0); le32(54)
        le32(40); le32(w); le32(h); le16(1); le16(24); le32(0); le32(row * h); le32(2835); le32(2835); le32(0); le32(0)
        let px: [UInt8] = [UInt8(i * 37 % 256), UInt8(i * 91 % 256), UInt8(i * 53 % 256)]
        for _ in 0..<h { d.append(contentsOf: Array(repeating: px, count: w).flatMap { $0 } + [UInt8](repeating: 0, count: row - w * 3)) }
        try d.write(to: URL(fileURLWithPath: dir + String(format: "/img%03d.bmp", i)))
    }
    return dir
}

@Suite(.serialized)
struct IndexCrashTests {
    @Test("SIGKILL at 10 random moments over 300 images: the index opens, keeps its batches, a re-run finishes the rest")
    func killNine() throws {
        let folder = try bmpFolder(300)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let index = folder + "/.index.db"   // hidden: not indexed itself
        var rng = SystemRandomNumberGenerator()
        var previous = 0
        var kills = 0
        for round in 0..<10 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Built.clip)
            p.arguments = ["search", "index", folder, "--index", index, "--weights", Built.demo]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            usleep(UInt32.random(in: 300_000...2_000_000, using: &rng))
            if p.isRunning { kill(p.processIdentifier, SIGKILL); kills += 1 }
            p.waitUntilExit()
            // The index opens after every kill, and holds whole batches of 8 (or everything). A kill before the
            // first commit (the model still loading, or the schema not yet written) leaves no index: nothing lost.
            let opened: ImageIndex
            do {
                opened = try ImageIndex(path: index)
            } catch SearchIndexError.notFound {
                #expect(previous == 0, "round \(round): the index vanished after holding \(previous) rows")
                continue
            }
            let count = opened.count
            #expect(count >= previous, "round \(round): \(count) rows after \(previous) before")
            #expect(count % 8 == 0 || count == 300, "round \(round): \(count) rows is not whole batches")
            var vectors = 0
            try opened.forEachEntry { _, _, v in
                #expect(v.count == 64 && v.allSatisfy(\.isFinite))
                vectors += 1
            }
            #expect(vectors == count)
            previous = count
        }
        #expect(kills >= 3, "the indexer finished before most kills (only \(kills)); the test did not exercise crashes")
        // A clean re-run embeds exactly what is missing.
        let r = try clip("search", "index", folder, "--index", index, "--weights", Built.demo, "--json")
        #expect(r.status == 0, "\(r.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(summary["embedded"] as? Int == 300 - previous)
        #expect(summary["unchanged"] as? Int == previous)
        #expect(try ImageIndex(path: index).count == 300)
    }

    @Test("two indexers at once: the second reports the first, the index stays intact")
    func twoIndexers() throws {
        let folder = try bmpFolder(120)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let index = folder + "/.index.db"
        let first = Process()
        first.executableURL = URL(fileURLWithPath: Built.clip)
        first.arguments = ["search", "index", folder, "--index", index, "--weights", Built.demo]
        first.standardOutput = FileHandle.nullDevice
        first.standardError = FileHandle.nullDevice
        try first.run()
        // Wait until the first indexer holds its lock (the lock file appears), then start the second.
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: index + "-lock") && Date() < deadline { usleep(20_000) }
        usleep(300_000)
        let second = try clip("search", "index", folder, "--index", index, "--weights", Built.demo)
        first.waitUntilExit()
        #expect(first.terminationStatus == 0)
        #expect(second.status == 1)
        #expect(second.stderr.contains("being updated by another process"), "\(second.stderr)")
        #expect(try ImageIndex(path: index).count == 120)
        // --wait queues behind a running indexer instead.
        let waited = try clip("search", "index", folder, "--index", index, "--weights", Built.demo, "--wait")
        #expect(waited.status == 0)
    }

    @Test("corrupt, truncated and foreign --index files are one-line errors, never a crash")
    func hostileIndexFiles() throws {
        let dir = try tempDir("hostile-index")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let files: [(String, Data)] = [
            ("old.json", Data("{\"version\": 1, \"entries\": []}".utf8)),
            ("random.db", Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })),
            ("text.db", Data("hello\n".utf8)),
        ]
        for (name, data) in files {
            try data.write(to: URL(fileURLWithPath: dir + "/" + name))
            let r = try clip("search", "query", "a cat", "--index", dir + "/" + name, "--weights", Built.demo)
            #expect(r.status == 1)
            #expect(r.errorLines.count == 1 && r.stderr.contains(name), "\(r.stderr)")
        }
        let missing = try clip("search", "query", "a cat", "--index", dir + "/none.db", "--weights", Built.demo)
        #expect(missing.status == 1 && missing.stderr.contains("clip search index"))
    }
}
