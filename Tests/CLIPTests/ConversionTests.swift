// Checkpoints converted by Tools/convert (OpenAI .pt, Xenova-style ONNX) give the original models' embeddings; a
// quantized ONNX export converts to the int8 format and stays close to the float model and to onnxruntime
// (fixtures and references from Tools/make_conversion_fixtures.py).

import CLIPCore
import CLIPImageIO
import CLIPTokenizer
import CLIPZeroShot
import Tensor
import Testing
import TextTransformer
import VisionTransformer

struct ConversionTests {
    @Test("converted checkpoints reproduce the original model's embeddings",
          arguments: ["converted-openai", "converted-onnx"])
    func converted(_ name: String) throws {
        let dir = fixtures + "/" + name
        let model = try CLIPModel(directory: dir)
        let ref = try SafeTensorsFile(path: dir + "/reference.safetensors")
        let batch = try ref.info("pixel_values").shape[0]
        let image = try model.vision.imageFeatures(try ref.floats("pixel_values"), batch: batch)
        expectClose(image.storage, try ref.floats("image_embeds"), atol: 1e-5, "\(name) image_embeds")
        let inputs = try loadJSON(dir + "/inputs.json")
        let ids = (inputs["input_ids"]?.arrayValue ?? []).map { ($0.arrayValue ?? []).compactMap(\.intValue) }
        let text = try model.text.textFeatures(ids)
        expectClose(text.storage, try ref.floats("text_embeds"), atol: 1e-5, "\(name) text_embeds")
    }

    /// The cosine similarity of each row of two row-major `(rows, n)` matrices.
    static func rowCosines(_ a: [Float], _ b: [Float], rows: Int) -> [Double] {
        guard rows > 0, a.count == b.count, a.count % rows == 0 else { return [] }
        let n = a.count / rows
        return (0..<rows).map { r in
            var dot = 0.0, na = 0.0, nb = 0.0
            for k in (r * n)..<((r + 1) * n) {
                let x = Double(a[k]), y = Double(b[k])
                dot += x * y
                na += x * x
                nb += y * y
            }
            return dot / (na * nb).squareRoot()
        }
    }

    @Test("a quantized ONNX export (quantize_dynamic, QUInt8 weights) converts to the int8 format close to the float model and onnxruntime")
    func convertedQuantizedONNX() throws {
        let dir = fixtures + "/converted-onnx-int8"
        let model = try CLIPModel(directory: dir)
        #expect(model.config.quantization != nil)
        let ref = try SafeTensorsFile(path: dir + "/reference.safetensors")
        let batch = try ref.info("pixel_values").shape[0]
        let image = try model.vision.imageFeatures(try ref.floats("pixel_values"), batch: batch)
        let inputs = try loadJSON(dir + "/inputs.json")
        let ids = (inputs["input_ids"]?.arrayValue ?? []).map { ($0.arrayValue ?? []).compactMap(\.intValue) }
        let text = try model.text.textFeatures(ids)
        #expect(image.shape[0] == batch && text.shape[0] == ids.count)
        // image_embeds / text_embeds: the float original; ort_int8_*: onnxruntime running the quantized graphs. Our
        // activations are quantized per row, symmetric; onnxruntime's per tensor, asymmetric: close, not equal.
        for (features, key) in [(image, "image_embeds"), (text, "text_embeds")] {
            for reference in [key, "ort_int8_" + key] {
                let expected = try ref.floats(reference)
                #expect(features.storage.count == expected.count, "\(reference): \(features.storage.count) values, expected \(expected.count)")
                let cosines = Self.rowCosines(features.storage, expected, rows: features.shape[0])
                #expect(cosines.count == features.shape[0] && cosines.allSatisfy { $0 >= 0.99 }, "\(reference): cosines \(cosines)")
            }
        }
    }
}
