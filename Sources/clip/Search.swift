// `clip search`: build an incremental image index and query it by text or image.

import ArgumentParser
import CLIPZeroShot
import Foundation

struct Search: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Image search: index a folder, then query by text or image.",
        subcommands: [SearchIndex.self, SearchQuery.self])
}

struct SearchIndex: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "index", abstract: "Embed every image under DIR (incremental).")
    @OptionGroup var weights: WeightsOption
    @Argument(help: "Folder of images.") var directory: String
    @Option(name: .long, help: "Index file (default: DIR/.clip-index.json).") var index: String?

    func run() throws {
        try CLIP.run { throw ValidationError("clip search is not implemented yet") }
    }
}

struct SearchQuery: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "query", abstract: "Best matches for a text or image query.")
    @OptionGroup var weights: WeightsOption
    @Argument(help: "Query text.") var text: String?
    @Option(name: .long, help: "Query by this image instead of text.") var image: String?
    @Option(name: .long, help: "Index file.") var index: String?
    @Option(name: .long, help: "Number of results.") var top: Int = 10

    func run() throws {
        try CLIP.run { throw ValidationError("clip search is not implemented yet") }
    }
}
