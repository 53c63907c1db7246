// CLIPZeroShot against transformers' zero-shot-image-classification pipeline on a tiny full-vocabulary CLIP
// (Tools/make_classify_fixture.py), plus templates, ensembling, the label cache, concurrency and errors.

import CLIPZeroShot
import Foundation
import Testing

struct FacadeTests {
    static let dir = fixtures + "/classify"
    static let clip: CLIPZeroShot? = try? CLIPZeroShot(directory: dir)
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
        let clip = try #require(Self.clip)
        let ref = Self.reference?["images"]?[image]
        let path = CLIPImage.path(Self.dir + "/" + image)
        expectScores(try clip.classify(image: path, labels: labels()), ref?["default"], "\(image) default")
        expectScores(try clip.classify(image: path, labels: labels(), template: nil), ref?["verbatim"], "\(image) verbatim")
        expectScores(try clip.classify(image: path, labels: labels(), template: "a drawing of a {}"), ref?["custom"],
                     "\(image) custom")
    }

    @Test("prompt ensembling with OpenAI's 80 templates equals the Python reference", arguments: images)
    func ensemble(_ image: String) throws {
        let clip = try #require(Self.clip)
        #expect(CLIPZeroShot.imageNetTemplates.count == 80)
        let got = try clip.classify(image: .path(Self.dir + "/" + image), labels: labels(),
                                    templates: CLIPZeroShot.imageNetTemplates)
        expectScores(got, Self.reference?["images"]?[image]?["ensemble"], "\(image) ensemble")
    }

    @Test("the label cache returns identical results and does not re-encode")
    func cache() throws {
        let fresh = try CLIPZeroShot(model: try #require(Self.clip).model, tokenizer: .shared())
        let image = CLIPImage.path(Self.dir + "/red-circle.png")
        let first = try fresh.classify(image: image, labels: labels())
        #expect(fresh.cachedPromptCount == labels().count)
        let second = try fresh.classify(image: image, labels: labels())
        #expect(first == second)
        #expect(fresh.cachedPromptCount == labels().count)
        // A tiny cache still gives the same answers (entries are evicted and recomputed).
        let tiny = CLIPZeroShot(model: fresh.model, tokenizer: try fresh.tokenizer, cacheCapacity: 2)
        #expect(try tiny.classify(image: image, labels: labels()) == first)
        #expect(tiny.cachedPromptCount <= 2)
    }

    @Test("64 concurrent classify calls equal the serial results")
    func concurrency() async throws {
        let clip = try #require(Self.clip)
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
        let clip = try #require(Self.clip)
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
        let clip = try #require(Self.clip)
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
        let clip = try #require(Self.clip)
        let paths = Self.images.map { CLIPImage.path(Self.dir + "/" + $0) }
        let batch = try clip.imageEmbeddings(paths)
        let d = batch.shape[1]
        for (i, p) in paths.enumerated() {
            let single = try clip.imageEmbeddings([p])
            expectClose(single.storage, Array(batch.storage[(i * d)..<((i + 1) * d)]), atol: 1e-5, "image \(i) batch vs single")
            let norm = single.storage.map { $0 * $0 }.reduce(0, +)
            #expect(abs(norm - 1) < 1e-5)
        }
        let decoded = try clip.decode(paths[0])
        expectClose(try clip.imageEmbeddings([.pixels(decoded)]).storage, Array(batch.storage[0..<d]), atol: 1e-6, "pixels input")
        let sim = CLIPZeroShot.similarity(batch, batch)
        for i in 0..<3 { #expect(abs(sim[i, i] - 1) < 1e-5) }
    }
}

struct CancellationTests {
    @Test("cancelling a task mid-batch stops it and leaves the model usable")
    func cancelMidBatch() async throws {
        let clip = try CLIPZeroShot(directory: FacadeTests.dir)
        let image = CLIPImage.path(FacadeTests.dir + "/red-circle.png")
        let before = try clip.classify(image: image, labels: ["red circle", "blue square"])
        let many = [CLIPImage](repeating: image, count: 200)
        let task = Task { try await clip.cancellableImageEmbeddings(many) }
        try await Task.sleep(for: .milliseconds(20))
        task.cancel()
        let outcome = await task.result
        switch outcome {
        case .failure(let e): #expect(e is CancellationError, "\(e)")
        case .success(let t): #expect(t.shape == [200, clip.model.config.projectionDim])   // finished before the cancel
        }
        #expect(try clip.classify(image: image, labels: ["red circle", "blue square"]) == before)
        let single = try await clip.cancellableImageEmbeddings([image])
        #expect(single.shape[0] == 1)
    }
}
