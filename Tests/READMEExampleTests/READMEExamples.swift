// The README's Swift examples, verbatim inside functions: this target compiles them (they are never run), and
// READMEExampleTests checks that every README block still appears here line for line.

import CLIPSearch
import CLIPZeroShot
import Foundation
import Testing

/// README example 1.
func readmeExample1() async throws {
    let clip = try CLIP(directory: "/models/clip-vit-base-patch32")   // config.json + model.safetensors

    // Zero-shot classification: softmax over exp(logit_scale)·cos, the same numbers as transformers'
    // pipeline("zero-shot-image-classification"). The template defaults to "This is a photo of {}.".
    let ranked = try clip.classify(image: .path("dog.jpg"), labels: ["dog", "cat", "car"])
    print(ranked[0].label, ranked[0].score)

    // Labels used verbatim, a template of your own, or OpenAI's 80-template prompt ensemble.
    _ = try clip.classify(image: .path("dog.jpg"), labels: ["a photo of a dog", "a photo of a cat"], template: .verbatim)
    _ = try clip.classify(image: .path("dog.jpg"), labels: ["dog", "cat"], template: "a drawing of a {}.")
    _ = try clip.classify(image: .path("dog.jpg"), labels: ["dog", "cat"], templates: PromptTemplate.imageNet)

    // Embeddings (L2-normalised by default), from files, encoded bytes ([UInt8] or Data) or RGB8 pixels.
    let pngData = try Data(contentsOf: URL(fileURLWithPath: "b.png"))
    let images = try clip.imageEmbeddings([.path("a.jpg"), .data(pngData), .pixels(try RGBImage(width: 1, height: 1, pixels: [255, 0, 0]))])
    let texts = try clip.textEmbeddings(["a dog on a beach", "a red car"])
    let similarity = try CLIP.similarity(images, texts)          // [[Float]], 3 × 2 cosines
    print(images.count, images.dimension, similarity[0][1])

    // Async, cancellable between batches of 8 images.
    let task = Task { try await clip.embedImages([.path("a.jpg"), .path("b.png")]) }
    _ = try await task.value
}

/// README example 2.
func readmeExample2() async throws {
    let clip = try CLIP(directory: "/models/clip-vit-base-patch32")
    let summary = try ImageIndexer(path: "photos.db", clip: clip).update(folder: "photos") { p in print(p.done, p.total) }
    print(summary.embedded, "embedded,", summary.failed.count, "failed")
    let index = try ImageIndex(path: "photos.db")
    for hit in try index.search(text: "a dog on a beach", with: clip, top: 5, filter: .prefix("photos/2024/")) {
        print(hit.score, hit.path)
    }
}

struct READMEExampleTests {
    @Test("every Swift block of the README that imports CLIPZeroShot is compiled here, line for line")
    func examplesAreCompiled() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let here = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        let compiled = here.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasPrefix("    ") ? String($0.dropFirst(4)) : String($0) }
        let blocks = readme.components(separatedBy: "```swift\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
            .filter { $0.contains("import CLIPZeroShot") }
        #expect(blocks.count >= 2)
        for block in blocks {
            let all = block.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            // The block's imports are this file's (so it compiles with exactly what the README imports).
            for i in all where i.hasPrefix("import ") { #expect(compiled.contains(i), "README import \(i) missing here") }
            let lines = all.filter { !$0.hasPrefix("import ") && !$0.isEmpty }
            var k = 0
            for line in compiled where k < lines.count && line == lines[k] { k += 1 }
            #expect(k == lines.count, "README line not compiled here: \(k < lines.count ? lines[k] : "")")
        }
    }
}

