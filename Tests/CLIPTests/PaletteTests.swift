// Palette PNG/BMP files whose indices run past the palette (Tools/make_palette_fixtures.py): Pillow's pixels
// (black past the palette), never colours read from uninitialised memory.

import CLIPCore
import CLIPImageIO
import CLIPTokenizer
import CLIPZeroShot
import Foundation
import Tensor
import Testing
import TextTransformer
import VisionTransformer

struct PaletteTests {
    static let dir = fixtures + "/palette"
    static let files: [String] = {
        guard let ref = try? SafeTensorsFile(path: dir + "/reference.safetensors") else { return [] }
        return ref.keys.sorted()
    }()

    @Test("the fixture set is present (8 files)")
    func present() { #expect(Self.files.count == 8) }

    @Test("indices past a short palette decode as Pillow's black", arguments: files)
    func matchesPillow(_ file: String) throws {
        let ref = try SafeTensorsFile(path: Self.dir + "/reference.safetensors")
        let shape = try ref.info(file).shape
        let expected = try ref.uint8s(file)
        let img = try ImageDecoder().decode(path: Self.dir + "/" + file)
        #expect([img.height, img.width, 3] == shape)
        let bad = zip(img.pixels, expected).enumerated().filter { $0.element.0 != $0.element.1 }
        #expect(bad.isEmpty, "\(file): \(bad.count) bytes differ; first at \(bad.prefix(3).map { "\($0.offset): \($0.element.0) vs \($0.element.1)" })")
    }

    @Test("the fuzzer's uninitialised-memory files decode to the same pixels every time",
          arguments: ["uninit-bmp-palette-index.bmp", "uninit-png-palette-index.png", "uninit-jpeg-no-dqt.jpg",
                      "uninit-tga-short-data.tga"])
    func deterministic(_ file: String) throws {
        let path = fixtures + "/fuzz-crashers/" + file
        let first = Result { try ImageDecoder().decode(path: path) }
        // Disturb the stack and heap between the two decodes, as other work in a server would.
        _ = try? ImageDecoder().decode(path: fixtures + "/palette/bmp8_pal16_noise_10x7.bmp")
        withExtendedLifetime([UInt8](repeating: 0xA5, count: 1 << 16)) {}
        let second = Result { try ImageDecoder().decode(path: path) }
        switch (first, second) {
        case (.success(let a), .success(let b)): #expect(a == b, "\(file) decoded differently twice")
        case (.failure(let a), .failure(let b)): #expect("\(a)" == "\(b)")
        default: Issue.record("\(file): one decode failed and the other did not")
        }
    }
}
