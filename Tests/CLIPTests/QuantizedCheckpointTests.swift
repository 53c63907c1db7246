// Int8 checkpoints: `clip quantize`'s output loads on every backend, agrees with its float original, keeps
// working from the prepared-weights cache, and every malformed variant (scales missing, extra, zero, non-finite,
// mis-shaped or mistyped; int8 weights in a float checkpoint and the reverse) is a typed error naming the key.

import CLIPCore
import CLIPImageIO
import CLIPTokenizer
import CLIPZeroShot
import Foundation
import Tensor
import Testing
import TextTransformer
import VisionTransformer

@Suite(.serialized)
struct QuantizedCheckpointTests {
    static let source = fixtures + "/tiny-clip-quick"

    /// `source` quantized into a fresh directory.
    static func quantized() throws -> String {
        let dir = NSTemporaryDirectory() + "/quantized-\(UUID().uuidString)"
        let report = try CLIPQuantizer.quantize(input: source, output: dir)
        #expect(report.quantizedTensors > 0)
        return dir
    }

    func features(_ model: CLIPModel) throws -> (image: Tensor, text: Tensor) {
        let ref = try SafeTensorsFile(path: Self.source + "/reference.safetensors")
        let batch = try ref.info("pixel_values").shape[0]
        return (try model.vision.imageFeatures(try ref.floats("pixel_values"), batch: batch),
                try model.text.textFeatures([[0, 320, 929, 2], [0, 17, 400, 33, 2], [0, 2]]))
    }

    func minCosine(_ a: Tensor, _ b: Tensor) -> Double {
        let d = a.shape[1]
        return (0..<a.shape[0]).map { i -> Double in
            var dot = 0.0, na = 0.0, nb = 0.0
            for k in 0..<d {
                let x = Double(a.storage[i * d + k]), y = Double(b.storage[i * d + k])
                dot += x * y; na += x * x; nb += y * y
            }
            return dot / (na * nb).squareRoot()
        }.min() ?? 0
    }

    static let backends = ComputeBackend.allCases.filter { $0 != .automatic && (try? $0.resolved()) != nil }

    @Test("an int8 checkpoint agrees with its float original on every backend, with and without full int8 precision",
          arguments: backends, [false, true])
    func agreesWithFloat(_ backend: CLIPZeroShot.ComputeBackend, fullInt8Precision: Bool) throws {
        let dir = try Self.quantized()
        let options = LoadOptions(backend: backend, fullInt8Precision: fullInt8Precision)
        let float = try features(try CLIPModel(directory: Self.source, options: options))
        let int8Model = try CLIPModel(directory: dir, options: options)
        #expect(int8Model.config.quantization != nil)
        let int8 = try features(int8Model)
        // The tiny fixture has width 32: int8 rounding weighs more than in ViT-B/32 (0.9999 there, see README).
        #expect(minCosine(float.image, int8.image) >= 0.995, "\(backend) image: \(minCosine(float.image, int8.image))")
        #expect(minCosine(float.text, int8.text) >= 0.995, "\(backend) text: \(minCosine(float.text, int8.text))")
        let size = { (p: String) in (try? FileManager.default.attributesOfItem(atPath: p + "/model.safetensors")[.size] as? Int) ?? 0 }
        #expect(size(dir) < size(Self.source) / 2)
    }

    @Test("int8 weights from the prepared-weights cache give identical features")
    func fromCache() throws {
        let dir = try Self.quantized()
        let cache = NSTemporaryDirectory() + "/quantized-cache-\(UUID().uuidString)"
        let options = LoadOptions(preparedWeightsDirectory: cache)
        let first = try CLIPModel(directory: dir, options: options)
        let second = try CLIPModel(directory: dir, options: options)
        #expect(first.preparedWeights == .written)
        #expect(second.preparedWeights == .loaded)
        let a = try features(first), b = try features(second)
        #expect(a.image.storage == b.image.storage && a.text.storage == b.text.storage)
    }

    @Test("the vision tower's paired int8 weights are used where the kernels pair them, and a cache of one layout never serves the other")
    func pairedLayout() throws {
        let dir = try Self.quantized()
        let cache = NSTemporaryDirectory() + "/quantized-cache-\(UUID().uuidString)"
        let paired = try CLIPModel(directory: dir, options: LoadOptions(preparedWeightsDirectory: cache))
        let full = try CLIPModel(directory: dir, options: LoadOptions(preparedWeightsDirectory: cache, fullInt8Precision: true))
        let pairedAgain = try CLIPModel(directory: dir, options: LoadOptions(preparedWeightsDirectory: cache))
        #expect(paired.preparedWeights == .written)
        // The cache held the vision weights in the other layout: packed again (and rewritten), never misread.
        #expect(full.preparedWeights == (paired.compute.pairsVisionInt8Weights ? .written : .loaded))
        #expect(pairedAgain.preparedWeights == (paired.compute.pairsVisionInt8Weights ? .written : .loaded))
        let a = try features(paired), b = try features(full), c = try features(pairedAgain)
        let fresh = try features(try CLIPModel(directory: dir, options: LoadOptions(fullInt8Precision: true)))
        #expect(b.image.storage == fresh.image.storage && b.text.storage == fresh.text.storage)
        #expect(a.image.storage == c.image.storage && a.text.storage == c.text.storage)
        // The text tower keeps its 8 bits either way; the image features differ exactly where the weights were paired.
        #expect(a.text.storage == b.text.storage)
        #expect((a.image.storage != b.image.storage) == paired.compute.pairsVisionInt8Weights)
        #expect(paired.compute.pairsVisionInt8Weights == (paired.compute.backend == .avx2))
    }

    @Test("quantizing an int8 checkpoint or into its own directory is refused")
    func refusals() throws {
        let dir = try Self.quantized()
        #expect(throws: CLIPQuantizer.QuantizeError.alreadyQuantized(dir)) {
            _ = try CLIPQuantizer.quantize(input: dir, output: dir + "-again")
        }
        #expect(throws: CLIPQuantizer.QuantizeError.sameDirectory(Self.source)) {
            _ = try CLIPQuantizer.quantize(input: Self.source, output: Self.source)
        }
    }

    /// Rewrites `dir/model.safetensors` after `edit` changes its entries.
    func mutate(_ dir: String, _ edit: (inout [(key: String, dtype: SafeTensorsDType, shape: [Int], bytes: [UInt8])]) -> Void) throws {
        let file = try SafeTensorsFile(path: dir + "/model.safetensors")
        var entries = try file.keys.map { key -> (key: String, dtype: SafeTensorsDType, shape: [Int], bytes: [UInt8]) in
            let info = try file.info(key)
            return (key, info.dtype, info.shape, Array(try file.rawBytes(key)))
        }
        edit(&entries)
        try writeTestSafeTensors(entries, to: dir + "/model.safetensors")
    }

    static let layer = "vision_model.encoder.layers.0.mlp.fc1.weight"

    @Test("malformed int8 checkpoints are typed errors naming the key",
          arguments: ["missing scale", "extra scale", "zero scale", "NaN scale", "short scale", "F16 scale",
                      "float weight in int8 checkpoint", "int8 weight in float checkpoint", "unknown method", "bad version"])
    func malformed(_ mutation: String) throws {
        let dir = try Self.quantized()
        let key = Self.layer
        func setScale(_ transform: (inout [Float]) -> Void) throws {
            try mutate(dir) { es in
                guard let i = es.firstIndex(where: { $0.key == key + "_scale" }) else { return }
                var floats = es[i].bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
                transform(&floats)
                es[i].bytes = floats.withUnsafeBytes { Array($0) }
            }
        }
        var expectKey = key + "_scale"
        switch mutation {
        case "missing scale": try mutate(dir) { $0.removeAll { $0.key == key + "_scale" } }
        case "extra scale":
            expectKey = "vision_model.post_layernorm.weight_scale"
            try mutate(dir) { $0.append((expectKey, .f32, [4], [UInt8](repeating: 0, count: 16))) }
        case "zero scale": try setScale { $0[3] = 0 }
        case "NaN scale": try setScale { $0[1] = .nan }
        case "short scale": try mutate(dir) { es in
            if let i = es.firstIndex(where: { $0.key == key + "_scale" }) { es[i].shape = [es[i].shape[0] - 1]; es[i].bytes.removeLast(4) }
        }
        case "F16 scale": try mutate(dir) { es in
            if let i = es.firstIndex(where: { $0.key == key + "_scale" }) {
                es[i].dtype = .f16
                es[i].bytes = Array(es[i].bytes.prefix(es[i].bytes.count / 2))
            }
        }
        case "float weight in int8 checkpoint":
            expectKey = key
            try mutate(dir) { es in
                if let i = es.firstIndex(where: { $0.key == key }) {
                    es[i].dtype = .f32
                    es[i].bytes = es[i].bytes.flatMap { b in withUnsafeBytes(of: Float(Int8(bitPattern: b))) { Array($0) } }
                }
            }
        case "int8 weight in float checkpoint":
            expectKey = "vision_model.encoder.layers.0.self_attn.q_proj.weight"   // the first int8 weight read
            let config = try String(contentsOfFile: dir + "/config.json", encoding: .utf8)
            try config.replacingOccurrences(of: "\"quantization_config\"", with: "\"not_quantization_config\"")
                .write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        case "unknown method", "bad version":
            expectKey = mutation == "unknown method" ? "quantization_config.quant_method" : "quantization_config.format_version"
            let config = try String(contentsOfFile: dir + "/config.json", encoding: .utf8)
            try (mutation == "unknown method"
                 ? config.replacingOccurrences(of: "swift-clip-int8", with: "gptq")
                 : config.replacingOccurrences(of: "\"format_version\": 1", with: "\"format_version\": 7"))
                .write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        default: break
        }
        do {
            _ = try CLIPModel(directory: dir, options: LoadOptions(backend: .portable))
            Issue.record("\(mutation): loaded")
        } catch {
            let text = String(describing: error)
            #expect(text.contains(expectKey), "\(mutation): \(text)")
            #expect(error is WeightError || error is ConfigError || error is SafeTensorsError, "\(mutation): untyped \(type(of: error))")
        }
    }
}
