// The `clip` command line: tokenize, preprocess, embed-image, embed-text, classify, search.

import ArgumentParser
import CLIPZeroShot
import Foundation

@main
struct CLIP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clip",
        abstract: "CLIP (ViT-B/32) zero-shot classification, embeddings and image search, in Swift.",
        discussion: """
        Weights come from --weights DIR (a Hugging Face CLIP directory: config.json + model.safetensors),
        else $CLIP_WEIGHTS, else the bundled demo model (a tiny CLIP trained on synthetic shapes).
        """,
        subcommands: [Classify.self, EmbedImage.self, EmbedText.self, Search.self, Serve.self, Quantize.self, Tokenize.self,
                      Preprocess.self],
        defaultSubcommand: nil)

    /// Runs a command body, printing any error as one line on stderr and exiting with status 1.
    static func run(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let e as ExitCode {
            throw e
        } catch {
            FileHandle.standardError.write(Data("error: \(describe(error))\n".utf8))
            throw ExitCode(1)
        }
    }

    static func describe(_ error: Error) -> String {
        if let e = error as? ValidationError { return e.message }
        return String(describing: error)
    }
}

/// `--weights` with the `$CLIP_WEIGHTS` and bundled-demo fallbacks.
struct WeightsOption: ParsableArguments {
    @Option(name: .long, help: "Hugging Face CLIP directory (config.json + model.safetensors).")
    var weights: String?

    @Option(name: .long, help: ArgumentHelp(
        "Compute backend: automatic, avx512, avx2, portable, blas, blas-split (default: $CLIP_BACKEND, else automatic).",
        valueName: "name"))
    var backend: String?

    @Option(name: .long, help: "Threads per operation (default: $CLIP_THREADS, else every core).")
    var threads: Int?

    /// `--backend` / `--threads`, falling back to `$CLIP_BACKEND` / `$CLIP_THREADS` (read here, never in the libraries).
    func loadOptions() throws -> LoadOptions {
        let env = ProcessInfo.processInfo.environment
        let name = backend ?? env["CLIP_BACKEND"].flatMap { $0.isEmpty ? nil : $0 } ?? "automatic"
        guard let chosen = ComputeBackend(rawValue: name) else {
            throw ValidationError("unknown backend \"\(name)\" (expected one of: \(ComputeBackend.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        var n = threads
        if n == nil, let raw = env["CLIP_THREADS"], !raw.isEmpty {
            guard let v = Int(raw), v > 0 else { throw ValidationError("CLIP_THREADS=\(raw) is not a positive integer") }
            n = v
        }
        if let n, n < 1 { throw ValidationError("--threads must be 1 or more") }
        return LoadOptions(backend: chosen, threads: n, preparedWeightsDirectory: WeightsOption.preparedWeightsDirectory(env))
    }

    /// Where prepared (packed) weights are cached: `$CLIP_CACHE_DIR` ("" or "off" disables the cache), else
    /// `$XDG_CACHE_HOME/swift-clip`, else `~/.cache/swift-clip`.
    static func preparedWeightsDirectory(_ env: [String: String]) -> String? {
        if let dir = env["CLIP_CACHE_DIR"] { return dir.isEmpty || dir == "off" ? nil : dir }
        if let xdg = env["XDG_CACHE_HOME"], xdg.hasPrefix("/") { return xdg + "/swift-clip" }
        if let home = env["HOME"], home.hasPrefix("/") { return home + "/.cache/swift-clip" }
        return nil
    }

    /// The directory to load and whether it is the bundled demo.
    func resolve() throws -> String {
        if let weights { return weights }
        if let env = ProcessInfo.processInfo.environment["CLIP_WEIGHTS"], !env.isEmpty { return env }
        let demo = DemoModel.directory
        guard FileManager.default.fileExists(atPath: demo + "/model.safetensors") else {
            throw ValidationError("no weights given (--weights or $CLIP_WEIGHTS) and the bundled demo model is not at \(demo)")
        }
        FileHandle.standardError.write(Data(
            "note: using the bundled demo model (synthetic shapes only); for real images run Tools/download-weights and pass --weights\n".utf8))
        return demo
    }

    func load() throws -> CLIPZeroShot { try CLIPZeroShot(directory: resolve(), options: loadOptions()) }
}

/// The demo model shipped in the repository's Weights/demo.
enum DemoModel {
    static var directory: String {
        // Sources/clip/CLI.swift → repository root
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent("Weights/demo").path
    }
}

/// Reads a JSON array of strings from a file (used by --input-json / --labels-file).
func readStringList(_ path: String, what: String) throws -> [String] {
    let bytes = try readFile(path, limit: 64 << 20)
    if path.hasSuffix(".json") {
        let v = try JSONValue.parse(bytes)
        guard let arr = v.arrayValue else { throw ValidationError("\(path): \(what) must be a JSON array of strings") }
        return try arr.enumerated().map { i, item in
            guard let s = item.stringValue else { throw ValidationError("\(path): element \(i) is \(item.kindName), not a string") }
            return s
        }
    }
    guard let text = String(validating: bytes, as: UTF8.self) else {
        throw ValidationError("\(path): not valid UTF-8 text")
    }
    return text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
}

func printJSON(_ value: Any) throws {
    let data = try JSONSerialization.data(withJSONObject: value, options: [.withoutEscapingSlashes])
    FileHandle.standardOutput.write(data)
    FileHandle.standardOutput.write(Data("\n".utf8))
}

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print CLIP token ids as JSON: {\"input_ids\": [[49406, …, 49407], …]}.")

    @Option(name: .customLong("input-json"), help: "JSON file with an array of strings.")
    var inputJSON: String?

    @Argument(help: "Texts to tokenize.")
    var texts: [String] = []

    func run() throws {
        try CLIP.run {
            let all = try (inputJSON.map { try readStringList($0, what: "input") } ?? []) + texts
            let tok = try CLIPTokenizer.shared()
            try printJSON(["input_ids": all.map { tok.encode($0) }])
        }
    }
}

struct Preprocess: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Decode and preprocess an image to a (3, 224, 224) float32 .npy file.")

    @Argument(help: "Image file.") var image: String
    @Option(name: .long, help: "Output .npy path.") var output: String
    @Option(name: .long, help: "Output size (default 224).") var size: Int = 224

    func run() throws {
        try CLIP.run {
            guard size > 0, size <= 8192 else { throw ValidationError("--size must be in 1...8192") }
            let img = try ImageDecoder().decode(path: image)
            let pixels = ImagePreprocessor(size: size)(img)
            try NPY.write(pixels, shape: [3, size, size], to: output)
        }
    }
}

struct EmbedImage: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "embed-image", abstract: "Image embeddings (get_image_features).")

    @OptionGroup var weights: WeightsOption
    @Flag(name: .long, help: "L2-normalise each embedding.") var normalize = false
    @Option(name: .long, help: "Write an (N, D) float32 .npy file.") var output: String?
    @Flag(name: .long, help: "Print {\"embeddings\": [[…], …]}.") var json = false
    @Argument(help: "Image files.") var images: [String]

    func run() throws {
        try CLIP.run {
            guard !images.isEmpty else { throw ValidationError("give at least one image") }
            let clip = try weights.load()
            let e = try clip.imageEmbeddings(images.map { .path($0) }, normalized: normalize)
            try emit(e, output: output, json: json)
        }
    }
}

struct EmbedText: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "embed-text", abstract: "Text embeddings (get_text_features).")

    @OptionGroup var weights: WeightsOption
    @Flag(name: .long, help: "L2-normalise each embedding.") var normalize = false
    @Option(name: .customLong("input-json"), help: "JSON file with an array of strings.") var inputJSON: String?
    @Option(name: .long, help: "Write an (N, D) float32 .npy file.") var output: String?
    @Flag(name: .long, help: "Print {\"embeddings\": [[…], …]}.") var json = false
    @Argument(help: "Texts.") var texts: [String] = []

    func run() throws {
        try CLIP.run {
            let all = try (inputJSON.map { try readStringList($0, what: "input") } ?? []) + texts
            guard !all.isEmpty else { throw ValidationError("give at least one text (arguments or --input-json)") }
            let clip = try weights.load()
            try emit(try clip.textEmbeddings(all, normalized: normalize), output: output, json: json)
        }
    }
}

/// Writes embeddings as .npy and/or JSON (JSON when neither is asked for).
func emit(_ e: Tensor, output: String?, json: Bool) throws {
    if let output { try NPY.write(e.storage, shape: e.shape, to: output) }
    if json || output == nil {
        let d = e.shape[1]
        let rows = (0..<e.shape[0]).map { i in e.storage[(i * d)..<((i + 1) * d)].map { Double($0) } }
        try printJSON(["embeddings": rows])
    }
}

struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Zero-shot classification of images against candidate labels.",
        discussion: "Example: clip classify Weights/samples/red-circle.png --labels \"red circle\" \"blue square\" \"green triangle\"")

    @OptionGroup var weights: WeightsOption
    @Argument(help: "Image files.") var images: [String]
    @Option(name: .long, parsing: .upToNextOption, help: "Candidate labels.") var labels: [String] = []
    @Option(name: .customLong("labels-file"), help: "File with one label per line (or a JSON array).") var labelsFile: String?
    @Option(name: .long, help: "Prompt template with {} for the label (default \"This is a photo of {}.\").") var template: String?
    @Flag(name: .customLong("no-template"), help: "Use the labels verbatim.") var noTemplate = false
    @Option(name: .long, help: "Prompt ensemble preset: imagenet (OpenAI's 80 templates).") var ensemble: String?
    @Option(name: .long, help: "Show the K best labels (default: all).") var top: Int?
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() throws {
        try CLIP.run {
            guard !images.isEmpty else { throw ValidationError("give at least one image") }
            let allLabels = try labels + (labelsFile.map { try readStringList($0, what: "labels") } ?? [])
            guard !allLabels.isEmpty else { throw ValidationError("give labels with --labels or --labels-file") }
            if let top, top < 1 { throw ValidationError("--top must be at least 1") }
            let templates: [String?]
            if let ensemble {
                guard ensemble.lowercased() == "imagenet" else { throw ValidationError("unknown --ensemble \"\(ensemble)\" (available: imagenet)") }
                templates = CLIPZeroShot.imageNetTemplates
            } else if noTemplate {
                templates = [nil]
            } else {
                templates = [template ?? CLIPZeroShot.defaultTemplate]
            }
            let clip = try weights.load()
            let results = try clip.classify(images: images.map { .path($0) }, labels: allLabels, templates: templates)
            let shown = results.map { Array($0.prefix(top ?? $0.count)) }
            if json {
                let arrays = shown.map { $0.map { ["label": $0.label, "score": Double($0.score)] as [String: Any] } }
                try printJSON(images.count == 1 ? arrays[0] : arrays)
            } else {
                for (path, ranked) in zip(images, shown) {
                    if images.count > 1 { print(path) }
                    let width = min(40, ranked.map(\.label.count).max() ?? 0)
                    for r in ranked {
                        let bar = String(repeating: "█", count: Int((r.score * 30).rounded()))
                        print("  \(r.label.padding(toLength: width, withPad: " ", startingAt: 0))  \(String(format: "%6.2f%%", r.score * 100))  \(bar)")
                    }
                }
            }
        }
    }
}
