// WebP decoding against Pillow (Tools/make_webp_fixtures.py): every pixel of 22 files, and 24 hostile files refused.

import CLIPImageIO
import Foundation
import Tensor
import Testing

/// Tests/Fixtures/webp/manifest.json: per file, the Pillow reference or the expected refusal.
enum WebPFixtures {
    static let dir = fixtures + "/webp"
    static let manifest: [String: JSONValue] = {
        guard let bytes = try? readFileBytes(dir + "/manifest.json"), let v = try? JSONValue.parse(bytes),
              case .object(let members) = v else { return [:] }
        return Dictionary(members.filter { $0.0 != "_meta" }, uniquingKeysWith: { a, _ in a })
    }()
    static var valid: [String] { manifest.filter { $0.value["expect"] == nil }.keys.sorted() }
    static var hostile: [String] { manifest.filter { $0.value["expect"] != nil }.keys.sorted() }
}

func readFileBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

struct WebPTests {
    @Test("the fixture set is complete (a missing folder must fail, not run zero cases)")
    func fixtureCount() {
        #expect(WebPFixtures.valid.count == 22)
        #expect(WebPFixtures.hostile.count == 24)
    }

    @Test("decodes like Pillow's Image.open(p).convert(\"RGB\"), then exif_transpose", arguments: WebPFixtures.valid)
    func matchesPillow(_ name: String) throws {
        let entry = try #require(WebPFixtures.manifest[name])
        let image = try ImageDecoder().decode(readFileBytes(WebPFixtures.dir + "/" + name))
        let upright = entry["upright"]
        let reference = try #require((upright ?? entry)["rgb"]?.stringValue)
        let width = try #require((upright ?? entry)["width"]?.intValue)
        let height = try #require((upright ?? entry)["height"]?.intValue)
        #expect(image.width == width && image.height == height)
        let expected = try readFileBytes(WebPFixtures.dir + "/" + reference)
        #expect(image.pixels.count == expected.count)
        let differing = zip(image.pixels, expected).filter { $0 != $1 }.count
        #expect(differing == 0, "\(name): \(differing) of \(expected.count) bytes differ from Pillow")
    }

    @Test("hostile files are typed errors of the expected kind, before any large allocation", arguments: WebPFixtures.hostile)
    func hostile(_ name: String) throws {
        let expect = try #require(WebPFixtures.manifest[name]?["expect"]?.stringValue)
        let bytes = try readFileBytes(WebPFixtures.dir + "/" + name)
        do {
            let image = try ImageDecoder().decode(bytes)
            Issue.record("\(name) decoded to \(image.width)×\(image.height)")
        } catch let e as ImageError {
            switch (expect, e) {
            case ("too_many_pixels", .tooManyPixels), ("corrupt", .corrupt), ("truncated", .corrupt),
                 ("not_webp", .unsupportedFormat):
                break
            default:
                Issue.record("\(name): expected \(expect), got \(e)")
            }
        }
    }

    @Test("HEIC and AVIF stay refused with a named error")
    func heicAndAvif() {
        func ftyp(_ major: String, _ compatible: [String]) -> [UInt8] {
            let brands = ([major, "\0\0\0\0"] + compatible).flatMap { Array($0.utf8) }
            let size = 8 + brands.count
            return [0, 0, 0, UInt8(size)] + Array("ftyp".utf8) + brands + [UInt8](repeating: 0, count: 64)
        }
        let cases: [([UInt8], String)] = [
            (ftyp("heic", ["mif1", "heic"]), "HEIC"), (ftyp("avif", ["mif1", "avif"]), "AVIF"),
            (ftyp("mif1", ["mif1", "heic"]), "HEIC"), (ftyp("mif1", ["mif1", "avif"]), "AVIF"),
            (ftyp("hevx", ["hevx"]), "HEIC"), (ftyp("mif1", ["mif1"]), "HEIF"),
        ]
        for (bytes, name) in cases {
            #expect(throws: ImageError.unsupportedFormat(name)) { try ImageDecoder().decode(bytes) }
        }
    }
}
