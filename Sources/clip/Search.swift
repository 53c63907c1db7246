// `clip search`: index folders into a SQLite index, query it by text or image, export it.

import ArgumentParser
import CLIPSearch
import CLIPZeroShot
import Foundation

struct Search: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Image search: index folders, then query by text or image.",
        discussion: """
        The index is one SQLite file, by default \(ImageIndex.defaultPath) in the current directory (or $CLIP_INDEX),
        for every subcommand. Paths are stored relative to the index file's folder.
        """,
        subcommands: [SearchIndex.self, SearchQuery.self, SearchExport.self])
}

/// `--index`, then `$CLIP_INDEX`, then the default in the current directory.
struct IndexOption: ParsableArguments {
    @Option(name: .long, help: "Index file (default: $CLIP_INDEX, else \(ImageIndex.defaultPath)).") var index: String?

    var path: String {
        index ?? ProcessInfo.processInfo.environment["CLIP_INDEX"].flatMap { $0.isEmpty ? nil : $0 } ?? ImageIndex.defaultPath
    }
}

struct SearchIndex: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Embed every image under DIR; re-runs embed only new or changed files and drop deleted ones.")
    @OptionGroup var weights: WeightsOption
    @OptionGroup var index: IndexOption
    @Argument(help: "Folder of images.") var directory: String
    @Flag(name: .long, help: "Wait for another indexer of the same index to finish instead of failing.") var wait = false
    @Flag(name: .long, help: "Print the summary as JSON.") var json = false

    func run() throws {
        let clip = try weights.load()
        let indexer = try ImageIndexer(path: index.path, clip: clip, wait: wait)
        let bar = stderrIsTerminal ? ProgressBar(label: "embedding") : nil
        var lastLine = Date.distantPast
        let summary = try indexer.update(folder: directory) { p in
            if let bar {
                bar.update(p.done, p.total)
            } else if p.total > 0, p.done == p.total || Date().timeIntervalSince(lastLine) > 10 {
                lastLine = Date()
                note("embedded \(p.done)/\(p.total)")
            }
        }
        bar?.finish()
        if summary.modelChanged { note("note: the index had been built with other weights; every image was re-embedded") }
        for f in summary.failed { note("warning: skipped \(f.path): \(f.reason)") }
        if json {
            try printJSON([
                "index": index.path, "embedded": summary.embedded, "unchanged": summary.unchanged, "removed": summary.removed,
                "failed": summary.failed.map { ["path": $0.path, "reason": $0.reason] }, "skipped": summary.skipped,
            ] as [String: Any])
        } else {
            print("\(index.path): \(summary.embedded) embedded, \(summary.unchanged) unchanged, \(summary.removed) removed, " +
                  "\(summary.failed.count) failed, \(summary.skipped.count) skipped (not images)")
        }
    }
}

struct SearchQuery: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "query", abstract: "Best matches for a text or image query.")
    @OptionGroup var weights: WeightsOption
    @OptionGroup var index: IndexOption
    @Argument(help: "Query text.") var text: String?
    @Option(name: .long, help: "Query by this image instead of text.") var image: String?
    @Option(name: .long, help: "Number of results.") var top: Int = 10
    @Option(name: .long, help: "Only paths (as stored, relative to the index's folder) starting with this prefix.") var prefix: String?
    @Option(name: .long, help: "Only paths matching this glob (*, ?, [...]).") var glob: String?
    @Flag(name: .long, help: "Print [{\"path\", \"score\"}, …].") var json = false

    func validate() throws {
        guard (text == nil) != (image == nil) else { throw ValidationError("give either a query text or --image FILE") }
        guard top >= 1 else { throw ValidationError("--top must be at least 1") }
        if prefix != nil && glob != nil { throw ValidationError("--prefix and --glob conflict; give one") }
    }

    func run() throws {
        let idx = try ImageIndex(path: index.path)
        let clip = try weights.load()
        let filter: ImageIndex.Filter? = prefix.map { .prefix($0) } ?? glob.map { .glob($0) }
        let hits = try text.map { try idx.search(text: $0, with: clip, top: top, filter: filter) }
            ?? idx.search(image: .path(image ?? ""), with: clip, top: top, filter: filter)
        if json {
            try printJSON(hits.map { ["path": $0.path, "score": Double($0.score)] as [String: Any] })
        } else {
            for h in hits { print(String(format: "%.4f  ", h.score) + h.path) }
        }
    }
}

struct SearchExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write paths and vectors for a vector database: npy (OUT.npy + OUT.paths.txt) or jsonl.",
        discussion: """
        --format npy writes an (N, D) float32 OUT (npy) and the paths, one per line, to OUT with .paths.txt;
        --format jsonl writes one {"path", "embedding"} object per line. Vectors are L2-normalised.
        """)
    @OptionGroup var index: IndexOption
    @Option(name: .long, help: "npy or jsonl.") var format: String
    @Option(name: .long, help: "Output file.") var output: String

    func validate() throws {
        guard ["npy", "jsonl"].contains(format) else { throw ValidationError("--format must be npy or jsonl") }
    }

    func run() throws {
        let idx = try ImageIndex(path: index.path)
        var paths: [String] = []
        var values: [Float] = []
        var dimension = 0
        if format == "jsonl" {
            guard FileManager.default.createFile(atPath: output, contents: nil), let h = FileHandle(forWritingAtPath: output) else {
                throw ValidationError("\(output): cannot create")
            }
            defer { try? h.close() }
            try idx.forEachEntry { _, path, v in
                let line = try JSONSerialization.data(withJSONObject: ["path": path, "embedding": v.map(Double.init)],
                                                      options: [.withoutEscapingSlashes])
                try h.write(contentsOf: line + Data("\n".utf8))
                paths.append(path)
            }
        } else {
            try idx.forEachEntry { _, path, v in
                paths.append(path)
                values.append(contentsOf: v)
                dimension = v.count
            }
            try NPY.write(values, shape: [paths.count, dimension], to: output)
            let pathsFile = (output.hasSuffix(".npy") ? String(output.dropLast(4)) : output) + ".paths.txt"
            try (paths.joined(separator: "\n") + (paths.isEmpty ? "" : "\n")).write(toFile: pathsFile, atomically: true, encoding: .utf8)
        }
        note("exported \(paths.count) images to \(output)")
    }
}
