// `clip search`: build an incremental image index and query it by text or image.

import ArgumentParser
import CLIPZeroShot
import Foundation

struct Search: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Image search: index a folder, then query by text or image.",
        subcommands: [SearchIndex.self, SearchQuery.self])
}

/// Default index location for a folder.
func defaultIndexPath(_ directory: String) -> String { directory + "/.clip-index.json" }

struct SearchIndex: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index", abstract: "Embed every image under DIR; re-runs embed only new or changed files.")
    @OptionGroup var weights: WeightsOption
    @Argument(help: "Folder of images.") var directory: String
    @Option(name: .long, help: "Index file (default: DIR/.clip-index.json).") var index: String?

    func run() throws {
        try CLIP.run {
            let path = index ?? defaultIndexPath(directory)
            let clip = try weights.load()
            var idx = try ImageIndex.load(from: path) ?? ImageIndex(root: directory)
            idx.root = directory
            let bar = ProgressBar(label: "embedding")
            let stats = try idx.update(with: clip) { done, total in bar.update(done, total) }
            bar.finish()
            try idx.save(to: path)
            for (file, reason) in stats.failed {
                FileHandle.standardError.write(Data("warning: skipped \(file): \(reason)\n".utf8))
            }
            print("indexed \(idx.entries.count) images in \(path): \(stats.embedded) embedded, \(stats.unchanged) unchanged, \(stats.removed) removed, \(stats.failed.count) failed")
        }
    }
}

struct SearchQuery: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "query", abstract: "Best matches for a text or image query.")
    @OptionGroup var weights: WeightsOption
    @Argument(help: "Query text.") var text: String?
    @Option(name: .long, help: "Query by this image instead of text.") var image: String?
    @Option(name: .long, help: "Index file (default: ./.clip-index.json).") var index: String = ".clip-index.json"
    @Option(name: .long, help: "Number of results.") var top: Int = 10
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() throws {
        try CLIP.run {
            guard (text == nil) != (image == nil) else { throw ValidationError("give either a query text or --image FILE") }
            guard top >= 1 else { throw ValidationError("--top must be at least 1") }
            guard let idx = try ImageIndex.load(from: index) else {
                throw ValidationError("no index at \(index); run `clip search index DIR` first (or pass --index)")
            }
            let clip = try weights.load()
            if idx.modelFingerprint != clip.fingerprint {
                throw ValidationError("\(index) was built with different weights; re-run `clip search index` with these weights")
            }
            let hits = try text.map { try idx.search(text: $0, with: clip, top: top) }
                ?? idx.search(image: .path(image ?? ""), with: clip, top: top)
            if json {
                try printJSON(hits.map { ["path": idx.root + "/" + $0.path, "score": Double($0.score)] as [String: Any] })
            } else {
                for h in hits { print(String(format: "%.4f  ", h.score) + idx.root + "/" + h.path) }
            }
        }
    }
}

/// A one-line stderr progress bar with count, rate and ETA.
final class ProgressBar {
    let label: String
    let start = Date()
    var lastDraw = Date.distantPast

    init(label: String) { self.label = label }

    func update(_ done: Int, _ total: Int) {
        let now = Date()
        guard done == total || now.timeIntervalSince(lastDraw) > 0.1 else { return }
        lastDraw = now
        let elapsed = now.timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let width = 30
        let filled = total > 0 ? width * done / total : width
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let line = String(format: "\r%@ %@ %d/%d  %.1f img/s  ETA %.0fs ", label, bar, done, total, rate, eta)
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() { FileHandle.standardError.write(Data("\n".utf8)) }
}
