// `clip serve` (placeholder until the server lands).

import ArgumentParser

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve an OpenAI-compatible HTTP API (embeddings, classification).")
    func run() throws { throw ValidationError("clip serve is not implemented yet") }
}
