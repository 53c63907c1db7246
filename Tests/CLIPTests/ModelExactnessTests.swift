// Stage-by-stage comparison of the Swift forward pass with transformers' CLIPModel on tiny random checkpoints
// (fixtures written by Tools/make_model_fixtures.py).

import CLIPCore
import CLIPImageIO
import CLIPTokenizer
import CLIPZeroShot
import Tensor
import Testing
import TextTransformer
import VisionTransformer

struct ModelExactnessTests {
    static let tolerance: Float = 1e-5

    struct Fixture: Sendable, CustomTestStringConvertible {
        let name: String
        var testDescription: String { name }
        var dir: String { fixtures + "/" + name }

        func load(backend: ComputeBackend = .automatic) throws -> (CLIPModel, SafeTensorsFile, [[Int]]) {
            let model = try CLIPModel(directory: dir, options: LoadOptions(backend: backend))
            let reference = try SafeTensorsFile(path: dir + "/reference.safetensors")
            let inputs = try loadJSON(dir + "/inputs.json")
            let ids = (inputs["input_ids"]?.arrayValue ?? []).map { ($0.arrayValue ?? []).compactMap(\.intValue) }
            return (model, reference, ids)
        }
    }

    static let full = [Fixture(name: "tiny-clip-quick"), Fixture(name: "tiny-clip-gelu")]

    @Test("vision tower matches transformers at every stage", arguments: full)
    func vision(_ f: Fixture) throws {
        let (model, ref, _) = try f.load()
        let pixelsInfo = try ref.info("pixel_values")
        let batch = pixelsInfo.shape[0]
        let out = try model.vision.forward(try ref.floats("pixel_values"), batch: batch, keepHiddenStates: true)
        expectClose(out.embeddings.storage, try ref.floats("vision.embeddings"), atol: Self.tolerance, "\(f.name) embeddings")
        #expect(out.hiddenStates.count == model.config.vision.numHiddenLayers + 1)
        for (i, h) in out.hiddenStates.enumerated() {
            expectClose(h.storage, try ref.floats("vision.hidden_states.\(i)"), atol: Self.tolerance, "\(f.name) hidden_states[\(i)]")
        }
        expectClose(out.pooled.storage, try ref.floats("vision.pooled"), atol: Self.tolerance, "\(f.name) pooled")
        expectClose(out.imageEmbeds.storage, try ref.floats("image_embeds"), atol: Self.tolerance, "\(f.name) image_embeds")
    }

    @Test("text tower matches transformers at every stage", arguments: full)
    func text(_ f: Fixture) throws {
        let (model, ref, ids) = try f.load()
        let c = model.config.text.hiddenSize
        let padded = try ref.info("text.embeddings").shape[1]
        let out = try model.text.forward(ids, keepHiddenStates: true, fullSequences: true)
        // The reference is padded to the longest sequence; compare each sequence's real tokens.
        func rows(_ key: String, _ b: Int, _ len: Int) throws -> [Float] {
            let all = try ref.floats(key)
            return Array(all[(b * padded * c)..<((b * padded + len) * c)])
        }
        for (b, seq) in ids.enumerated() {
            expectClose(out.embeddings[b].storage, try rows("text.embeddings", b, seq.count), atol: Self.tolerance,
                        "\(f.name) text embeddings[\(b)]")
            for layer in 0..<out.hiddenStates.count {
                expectClose(out.hiddenStates[layer][b].storage, try rows("text.hidden_states.\(layer)", b, seq.count),
                            atol: Self.tolerance, "\(f.name) text hidden_states[\(layer)][\(b)]")
            }
            expectClose(out.lastHiddenState[b].storage, try rows("text.last_hidden_state", b, seq.count),
                        atol: Self.tolerance, "\(f.name) text last_hidden_state[\(b)]")
        }
        expectClose(out.pooled.storage, try ref.floats("text.pooled"), atol: Self.tolerance, "\(f.name) text pooled")
        expectClose(out.textEmbeds.storage, try ref.floats("text_embeds"), atol: Self.tolerance, "\(f.name) text_embeds")
        // Running only up to EOT (the default, fast path) gives the same features.
        let fast = try model.text.textFeatures(ids)
        expectClose(fast.storage, out.textEmbeds.storage, atol: 1e-6, "\(f.name) EOT-truncated text_embeds")
    }

    @Test("a prefix shared by every sequence runs once and gives transformers' features, on every backend",
          arguments: full, allBackends)
    func sharedPrefix(_ f: Fixture, _ backend: CLIPZeroShot.ComputeBackend) throws {
        let (model, ref, _) = try f.load(backend: backend)
        let inputs = try loadJSON(f.dir + "/inputs.json")
        let ids = (inputs["prefixed_input_ids"]?.arrayValue ?? []).map { ($0.arrayValue ?? []).compactMap(\.intValue) }
        #expect(ids.count == 5)
        // bos + 5 shared ids; the first sequence is nothing more than that and its EOT, so 6 rows are shared.
        #expect(TextTransformer.sharedPrefixLength(ids, lengths: ids.map(\.count)) == 6)
        let expected = try ref.floats("prefixed_text_embeds")
        let shared = try model.text.forward(ids).textEmbeds
        expectClose(shared.storage, expected, atol: Self.tolerance, "\(f.name) \(backend) shared-prefix text_embeds")
        let separate = try model.text.forward(ids, sharePrefix: false).textEmbeds
        expectClose(separate.storage, expected, atol: Self.tolerance, "\(f.name) \(backend) per-sequence text_embeds")
        // Any subset: a single sequence (nothing shared), or two that differ right after bos.
        for subset in [[ids[3]], [ids[3], ids[1]], [ids[4], ids[2]]] {
            let rows = subset.map { s in ids.firstIndex(of: s) ?? 0 }
            let want = rows.flatMap { r in expected[(r * shared.shape[1])..<((r + 1) * shared.shape[1])] }
            expectClose(try model.text.textFeatures(subset).storage, want, atol: Self.tolerance, "\(f.name) subset \(rows)")
        }
    }

    @Test("full sequences padded past EOT: the pooled token may sit inside the shared prefix", arguments: full)
    func sharedPrefixPastEOT(_ f: Fixture) throws {
        let (model, _, ids) = try f.load()
        let eot = ids[1].last ?? 0
        // Two copies of a sequence padded after EOT (shared prefix = everything but the last pad), and one that
        // differs only after its EOT: every pooled token lies inside the shared rows.
        let padded = ids[1] + [5, 6, 7]
        let batch = [padded, padded, ids[1] + [5, 6, 8]]
        #expect(batch.allSatisfy { $0.contains(eot) })
        let shared = try model.text.forward(batch, fullSequences: true).textEmbeds
        let separate = try model.text.forward(batch, fullSequences: true, sharePrefix: false).textEmbeds
        expectClose(shared.storage, separate.storage, atol: 1e-6, "\(f.name) full sequences, shared vs separate")
        let plain = try model.text.textFeatures([ids[1]])
        for b in 0..<3 {
            let d = plain.shape[1]
            expectClose(Array(shared.storage[(b * d)..<((b + 1) * d)]), plain.storage, atol: Self.tolerance, "\(f.name) row \(b)")
        }
    }

    @Test("shared prefix length: at least one token of each sequence stays its own")
    func sharedPrefixLength() {
        #expect(TextTransformer.sharedPrefixLength([[1, 2, 3, 9], [1, 2, 4, 9]], lengths: [4, 4]) == 2)
        #expect(TextTransformer.sharedPrefixLength([[1, 2, 9], [1, 2, 9]], lengths: [3, 3]) == 2)
        #expect(TextTransformer.sharedPrefixLength([[1, 2, 3, 9], [1, 2, 3, 9, 5]], lengths: [4, 4]) == 3)
        #expect(TextTransformer.sharedPrefixLength([[7, 9], [1, 9]], lengths: [2, 2]) == 0)
        #expect(TextTransformer.sharedPrefixLength([[1, 9]], lengths: [2]) == 1)
        #expect(TextTransformer.sharedPrefixLength([], lengths: []) == 0)
    }

    /// Every backend this CPU runs: the dispatched ISA tiers, the portable kernels and both BLAS ones.
    static let allBackends = ComputeBackend.allCases.filter { $0 != .automatic && (try? $0.resolved()) != nil }

    @Test("every compute backend gives the reference features", arguments: full, allBackends)
    func backends(_ f: Fixture, _ backend: CLIPZeroShot.ComputeBackend) throws {
        let (model, ref, ids) = try f.load(backend: backend)
        let batch = try ref.info("pixel_values").shape[0]
        let image = try model.vision.imageFeatures(try ref.floats("pixel_values"), batch: batch)
        expectClose(image.storage, try ref.floats("image_embeds"), atol: Self.tolerance, "\(f.name) \(backend) image_embeds")
        let text = try model.text.textFeatures(ids)
        expectClose(text.storage, try ref.floats("text_embeds"), atol: Self.tolerance, "\(f.name) \(backend) text_embeds")
    }

    @Test("logits and F16-stored weights", arguments: full + [Fixture(name: "tiny-clip-quick-f16")])
    func logits(_ f: Fixture) throws {
        let (model, ref, ids) = try f.load()
        let batch = try ref.info("pixel_values").shape[0]
        let image = try model.vision.imageFeatures(try ref.floats("pixel_values"), batch: batch)
        let text = try model.text.textFeatures(ids)
        expectClose(image.storage, try ref.floats("image_embeds"), atol: Self.tolerance, "\(f.name) image_embeds")
        expectClose(text.storage, try ref.floats("text_embeds"), atol: Self.tolerance, "\(f.name) text_embeds")
        let logits = try model.logits(imageEmbeds: Embeddings(image), textEmbeds: Embeddings(text))
        expectClose(logits, try ref.floats("logits_per_image"), atol: 1e-4, rtol: 1e-5, "\(f.name) logits")
        #expect(logits.count == batch * ids.count)
    }
}
