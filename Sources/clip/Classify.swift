// `clip classify`: zero-shot classification of image files against candidate labels.

import ArgumentParser
import CLIPZeroShot
import Foundation

struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Zero-shot classification of images against candidate labels.",
        discussion: """
        Example: clip classify Weights/samples/red-circle.png --labels "red circle" "blue square" "green triangle"
        --json prints [{"image": PATH, "results": [{"label", "score"}, …]}, …] for any number of images; an image
        that cannot be read gets {"image": PATH, "error": MESSAGE} instead, and the exit status is 1 at the end.
        """)

    @OptionGroup var weights: WeightsOption
    @Argument(help: "Image files.") var images: [String]
    @Option(name: .long, parsing: .upToNextOption, help: "Candidate labels.") var labels: [String] = []
    @Option(name: .customLong("labels-file"),
            help: "File with one label per line (blank lines and lines starting with # are skipped), or a JSON array.")
    var labelsFile: String?
    @Option(name: .long, help: "Prompt template with {} for the label (default \"This is a photo of {}.\").") var template: String?
    @Flag(name: .customLong("no-template"), help: "Use the labels verbatim.") var noTemplate = false
    @Option(name: .long, help: "Prompt ensemble preset: imagenet (OpenAI's 80 templates).") var ensemble: String?
    @Option(name: .long, help: "Show the K best labels (default: all).") var top: Int?
    @Flag(name: .long, help: "Print JSON.") var json = false
    @Flag(name: .customLong("keep-going"), inversion: .prefixedNo,
          help: "Go on after an image fails, report it, and exit 1 at the end (default: on for several images).")
    var keepGoing: Bool?

    func validate() throws {
        guard !images.isEmpty else { throw ValidationError("give at least one image") }
        if let top, top < 1 { throw ValidationError("--top must be at least 1") }
        if template != nil && noTemplate { throw ValidationError("--template and --no-template conflict; give one") }
        if ensemble != nil && (template != nil || noTemplate) {
            throw ValidationError("--ensemble conflicts with --template/--no-template; give one")
        }
        if let ensemble, ensemble.lowercased() != "imagenet" {
            throw ValidationError("unknown --ensemble \"\(ensemble)\" (available: imagenet)")
        }
        if labels.isEmpty && labelsFile == nil { throw ValidationError("give labels with --labels or --labels-file") }
    }

    /// The labels of --labels then --labels-file, trimmed, without repeats (a note names what was dropped).
    func allLabels() throws -> [String] {
        let given = labels.map { $0.trimmingCharacters(in: .whitespaces) }
            + (try labelsFile.map { try readStringList($0, what: "labels", comments: true) } ?? [])
        var seen = Set<String>()
        var unique: [String] = []
        var repeated: [String] = []
        for l in given {
            if seen.insert(l).inserted { unique.append(l) } else { repeated.append(l) }
        }
        if !repeated.isEmpty {
            note("note: ignored \(repeated.count) repeated label\(repeated.count == 1 ? "" : "s"): \(repeated.prefix(5).joined(separator: ", "))\(repeated.count > 5 ? ", …" : "")")
        }
        guard !unique.isEmpty else { throw ValidationError("no labels: --labels-file holds only blank or # lines") }
        return unique
    }

    func templates() -> [PromptTemplate] {
        if ensemble != nil { return PromptTemplate.imageNet }
        if noTemplate { return [.verbatim] }
        return [template.map { .format($0) } ?? .default]
    }

    func run() throws {
        let labels = try allLabels()
        let templates = templates()
        try CLIPError.validate(labels: labels, templates: templates)
        let clip = try weights.load()
        let keepGoing = self.keepGoing ?? (images.count > 1)
        let progress = images.count > 16 && stderrIsTerminal ? ProgressBar(label: "classifying") : nil
        // Label embeddings once; images in batches, each decoded alone so one bad file fails alone.
        let labelEmbeddings = try clip.labelEmbeddings(labels, templates: templates)
        var entries: [(index: Int, entry: [String: Any])] = []
        var failures = 0
        for start in stride(from: 0, to: images.count, by: 8) {
            var decoded: [(index: Int, path: String, image: RGBImage)] = []
            for index in start..<min(start + 8, images.count) {
                let path = images[index]
                do {
                    decoded.append((index, path, try clip.decode(.path(path))))
                } catch {
                    guard keepGoing else { throw error }
                    failures += 1
                    entries.append((index, ["image": path, "error": ClipCommand.oneLine(String(describing: error))]))
                    if !json { note("error: \(ClipCommand.oneLine(String(describing: error)))") }
                }
            }
            if !decoded.isEmpty {
                let embeds = try clip.imageEmbeddings(decoded.map { .pixels($0.image) })
                let ranked = try clip.rank(imageEmbeddings: embeds, labels: labels, labelEmbeddings: labelEmbeddings)
                for ((index, path, _), scores) in zip(decoded, ranked) {
                    let shown = Array(scores.prefix(top ?? scores.count))
                    if json {
                        entries.append((index, ["image": path, "results": shown.map { ["label": $0.label, "score": Double($0.score)] }]))
                    } else {
                        progress?.clear()
                        printRanked(path: path, shown)
                    }
                }
            }
            progress?.update(min(start + 8, images.count), images.count)
        }
        progress?.finish()
        if json {
            // A batch's failures are collected before its results: print in input order.
            try printJSON(entries.sorted { $0.index < $1.index }.map(\.entry))
        }
        if failures > 0 {
            note("error: \(failures) of \(images.count) images failed")
            throw ExitCode(1)
        }
    }

    func printRanked(path: String, _ ranked: [LabelScore]) {
        if images.count > 1 { print(path) }
        let width = min(40, ranked.map(\.label.count).max() ?? 0)
        for r in ranked {
            let bar = String(repeating: "█", count: Int((r.score * 30).rounded()))
            print("  \(r.label.padding(toLength: width, withPad: " ", startingAt: 0))  \(String(format: "%6.2f%%", r.score * 100))  \(bar)")
        }
    }
}

/// A one-line stderr progress bar with count, rate and ETA (only drawn on a terminal).
final class ProgressBar {
    let label: String
    let start = Date()
    var lastDraw = Date.distantPast
    var drawn = false

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
        let line = String(format: "\r%@ %@ %d/%d  %.1f img/s  ETA %.0fs \u{1B}[K", label, bar, done, total, rate, eta)
        FileHandle.standardError.write(Data(line.utf8))
        drawn = true
    }

    /// Erases the bar so a result line can be printed.
    func clear() {
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    func finish() { if drawn { FileHandle.standardError.write(Data("\n".utf8)) } }
}
