// JPEG decoding against Pillow (libjpeg-turbo): every chroma layout, progressive, restarts, RGB, gray and CMYK files
// from Tools/make_jpeg_fixtures.py must decode to identical pixels.

import CLIPCore
import CLIPImageIO
import CLIPTokenizer
import CLIPZeroShot
import Foundation
import Tensor
import Testing
import TextTransformer
import VisionTransformer

struct JPEGDecodeTests {
    static let dir = fixtures + "/jpeg"
    static let manifest: [String: JSONValue] = {
        guard let m = try? loadJSON(dir + "/manifest.json"), case .object(let o) = m else { return [:] }
        return Dictionary(o, uniquingKeysWith: { a, _ in a })
    }()
    static var files: [String] { manifest.keys.sorted() }
    static func isArithmetic(_ file: String) -> Bool {
        if case .object(let e)? = manifest[file], let a = e.first(where: { $0.0 == "arithmetic" })?.1, case .bool(true) = a {
            return true
        }
        return false
    }

    @Test("the fixture set is present (60 files)")
    func present() { #expect(Self.files.count == 60) }

    @Test("decodes to Pillow's pixels exactly", arguments: files.filter { !isArithmetic($0) })
    func exact(_ file: String) throws {
        let ref = try SafeTensorsFile(path: Self.dir + "/reference.safetensors")
        let shape = try ref.info(file).shape
        let expected = try ref.uint8s(file)
        let img = try ImageDecoder().decode(path: Self.dir + "/" + file)
        #expect([img.height, img.width, 3] == shape, "\(file): size \(img.width)×\(img.height) vs \(shape)")
        guard img.pixels.count == expected.count else { return }
        var mismatches: [String] = []
        var maxDiff = 0
        for i in 0..<expected.count where img.pixels[i] != expected[i] {
            maxDiff = max(maxDiff, abs(Int(img.pixels[i]) - Int(expected[i])))
            if mismatches.count < 5 {
                let p = i / 3
                mismatches.append("(x \(p % img.width), y \(p / img.width), c \(i % 3)): \(img.pixels[i]) vs \(expected[i])")
            }
        }
        #expect(mismatches.isEmpty, "\(file): max diff \(maxDiff); first: \(mismatches.joined(separator: ", "))")
    }

    @Test("arithmetic-coded JPEGs are refused with a typed error", arguments: files.filter(isArithmetic))
    func arithmetic(_ file: String) {
        let path = Self.dir + "/" + file
        #expect(throws: ImageError.file(path: path, error: .unsupportedFormat("arithmetic-coded JPEG (SOF 0xC9)"))) {
            try ImageDecoder().decode(path: path)
        }
    }
}
