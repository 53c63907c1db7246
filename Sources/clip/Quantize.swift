// `clip quantize IN_DIR --out OUT_DIR`: writes an int8 copy of a checkpoint that every command loads unchanged.

import ArgumentParser
import CLIPZeroShot
import Foundation

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write an int8 copy of a CLIP checkpoint (about 0.26× the F32 size; pass it as --weights like any other).",
        discussion: """
        Encoder-layer linear weights and the token embedding become int8 with one scale per row; activations are \
        quantized per row at run time. The patch embedding and the projections are stored as F16, the rest as F32.
        """)

    @Argument(help: "A Hugging Face CLIP directory (config.json + model.safetensors).")
    var input: String

    @Option(name: .long, help: "The directory to write (created if needed).")
    var out: String

    func run() throws {
        do {
            let start = Date()
            let report = try CLIPQuantizer.quantize(input: input, output: out) { line in
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
            let ratio = report.inputBytes > 0 ? Double(report.outputBytes) / Double(report.inputBytes) : 0
            print(String(format: "%@: %d tensors int8, %.1f MB (%.2f× the input's %.1f MB) in %.1f s", out,
                         report.quantizedTensors, Double(report.outputBytes) / 1e6, ratio,
                         Double(report.inputBytes) / 1e6, Date().timeIntervalSince(start)))
        }
    }
}
