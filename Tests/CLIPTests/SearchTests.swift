// `ImageIndex` on a folder of 200 images: index, add 10, delete 5, re-index (only the changes are embedded), query.

import CLIPZeroShot
import Foundation
import Testing

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

struct SearchTests {
    @Test("index 200 images, add 10, delete 5, re-index incrementally, query by text and image")
    func incremental() throws {
        let clip = try CLIPZeroShot(directory: fixtures + "/classify")
        let dir = NSTemporaryDirectory() + "clip-search-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for i in 0..<200 { try bmp(seed: i).write(to: URL(fileURLWithPath: dir + (i % 2 == 0 ? "/" : "/sub/") + "img\(i).bmp")) }
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: dir + "/notes.txt"))   // ignored: not an image extension
        let indexPath = dir + "/.clip-index.json"

        var index = ImageIndex(root: dir)
        var progress: [(Int, Int)] = []
        var stats = try index.update(with: clip) { progress.append(($0, $1)) }
        #expect(stats.embedded == 200 && stats.unchanged == 0 && stats.removed == 0 && stats.failed.isEmpty)
        #expect(progress.last.map { $0 == (200, 200) } == true)
        try index.save(to: indexPath)

        for i in 200..<210 { try bmp(seed: i).write(to: URL(fileURLWithPath: dir + "/img\(i).bmp")) }
        index = try #require(try ImageIndex.load(from: indexPath))
        stats = try index.update(with: clip)
        #expect(stats.embedded == 10 && stats.unchanged == 200 && stats.removed == 0, "\(stats)")

        for i in [0, 2, 4, 6, 8] { try FileManager.default.removeItem(atPath: dir + "/img\(i).bmp") }
        stats = try index.update(with: clip)
        #expect(stats.embedded == 0 && stats.unchanged == 205 && stats.removed == 5, "\(stats)")
        #expect(index.entries.count == 205)
        try index.save(to: indexPath)

        // A broken file is reported, not fatal.
        try Data([0x42, 0x4D, 1, 2, 3]).write(to: URL(fileURLWithPath: dir + "/broken.bmp"))
        stats = try index.update(with: clip)
        #expect(stats.failed.map(\.0) == ["broken.bmp"])

        let reloaded = try #require(try ImageIndex.load(from: indexPath))
        #expect(reloaded.entries.count == 205)
        let hits = try reloaded.search(text: "a red circle", with: clip, top: 5)
        #expect(hits.count == 5)
        #expect(zip(hits, hits.dropFirst()).allSatisfy { $0.score >= $1.score })
        let byImage = try reloaded.search(image: .path(dir + "/sub/img17.bmp"), with: clip, top: 3)
        #expect(byImage.first?.path == "sub/img17.bmp")
        #expect(abs((byImage.first?.score ?? 0) - 1) < 1e-4)
    }

    @Test("an index built with other weights is rebuilt, and a missing folder is an error")
    func invalidation() throws {
        let clip = try CLIPZeroShot(directory: fixtures + "/classify")
        var index = ImageIndex(root: "/nonexistent-folder-\(getpid())")
        #expect(throws: FileReadError.self) { try index.update(with: clip) }
        index.modelFingerprint = "some other model"
        #expect(index.modelFingerprint != clip.fingerprint)
    }
}
