// POST /v1/search against the library's ImageIndex: same paths and scores, filters, live rows, errors.

import CLIPSearch
import CLIPZeroShot
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("POST /v1/search")
struct SearchRouteTests {
    static let images = ["odd_225x301.png", "photo_grace_hopper.jpg", "photo_rocket_640x427.jpg", "bmp_rgb24_151x100.bmp",
                         "photo_camera_gray.jpg", "gif_transparent.gif"]

    /// A folder with some fixture images (two in `sub/`) and its index built by the tiny model.
    static func makeIndex() throws -> (dir: String, index: String) {
        let dir = NSTemporaryDirectory() + "clip-search-route-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/photos/sub", withIntermediateDirectories: true)
        for (i, name) in images.enumerated() {
            try FileManager.default.copyItem(atPath: fixtures + "/images/" + name,
                                             toPath: dir + "/photos/" + (i < 2 ? "sub/" : "") + name)
        }
        let path = dir + "/index.db"
        let summary = try ImageIndexer(path: path, clip: TestModels.tiny).update(folder: dir + "/photos")
        #expect(summary.embedded == images.count, "\(summary)")
        return (dir, path)
    }

    func hits(_ r: TestResponse) -> [(String, Float)] {
        ((json(r)["data"] as? [[String: Any]]) ?? []).map {
            (($0["path"] as? String) ?? "", Float((($0["score"] as? NSNumber)?.doubleValue) ?? -2))
        }
    }

    @Test func sameResultsAsTheLibrary() async throws {
        let (dir, path) = try Self.makeIndex()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let index = try ImageIndex(path: path)
        let clip = TestModels.tiny
        try await withServer(index: index) { client, _ in
            let text = try index.search(text: "a red circle", with: clip, top: 4)
            let r = try await post(client, "/v1/search", ["query": "a red circle", "top_k": 4])
            #expect(r.status == .ok, "\(String(buffer: r.body))")
            #expect(hits(r).map(\.0) == text.map(\.path))
            #expect(hits(r).map(\.1) == text.map(\.score))
            #expect(json(r)["model"] as? String == "test-clip")

            let png = image("odd_225x301.png")
            let byImage = try index.search(image: .data(png), with: clip, top: 3)
            let i = try await post(client, "/v1/search", ["image": dataURL(png), "top_k": 3])
            #expect(hits(i).map(\.0) == byImage.map(\.path))
            #expect(hits(i).map(\.1) == byImage.map(\.score))
            #expect(hits(i).first?.0.hasSuffix("photos/sub/odd_225x301.png") == true, "\(hits(i))")

            let filtered = try await post(client, "/v1/search", ["query": "a photo", "filter": ["prefix": "photos/sub/"]])
            #expect(hits(filtered).count == 2)
            #expect(hits(filtered).allSatisfy { $0.0.contains("photos/sub/") })
            let glob = try await post(client, "/v1/search", ["query": "a photo", "filter": ["glob": "*.jpg"]])
            #expect(hits(glob).count == 3 && hits(glob).allSatisfy { $0.0.hasSuffix(".jpg") })
        }
    }

    @Test("rows a running indexer commits are served without a restart")
    func liveRows() async throws {
        let (dir, path) = try Self.makeIndex()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let index = try ImageIndex(path: path)
        try await withServer(index: index) { client, _ in
            let before = try await post(client, "/v1/search", ["query": "anything", "top_k": 100])
            #expect(hits(before).count == Self.images.count)
            try FileManager.default.copyItem(atPath: fixtures + "/images/exif_orient_6.jpg", toPath: dir + "/photos/new.jpg")
            _ = try ImageIndexer(path: path, clip: TestModels.tiny).update(folder: dir + "/photos")
            let after = try await post(client, "/v1/search", ["query": "anything", "top_k": 100])
            #expect(hits(after).count == Self.images.count + 1)
            #expect(hits(after).contains { $0.0.hasSuffix("photos/new.jpg") })
        }
    }

    @Test func errors() async throws {
        let (dir, path) = try Self.makeIndex()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let index = try ImageIndex(path: path)
        try await withServer(index: index) { client, _ in
            let cases: [([String: Any], String)] = [
                ([:], "query"), (["query": "a", "image": "x"], "query"), (["query": 3], "query"), (["query": "  "], "query"),
                (["query": "a", "top_k": 0], "top_k"), (["query": "a", "top_k": 1001], "top_k"),
                (["query": "a", "filter": "x"], "filter"), (["query": "a", "filter": ["regex": "x"]], "filter"),
                (["image": 5], "image"),
            ]
            for (body, param) in cases {
                let r = try await post(client, "/v1/search", body)
                expectError(r, .badRequest, param: .some(param))
            }
        }
        try await withServer { client, _ in
            let r = try await post(client, "/v1/search", ["query": "a"])
            expectError(r, .notFound, code: "no_search_index")
        }
    }
}
