// The full ViT-B/32 architecture with random weights from transformers (too big to commit): runs only when
// CLIP_VITB32_DIR points at a directory made by `Tools/make_vitb32.py --out DIR [--dtype f16]`.

import CLIPCore
import CLIPImageIO
import CLIPTokenizer
import CLIPZeroShot
import Foundation
import Tensor
import Testing
import TextTransformer
import VisionTransformer

struct FullSizeTests {
    static let dir = ProcessInfo.processInfo.environment["CLIP_VITB32_DIR"]

    /// Cosine similarity and max relative error (relative to the row's largest magnitude) per row.
    static func check(_ got: Tensor, _ expected: [Float], _ what: String) {
        let d = got.shape[1]
        for r in 0..<got.shape[0] {
            let a = got.storage[(r * d)..<((r + 1) * d)].map(Double.init)
            let b = expected[(r * d)..<((r + 1) * d)].map(Double.init)
            let dot = zip(a, b).map(*).reduce(0, +)
            let cos = dot / (sqrt(a.map { $0 * $0 }.reduce(0, +)) * sqrt(b.map { $0 * $0 }.reduce(0, +)))
            let scale = b.map(abs).max() ?? 1
            let rel = zip(a, b).map { abs($0 - $1) / scale }.max() ?? 0
            print("\(what)[\(r)]: cosine \(cos), max relative error \(rel)")
            #expect(cos >= 0.99999, "\(what)[\(r)] cosine \(cos)")
            #expect(rel <= 1e-4, "\(what)[\(r)] max relative error \(rel)")
        }
    }

    @Test("ViT-B/32 (random weights) matches get_image_features / get_text_features", .enabled(if: dir != nil))
    func vitB32() throws {
        guard let dir = Self.dir else { return }
        let model = try CLIPModel(directory: dir)
        let ref = try SafeTensorsFile(path: dir + "/reference.safetensors")
        let batch = try ref.info("pixel_values").shape[0]
        Self.check(try model.vision.imageFeatures(try ref.floats("pixel_values"), batch: batch), try ref.floats("image_embeds"), "image_embeds")
        let inputs = try loadJSON(dir + "/inputs.json")
        let ids = (inputs["input_ids"]?.arrayValue ?? []).map { ($0.arrayValue ?? []).compactMap(\.intValue) }
        Self.check(try model.text.textFeatures(ids), try ref.floats("text_embeds"), "text_embeds")
    }
}
