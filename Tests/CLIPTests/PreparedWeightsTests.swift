// The prepared-weights cache: written on the first load, memory-mapped on the next with identical results, and
// rebuilt (never served stale) when the checkpoint changes or the cache file is damaged.

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
struct PreparedWeightsTests {
    /// A private copy of a fixture checkpoint and an empty cache directory.
    struct Scratch {
        let model: String
        let cache: String
        init() throws {
            let root = NSTemporaryDirectory() + "/prepared-tests-\(UUID().uuidString)"
            model = root + "/model"
            cache = root + "/cache"
            try FileManager.default.createDirectory(atPath: model, withIntermediateDirectories: true)
            for name in ["config.json", "model.safetensors"] {
                try FileManager.default.copyItem(atPath: fixtures + "/tiny-clip-quick/" + name, toPath: model + "/" + name)
            }
        }
        func options(_ backend: ComputeBackend = .automatic) -> LoadOptions {
            LoadOptions(backend: backend, preparedWeightsDirectory: cache)
        }
        var cacheFiles: [String] { (try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? [] }
    }

    static let packedBackends = [ComputeBackend.avx512, .avx2, .portable].filter { (try? $0.resolved()) != nil }

    func features(_ model: CLIPModel) throws -> [Float] {
        let ref = try SafeTensorsFile(path: fixtures + "/tiny-clip-quick/reference.safetensors")
        let batch = try ref.info("pixel_values").shape[0]
        return try model.vision.imageFeatures(try ref.floats("pixel_values"), batch: batch).storage
            + model.text.textFeatures([[0, 320, 929, 2], [0, 2]]).storage
    }

    @Test("written once, then loaded with identical features", arguments: packedBackends)
    func writtenThenLoaded(_ backend: CLIPZeroShot.ComputeBackend) throws {
        let s = try Scratch()
        let uncached = try CLIPModel(directory: s.model, options: LoadOptions(backend: backend))
        #expect(uncached.preparedWeights == .disabled)
        let first = try CLIPModel(directory: s.model, options: s.options(backend))
        #expect(first.preparedWeights == .written, "\(first.preparedWeightsProblem ?? "")")
        #expect(s.cacheFiles.count == 1)
        let second = try CLIPModel(directory: s.model, options: s.options(backend))
        #expect(second.preparedWeights == .loaded)
        let expected = try features(uncached)
        #expect(try features(first) == expected)
        #expect(try features(second) == expected)
        // Mapping the pages in ahead of use (as CLIP.classify does) changes nothing, however often it is asked for.
        second.warmUp([.vision, .text])
        second.warmUp(CLIPModel.Tower.allCases)
        #expect(try features(second) == expected)
    }

    @Test("populate maps exactly the tensors asked for, and nothing when no key matches")
    func populateRange() throws {
        let s = try Scratch()
        _ = try CLIPModel(directory: s.model, options: s.options())
        let cacheFile = try #require(s.cacheFiles.first)
        let file = try SafeTensorsFile(path: s.cache + "/" + cacheFile)
        #expect(!file.populate { _ in false })
        let copy = try SafeTensorsFile(path: s.cache + "/" + cacheFile, copy: true)
        #expect(!copy.populate { _ in true }, "a copied (unmapped) file has nothing to populate")
        let key = try #require(file.keys.first { $0.hasPrefix("vision_model.") })
        let before = try file.floats(key)
        #if os(Linux)
        // MADV_POPULATE_READ exists since Linux 5.14; an older kernel refuses it and the pages fault in on use.
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let version = release.split(separator: ".").prefix(2).compactMap { Int($0) }
        if version.count == 2, (version[0], version[1]) >= (5, 14) {
            #expect(file.populate { $0.hasPrefix("vision_model.") })
        }
        #endif
        #expect(try file.floats(key) == before)
    }

    @Test("a changed checkpoint is never served from the old cache")
    func staleCacheIsRebuilt() throws {
        let s = try Scratch()
        _ = try CLIPModel(directory: s.model, options: s.options())
        // Replace the checkpoint by one with different weights (the F16 fixture, converted on load).
        let path = s.model + "/model.safetensors"
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: fixtures + "/tiny-clip-quick-f16/model.safetensors", toPath: path)
        let reloaded = try CLIPModel(directory: s.model, options: s.options())
        #expect(reloaded.preparedWeights == .written)
        let fresh = try CLIPModel(directory: s.model, options: LoadOptions())
        #expect(try features(reloaded) == features(fresh))
        // Rewriting the same bytes in place changes the file's times: rebuilt again.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        Thread.sleep(forTimeInterval: 0.01)
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect(try CLIPModel(directory: s.model, options: s.options()).preparedWeights == .written)
        #expect(try CLIPModel(directory: s.model, options: s.options()).preparedWeights == .loaded)
    }

    @Test("a damaged cache file is rebuilt, not trusted", arguments: ["truncated", "garbage", "empty"])
    func damagedCacheIsRebuilt(_ damage: String) throws {
        let s = try Scratch()
        let expected = try features(try CLIPModel(directory: s.model, options: s.options()))
        let file = s.cache + "/" + (s.cacheFiles.first ?? "missing")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        switch damage {
        case "truncated": try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: file))
        case "garbage": try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 37) }).write(to: URL(fileURLWithPath: file))
        default: try Data().write(to: URL(fileURLWithPath: file))
        }
        let model = try CLIPModel(directory: s.model, options: s.options())
        #expect(model.preparedWeights == .written)
        #expect(try features(model) == expected)
    }

    @Test("an unwritable cache directory only costs packing again")
    func unwritableDirectory() throws {
        let s = try Scratch()
        try Data("not a directory".utf8).write(to: URL(fileURLWithPath: s.cache))
        let model = try CLIPModel(directory: s.model, options: s.options())
        #expect(model.preparedWeights == .notWritten)
        #expect(model.preparedWeightsProblem != nil)
    }
}
