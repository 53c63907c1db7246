// Checkpoints converted by Tools/convert (OpenAI .pt, Xenova-style ONNX) give the original models' embeddings
// (fixtures and references from Tools/make_conversion_fixtures.py).

import CLIPZeroShot
import Testing

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
}
