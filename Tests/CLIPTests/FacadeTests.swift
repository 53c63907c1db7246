// The CLIP facade against transformers' zero-shot-image-classification pipeline on a tiny full-vocabulary CLIP
// (Tools/make_classify_fixture.py), plus templates, ensembling, the label cache, concurrency and errors.

import CLIPCore
import CLIPImageIO
import CLIPTokenizer
import CLIPZeroShot
import Foundation
import Tensor
import Testing
import TextTransformer
import VisionTransformer

struct FacadeTests {
    static let dir = fixtures + "/classify"
    /// Loaded once; a load failure fails every test that uses it, with the error.
    static let loaded = Result { try CLIP(directory: dir) }
    static var clip: CLIP { get throws { try loaded.get() } }
    static let reference = try? loadJSON(dir + "/reference.json")
    static let images = ["red-circle.png", "blue-square-on-gray.png", "green-triangle-300x200.png"]

    func expectScores(_ got: [LabelScore], _ expected: JSONValue?, _ what: String) {
        let want = (expected?.arrayValue ?? []).map { ($0["label"]?.stringValue ?? "", Float($0["score"]?.doubleValue ?? -1)) }
        #expect(got.count == want.count, "\(what): \(got.count) scores, expected \(want.count)")
        for (g, w) in zip(got, want) {
            #expect(g.label == w.0, "\(what): order \(got.map(\.label)) vs \(want.map(\.0))")
            #expect(abs(g.score - w.1) <= 1e-5, "\(what) \(g.label): \(g.score) vs \(w.1)")
        }
    }

    func labels() -> [String] { (Self.reference?["labels"]?.arrayValue ?? []).compactMap(\.stringValue) }

    @Test("classify equals the transformers pipeline: default, verbatim and custom templates", arguments: images)
    func pipeline(_ image: String) throws {
        let clip = try Self.clip
        let ref = Self.reference?["images"]?[image]
        let path = CLIPImage.path(Self.dir + "/" + image)
        expectScores(try clip.classify(image: path, labels: labels()), ref?["default"], "\(image) default")
        expectScores(try clip.classify(image: path, labels: labels(), template: .verbatim), ref?["verbatim"], "\(image) verbatim")
        expectScores(try clip.classify(image: path, labels: labels(), template: "a drawing of a {}"), ref?["custom"],
                     "\(image) custom")
    }

    @Test("prompt ensembling with OpenAI's 80 templates equals the Python reference", arguments: images)
    func ensemble(_ image: String) throws {
        let clip = try Self.clip
        #expect(PromptTemplate.imageNet.count == 80)
        let got = try clip.classify(image: .path(Self.dir + "/" + image), labels: labels(), templates: PromptTemplate.imageNet)
        expectScores(got, Self.reference?["images"]?[image]?["ensemble"], "\(image) ensemble")
    }

    @Test("the label cache returns identical results and does not re-encode")
    func cache() throws {
        let fresh = try CLIP(model: try Self.clip.model, tokenizer: .shared())
        let image = CLIPImage.path(Self.dir + "/red-circle.png")
        let first = try fresh.classify(image: image, labels: labels())
        #expect(fresh.cachedPromptCount == labels().count)
        let second = try fresh.classify(image: image, labels: labels())
        #expect(first == second)
        #expect(fresh.cachedPromptCount == labels().count)
        // A tiny cache still gives the same answers (entries are evicted and recomputed).
        let tiny = CLIP(model: fresh.model, tokenizer: try fresh.tokenizer, cacheCapacity: 2)
        #expect(try tiny.classify(image: image, labels: labels()) == first)
        #expect(tiny.cachedPromptCount <= 2)
    }

    @Test("64 concurrent classify calls equal the serial results")
    func concurrency() async throws {
        let clip = try Self.clip
        let labels = labels()
        let serial = try Self.images.map { try clip.classify(image: .path(Self.dir + "/" + $0), labels: labels) }
        let results = try await withThrowingTaskGroup(of: (Int, [LabelScore]).self) { group in
            for i in 0..<64 {
                group.addTask {
                    let image = Self.images[i % Self.images.count]
                    return (i, try clip.classify(image: .path(Self.dir + "/" + image), labels: labels))
                }
            }
            var out: [(Int, [LabelScore])] = []
            for try await r in group { out.append(r) }
            return out
        }
        #expect(results.count == 64)
        for (i, r) in results { #expect(r == serial[i % Self.images.count], "call \(i)") }
    }

    @Test("bad requests are typed errors")
    func errors() throws {
        let clip = try Self.clip
        let image = CLIPImage.path(Self.dir + "/red-circle.png")
        #expect(throws: CLIPError.noLabels) { try clip.classify(image: image, labels: []) }
        #expect(throws: CLIPError.emptyLabel(index: 1)) { try clip.classify(image: image, labels: ["cat", "  "]) }
        #expect(throws: CLIPError.invalidTemplate("no placeholder")) {
            try clip.classify(image: image, labels: ["cat"], template: "no placeholder")
        }
        #expect(throws: CLIPError.noTemplates) { try clip.classify(image: image, labels: ["cat"], templates: []) }
        #expect(throws: ImageError.self) { try clip.classify(image: .data([1, 2, 3]), labels: ["cat"]) }
        #expect(throws: ImageError.self) { try clip.classify(image: .path("/nonexistent.png"), labels: ["cat"]) }
        #expect(throws: CLIPError.noInputs) { try clip.textEmbeddings([]) }
    }

    @Test("duplicate labels, long labels and many labels have defined results")
    func labelEdgeCases() throws {
        let clip = try Self.clip
        let image = CLIPImage.path(Self.dir + "/red-circle.png")
        let dup = try clip.classify(image: image, labels: ["red circle", "red circle", "blue square"])
        #expect(dup.count == 3)
        let reds = dup.filter { $0.label == "red circle" }.map(\.score)
        #expect(reds.count == 2 && reds[0] == reds[1])
        let long = String(repeating: "circle ", count: 1500)   // 10,500 characters → truncated to 77 tokens
        let r = try clip.classify(image: image, labels: [long, "square"])
        #expect(abs(r.map(\.score).reduce(0, +) - 1) < 1e-5)
        let many = (0..<1000).map { "label number \($0)" }
        let m = try clip.classify(image: image, labels: many)
        #expect(m.count == 1000)
        #expect(abs(m.map(\.score).reduce(0, +) - 1) < 1e-4)
    }

    @Test("embeddings are normalised, batched consistently, and raw pixels equal the decoded file")
    func embeddings() throws {
        let clip = try Self.clip
        let paths = Self.images.map { CLIPImage.path(Self.dir + "/" + $0) }
        let batch = try clip.imageEmbeddings(paths)
        #expect(batch.count == 3 && batch.dimension == clip.model.config.projectionDim)
        for (i, p) in paths.enumerated() {
            let single = try clip.imageEmbeddings([p])
            expectClose(Array(single[0]), Array(batch[i]), atol: 1e-5, "image \(i) batch vs single")
            let norm = single.values.map { $0 * $0 }.reduce(0, +)
            #expect(abs(norm - 1) < 1e-5)
        }
        let decoded = try clip.decode(paths[0])
        expectClose(Array(try clip.imageEmbeddings([.pixels(decoded)])[0]), Array(batch[0]), atol: 1e-6, "pixels input")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.dir + "/" + Self.images[0]))
        expectClose(Array(try clip.imageEmbeddings([.data(bytes)])[0]), Array(batch[0]), atol: 1e-6, "Data input")
        let sim = try CLIP.similarity(batch, batch)
        for i in 0..<3 { #expect(abs(sim[i][i] - 1) < 1e-5) }
        // Cosine is scale-free: raw (unnormalised) embeddings give the same similarities.
        let raw = try clip.imageEmbeddings(paths, normalized: false)
        let rawSim = try CLIP.similarity(raw, raw)
        for i in 0..<3 { expectClose(rawSim[i], sim[i], atol: 1e-5, "similarity of raw row \(i)") }
    }
}

struct CancellationTests {
    @Test("a cancelled task gets CancellationError from embedImages, and the model keeps serving")
    func cancelled() async throws {
        let clip = try FacadeTests.clip
        let image = CLIPImage.path(FacadeTests.dir + "/red-circle.png")
        let before = try clip.classify(image: image, labels: ["red circle", "blue square"])
        let many = [CLIPImage](repeating: image, count: 200)
        let task = Task { () async throws -> Embeddings in
            while !Task.isCancelled { await Task.yield() }   // call only once cancelled
            return try await clip.embedImages(many)
        }
        task.cancel()
        switch await task.result {
        case .failure(let e): #expect(e is CancellationError, "\(e)")
        case .success: Issue.record("embedImages ignored the cancellation and embedded all 200 images")
        }
        #expect(try clip.classify(image: image, labels: ["red circle", "blue square"]) == before)
        let single = try await clip.embedImages([image])
        #expect(single.count == 1)
    }
}
