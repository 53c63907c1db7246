// A model loaded with copyWeights survives its files being truncated, overwritten and replaced (a server's deploy).

import CLIPZeroShot
import Foundation
import Testing

struct WeightResidencyTests {
    @Test("copied weights: truncating, overwriting and replacing the file changes nothing")
    func copiedWeightsSurviveFileChanges() throws {
        let demo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Weights/demo").path
        let dir = NSTemporaryDirectory() + "clip-residency-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in ["config.json", "model.safetensors", "preprocessor_config.json"]
        where FileManager.default.fileExists(atPath: demo + "/" + name) {
            try FileManager.default.copyItem(atPath: demo + "/" + name, toPath: dir + "/" + name)
        }
        let clip = try CLIP(directory: dir, options: LoadOptions(preparedWeightsDirectory: dir + "/cache", copyWeights: true))
        let before = try clip.textEmbeddings(["a dog", "a red circle"])
        let image = try clip.imageEmbeddings([.pixels(try RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 200, count: 12)))])
        #expect(!FileManager.default.fileExists(atPath: dir + "/cache"), "no mapped cache with copied weights")

        let file = dir + "/model.safetensors"
        let size = try (FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
        // Truncate in place, then overwrite in place with other bytes of the same size, then replace by rename.
        try FileHandle(forWritingTo: URL(fileURLWithPath: file)).truncate(atOffset: 0)
        #expect(try clip.textEmbeddings(["a dog", "a red circle"]) == before)
        try Data(repeating: 0x7F, count: size).write(to: URL(fileURLWithPath: file))
        #expect(try clip.textEmbeddings(["a dog", "a red circle"]) == before)
        #expect(try clip.imageEmbeddings([.pixels(try RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 200, count: 12)))]) == image)
        try Data("junk".utf8).write(to: URL(fileURLWithPath: dir + "/new.safetensors"))
        _ = rename(dir + "/new.safetensors", file)
        #expect(try clip.textEmbeddings(["a dog", "a red circle"]) == before)
    }
}
