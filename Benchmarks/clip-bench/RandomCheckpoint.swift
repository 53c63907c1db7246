// Writes a ViT-B/32-shaped CLIP checkpoint with random weights (HF key names) so the benchmark runs anywhere.

import CLIPCore
import CLIPImageIO
import CLIPTokenizer
import CLIPZeroShot
import Tensor
import TextTransformer
import VisionTransformer
import Foundation

enum RandomCheckpoint {
    /// Every tensor of a CLIPModel with `config`, in HF naming, with its shape.
    static func tensors(_ c: CLIPConfig) -> [(String, [Int])] {
        var t: [(String, [Int])] = []
        func layers(_ prefix: String, _ e: EncoderConfig) {
            for i in 0..<e.numHiddenLayers {
                let p = "\(prefix).encoder.layers.\(i)"
                for n in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                    t.append(("\(p).self_attn.\(n).weight", [e.hiddenSize, e.hiddenSize]))
                    t.append(("\(p).self_attn.\(n).bias", [e.hiddenSize]))
                }
                for n in ["layer_norm1", "layer_norm2"] {
                    t.append(("\(p).\(n).weight", [e.hiddenSize])); t.append(("\(p).\(n).bias", [e.hiddenSize]))
                }
                t.append(("\(p).mlp.fc1.weight", [e.intermediateSize, e.hiddenSize]))
                t.append(("\(p).mlp.fc1.bias", [e.intermediateSize]))
                t.append(("\(p).mlp.fc2.weight", [e.hiddenSize, e.intermediateSize]))
                t.append(("\(p).mlp.fc2.bias", [e.hiddenSize]))
            }
        }
        let v = c.vision, x = c.text
        t.append(("vision_model.embeddings.class_embedding", [v.hiddenSize]))
        t.append(("vision_model.embeddings.patch_embedding.weight", [v.hiddenSize, 3, v.patchSize, v.patchSize]))
        t.append(("vision_model.embeddings.position_embedding.weight", [v.numPositions, v.hiddenSize]))
        for n in ["pre_layrnorm", "post_layernorm"] {
            t.append(("vision_model.\(n).weight", [v.hiddenSize])); t.append(("vision_model.\(n).bias", [v.hiddenSize]))
        }
        layers("vision_model", v.encoder)
        t.append(("visual_projection.weight", [c.projectionDim, v.hiddenSize]))
        t.append(("text_model.embeddings.token_embedding.weight", [x.vocabSize, x.hiddenSize]))
        t.append(("text_model.embeddings.position_embedding.weight", [x.maxPositionEmbeddings, x.hiddenSize]))
        layers("text_model", x.encoder)
        t.append(("text_model.final_layer_norm.weight", [x.hiddenSize])); t.append(("text_model.final_layer_norm.bias", [x.hiddenSize]))
        t.append(("text_projection.weight", [c.projectionDim, x.hiddenSize]))
        t.append(("logit_scale", []))
        return t
    }

    /// Writes `config.json` and an F32 `model.safetensors` with N(0, 0.02)-like weights (layer-norm weights ≈ 1).
    static func write(to dir: String, config c: CLIPConfig = .vitBasePatch32, seed: UInt64 = 42) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let configJSON = """
        {"projection_dim": \(c.projectionDim), "logit_scale_init_value": 2.6592,
         "text_config": {"vocab_size": \(c.text.vocabSize), "hidden_size": \(c.text.hiddenSize), "intermediate_size": \(c.text.intermediateSize),
           "num_hidden_layers": \(c.text.numHiddenLayers), "num_attention_heads": \(c.text.numAttentionHeads),
           "max_position_embeddings": \(c.text.maxPositionEmbeddings), "hidden_act": "quick_gelu", "bos_token_id": 0, "eos_token_id": 2},
         "vision_config": {"hidden_size": \(c.vision.hiddenSize), "intermediate_size": \(c.vision.intermediateSize),
           "num_hidden_layers": \(c.vision.numHiddenLayers), "num_attention_heads": \(c.vision.numAttentionHeads),
           "image_size": \(c.vision.imageSize), "patch_size": \(c.vision.patchSize), "hidden_act": "quick_gelu"}}
        """
        try configJSON.write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        let specs = tensors(c)
        var header = "{"
        var offset = 0
        for (i, (name, shape)) in specs.enumerated() {
            let n = shape.reduce(1, *) * 4
            header += "\(i == 0 ? "" : ",")\"\(name)\":{\"dtype\":\"F32\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + n)]}"
            offset += n
        }
        header += "}"
        while (8 + header.utf8.count) % 8 != 0 { header += " " }
        _ = FileManager.default.createFile(atPath: dir + "/model.safetensors", contents: nil)
        guard let out = FileHandle(forWritingAtPath: dir + "/model.safetensors") else {
            throw FileReadError(path: dir + "/model.safetensors", reason: "cannot create")
        }
        defer { try? out.close() }
        try out.truncate(atOffset: 0)
        var len = UInt64(header.utf8.count).littleEndian
        out.write(Data(bytes: &len, count: 8))
        out.write(Data(header.utf8))
        var state = seed
        for (name, shape) in specs {
            let n = shape.reduce(1, *)
            let isNormWeight = name.hasSuffix("norm1.weight") || name.hasSuffix("norm2.weight") || name.hasSuffix("layernorm.weight")
                || name.hasSuffix("layrnorm.weight") || name.hasSuffix("final_layer_norm.weight")
            var values = [Float](repeating: 0, count: n)
            for i in 0..<n {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let u = Float(state >> 40) / Float(1 << 24) * 2 - 1   // uniform(-1, 1), std ≈ 0.577
                values[i] = name == "logit_scale" ? 2.6592 : (isNormWeight ? 1 + 0.05 * u : 0.035 * u)
            }
            values.withUnsafeBytes { out.write(Data($0)) }
        }
    }
}
