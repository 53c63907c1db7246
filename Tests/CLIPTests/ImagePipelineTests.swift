// Decoding + preprocessing against transformers' load_image + CLIPImageProcessorPil (Tools/make_image_fixtures.py):
// the uint8 crop per file, and the final float pixel_values for three files.

import CLIPCore
import CLIPImageIO
import CLIPTokenizer
import CLIPZeroShot
import Foundation
import Tensor
import Testing
import TextTransformer
import VisionTransformer

struct ImagePipelineTests {
    static let dir = fixtures + "/images"
    static let files: [String] = {
        guard let ref = try? SafeTensorsFile(path: dir + "/reference.safetensors") else { return [] }
        return ref.keys.filter { !$0.hasPrefix("float:") }.sorted()
    }()

    @Test("the fixture set is complete (a missing or unreadable reference must fail, not run zero cases)")
    func fixtureCount() throws {
        let ref = try SafeTensorsFile(path: Self.dir + "/reference.safetensors")
        #expect(ref.keys.filter { !$0.hasPrefix("float:") }.count == 39)
        #expect(Self.files.count == 39)
    }

    /// The preprocessed crop as uint8 HWC, recovered from our float output exactly as the fixture was made.
    static func crop(_ chw: [Float], _ pre: ImagePreprocessor) -> [Int] {
        let n = 224 * 224
        var out = [Int](repeating: 0, count: n * 3)
        for c in 0..<3 {
            for i in 0..<n {
                out[i * 3 + c] = Int(((chw[c * n + i] * pre.std[c] + pre.mean[c]) * 255).rounded())
            }
        }
        return out
    }

    @Test("uint8 crop equals Pillow's bit for bit", arguments: files)
    func crop(_ file: String) throws {
        let ref = try SafeTensorsFile(path: Self.dir + "/reference.safetensors")
        let expected = try ref.uint8s(file).map(Int.init)
        let pre = ImagePreprocessor()
        let got = Self.crop(pre(try ImageDecoder().decode(path: Self.dir + "/" + file)), pre)
        #expect(got.count == expected.count)
        let diffs = zip(got, expected).map { abs($0 - $1) }
        let maxDiff = diffs.max() ?? 0
        let mean = Double(diffs.reduce(0, +)) / Double(max(diffs.count, 1))
        // Every format, JPEG included (libjpeg-exact back end), is bit-exact.
        #expect(maxDiff == 0, "\(file): max \(maxDiff) steps, mean \(mean) (expected bit-exact)")
    }

    @Test("float pixel_values equal transformers' up to float rounding",
          arguments: ["photo_grace_hopper.jpg", "png_rgba.png", "tall_3x2000.png"])
    func floats(_ file: String) throws {
        let ref = try SafeTensorsFile(path: Self.dir + "/reference.safetensors")
        let got = ImagePreprocessor()(try ImageDecoder().decode(path: Self.dir + "/" + file))
        let expected = try ref.floats("float:" + file)
        // The uint8 crop is identical, so only float rounding in (x/255 − mean)/std remains.
        expectClose(got, expected, atol: 1e-6, "\(file) pixel_values")
        let mean = zip(got, expected).map { Double(abs($0 - $1)) }.reduce(0, +) / Double(got.count)
        #expect(mean <= 1e-7, "\(file) mean abs \(mean)")
    }

    @Test("resize geometry follows transformers (short side 224, long side truncated)")
    func geometry() {
        let pre = ImagePreprocessor()
        #expect(pre.resizedSize(width: 640, height: 427) == (335, 224))
        #expect(pre.resizedSize(width: 225, height: 301) == (224, 299))
        #expect(pre.resizedSize(width: 3, height: 2000) == (224, 149333))
        #expect(pre.resizedSize(width: 224, height: 224) == (224, 224))
    }

    @Test("a 1×100,000 image resamples only the crop")
    func extremeAspect() throws {
        let img = try RGBImage(width: 1, height: 100_000, pixels: [UInt8](repeating: 200, count: 300_000))
        let out = ImagePreprocessor()(img)
        #expect(out.count == 3 * 224 * 224)
        let expectedRed = (Float(Double(200) / 255) - 0.48145466) / 0.26862954
        #expect(abs(out[0] - expectedRed) < 1e-6)
    }

    @Test("raw RGB8 buffers are validated")
    func rawPixels() {
        #expect(throws: ImageError.self) { try RGBImage(width: 2, height: 2, pixels: [0, 0, 0]) }
        #expect(throws: ImageError.self) { try RGBImage(width: 0, height: 2, pixels: []) }
    }
}
