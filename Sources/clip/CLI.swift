// The `clip` command line: classify, embed-image, embed-text, search, serve, quantize, tokenize, preprocess.

import ArgumentParser
import CLIPTokenizer
import CLIPZeroShot
import Foundation
import VisionTransformer
#if canImport(Glibc)
import Glibc
#endif

@main
struct ClipCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clip",
        abstract: "CLIP (ViT-B/32) zero-shot classification, embeddings and image search, in Swift.",
        discussion: """
        Weights come from --weights DIR (a Hugging Face CLIP directory: config.json + model.safetensors),
        else $CLIP_WEIGHTS, else the bundled demo model (a tiny CLIP trained on synthetic shapes).
        Errors, usage errors included, are one line on stderr and exit status 1.
        """,
        version: CLIP.version,
        subcommands: [Classify.self, EmbedImage.self, EmbedText.self, Search.self, Serve.self, Quantize.self, Tokenize.self,
                      Preprocess.self])

    /// Parses and runs a command. `--help` and `--version` print and exit 0; every other error, usage errors
    /// included, is one line on stderr and exit status 1 (a command that already reported its own failures
    /// exits with the code it chose).
    static func main() async {
        let command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }
            fail(oneLine(message(for: error)) + " (see `clip --help`)")
        }
        do {
            if var async = command as? AsyncParsableCommand {
                try await async.run()
            } else {
                var sync = command
                try sync.run()
            }
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch {
            // `clip SUBCOMMAND --help` arrives here, as a help request thrown by the parser's help command.
            if exitCode(for: error) == .success { exit(withError: error) }
            fail(oneLine(message(for: error)))
        }
    }

    static func oneLine(_ s: String) -> String {
        s.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .joined(separator: " ")
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        Foundation.exit(1)
    }
}

/// A line on stderr.
func note(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

/// Whether stderr is a terminal (progress bars only then).
var stderrIsTerminal: Bool { isatty(2) == 1 }

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

    @Flag(name: .long, help:
        "For an int8 checkpoint, keep the vision weights' 8 bits (on AVX2 they are requantized to ±64 for a faster kernel by default).")
    var fullInt8Precision = false

    /// `--backend` / `--threads`, falling back to `$CLIP_BACKEND` / `$CLIP_THREADS` (read here, never in the libraries).
    func loadOptions(copyWeights: Bool = false) throws -> LoadOptions {
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
        return LoadOptions(backend: chosen, threads: n, preparedWeightsDirectory: WeightsOption.preparedWeightsDirectory(env),
                           copyWeights: copyWeights, fullInt8Precision: fullInt8Precision)
    }

    /// Where prepared (packed) weights are cached: `$CLIP_CACHE_DIR` ("" or "off" disables the cache), else
    /// `$XDG_CACHE_HOME/swift-clip`, else `~/.cache/swift-clip`.
    static func preparedWeightsDirectory(_ env: [String: String]) -> String? {
        if let dir = env["CLIP_CACHE_DIR"] { return dir.isEmpty || dir == "off" ? nil : dir }
        if let xdg = env["XDG_CACHE_HOME"], xdg.hasPrefix("/") { return xdg + "/swift-clip" }
        if let home = env["HOME"], home.hasPrefix("/") { return home + "/.cache/swift-clip" }
        return nil
    }

    /// The directory to load: --weights, else $CLIP_WEIGHTS, else the bundled demo model.
    func resolve() throws -> String {
        if let weights { return weights }
        if let env = ProcessInfo.processInfo.environment["CLIP_WEIGHTS"], !env.isEmpty { return env }
        let demo = try DemoModel.locate()
        note("note: using the bundled demo model (synthetic shapes only); for real images run Tools/download-weights and pass --weights")
        return demo
    }

    func load() throws -> CLIP { try CLIP(directory: resolve(), options: loadOptions()) }
}

/// The demo model (the repository's `Weights/demo`), found from the executable's own location, so a copied or
/// installed `clip` finds it too: `$CLIP_DEMO_WEIGHTS`, then `Weights/demo` in the executable's folder or any of
/// its four parents (a build inside the repository), then `../share/swift-clip/demo` (an install prefix).
enum DemoModel {
    static func candidates() -> [String] {
        var out: [String] = []
        if let env = ProcessInfo.processInfo.environment["CLIP_DEMO_WEIGHTS"], !env.isEmpty { out.append(env) }
        let exe = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        let bin = dir
        for _ in 0..<5 {
            out.append(dir.appendingPathComponent("Weights/demo").path)
            dir = dir.deletingLastPathComponent()
        }
        out.append(bin.deletingLastPathComponent().appendingPathComponent("share/swift-clip/demo").path)
        return out
    }

    static func locate() throws -> String {
        let places = candidates()
        if let hit = places.first(where: { FileManager.default.fileExists(atPath: $0 + "/model.safetensors") }) { return hit }
        throw ValidationError("no weights given (--weights DIR or $CLIP_WEIGHTS) and no bundled demo model next to this executable (looked in \(places.joined(separator: ", ")))")
    }
}

/// Reads a list of strings from a file: a JSON array of strings (`.json`), else one item per line with
/// surrounding whitespace trimmed and blank lines skipped; with `comments`, lines starting with `#` are skipped.
func readStringList(_ path: String, what: String, comments: Bool = false) throws -> [String] {
    let bytes = try readTextFile(path)
    if path.hasSuffix(".json") {
        guard let array = (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) as? [Any] else {
            throw ValidationError("\(path): \(what) must be a JSON array of strings")
        }
        return try array.enumerated().map { i, item in
            guard let s = item as? String else { throw ValidationError("\(path): element \(i) is not a string") }
            return s
        }
    }
    guard let text = String(validating: bytes, as: UTF8.self) else { throw ValidationError("\(path): not valid UTF-8 text") }
    return text.split(whereSeparator: \.isNewline)
        .map { $0.trimmingCharacters(in: .whitespaces) }
        .filter { !$0.isEmpty && !(comments && $0.hasPrefix("#")) }
}

/// A whole text file, up to 64 MiB.
func readTextFile(_ path: String) throws -> [UInt8] {
    guard let h = FileHandle(forReadingAtPath: path) else { throw ValidationError("\(path): cannot open") }
    defer { try? h.close() }
    let data = try h.read(upToCount: 64 << 20 + 1) ?? Data()
    guard data.count <= 64 << 20 else { throw ValidationError("\(path): larger than 64 MiB") }
    return [UInt8](data)
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
        let all = try (inputJSON.map { try readStringList($0, what: "input") } ?? []) + texts
        let tok = try CLIPTokenizer.shared()
        try printJSON(["input_ids": all.map { tok.encode($0) }])
    }
}

struct Preprocess: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Decode and preprocess an image to a (3, 224, 224) float32 .npy file.")

    @Argument(help: "Image file.") var image: String
    @Option(name: .long, help: "Output .npy path.") var output: String
    @Option(name: .long, help: "Output size (default 224).") var size: Int = 224

    func validate() throws {
        guard size > 0, size <= 8192 else { throw ValidationError("--size must be in 1...8192") }
    }

    func run() throws {
        let img = try ImageDecoder().decode(path: image)
        let pixels = ImagePreprocessor(size: size)(img)
        try NPY.write(pixels, shape: [3, size, size], to: output)
    }
}

struct EmbedImage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed-image", abstract: "Image embeddings (get_image_features), L2-normalised unless --raw.")

    @OptionGroup var weights: WeightsOption
    @Flag(name: .long, help: "Unnormalised embeddings (the projection's raw output).") var raw = false
    @Option(name: .long, help: "Write an (N, D) float32 .npy file.") var output: String?
    @Flag(name: .long, help: "Print {\"embeddings\": [[…], …]} (the default when --output is not given).") var json = false
    @Argument(help: "Image files.") var images: [String]

    func validate() throws {
        guard !images.isEmpty else { throw ValidationError("give at least one image") }
    }

    func run() throws {
        let clip = try weights.load()
        try emit(try clip.imageEmbeddings(images.map { .path($0) }, normalized: !raw), output: output, json: json)
    }
}

struct EmbedText: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed-text", abstract: "Text embeddings (get_text_features), L2-normalised unless --raw.")

    @OptionGroup var weights: WeightsOption
    @Flag(name: .long, help: "Unnormalised embeddings (the projection's raw output).") var raw = false
    @Option(name: .customLong("input-json"), help: "JSON file with an array of strings.") var inputJSON: String?
    @Option(name: .long, help: "Write an (N, D) float32 .npy file.") var output: String?
    @Flag(name: .long, help: "Print {\"embeddings\": [[…], …]} (the default when --output is not given).") var json = false
    @Argument(help: "Texts.") var texts: [String] = []

    func run() throws {
        let all = try (inputJSON.map { try readStringList($0, what: "input") } ?? []) + texts
        guard !all.isEmpty else { throw ValidationError("give at least one text (arguments or --input-json)") }
        let clip = try weights.load()
        try emit(try clip.textEmbeddings(all, normalized: !raw), output: output, json: json)
    }
}

/// Writes embeddings as .npy and/or JSON (JSON when neither is asked for).
func emit(_ e: Embeddings, output: String?, json: Bool) throws {
    if let output { try NPY.write(e.values, shape: [e.count, e.dimension], to: output) }
    if json || output == nil {
        try printJSON(["embeddings": e.rows.map { $0.map(Double.init) }])
    }
}
