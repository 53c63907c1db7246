// `clip-bench --profile`: where a batch-1 image pass spends its time, per op kind and per layer, plus the time the
// calling thread waits for the pool's other threads (fork/join).

import CLIPCore
import CLIPImageIO
import CLIPTokenizer
import CLIPZeroShot
import Tensor
import TextTransformer
import VisionTransformer
import Foundation

func profileBench(weights dir: String, options: Options) throws {
    let model = try CLIPModel(directory: dir, options: options.loadOptions)
    let pixels1 = model.vision.preprocessor(syntheticImage(width: 224, height: 224))
    let pixels8 = (0..<8).flatMap { model.vision.preprocessor(syntheticImage(width: 224, height: 224, seed: $0)) }
    let ids = try CLIPTokenizer.shared().encode(labels.map { "This is a photo of \($0)." })
    try profile("image batch 1", model: model, layers: model.vision.config.encoder.numHiddenLayers, n: options.iterations) {
        _ = try model.vision.imageFeatures(pixels1, batch: 1)
    }
    try profile("image batch 8", model: model, layers: model.vision.config.encoder.numHiddenLayers, n: max(3, options.iterations / 2)) {
        _ = try model.vision.imageFeatures(pixels8, batch: 8)
    }
    try profile("10 labels", model: model, layers: model.text.config.encoder.numHiddenLayers, n: options.iterations) {
        _ = try model.text.textFeatures(ids)
    }
}

/// Times `pass` plain, then profiled, and prints ms per pass by op kind and layer.
func profile(_ name: String, model: CLIPModel, layers: Int, n: Int, _ pass: () throws -> Void) throws {
    _ = try measure(3, warmup: 0, pass)
    let plain = try measure(n, pass)
    Profiler.shared.enable(true)
    let profiled = try measure(n, warmup: 0, pass)
    let (ops, joinWait, callerBusy, workerBusy) = Profiler.shared.snapshot()
    Profiler.shared.enable(false)
    print("\(name), backend \(model.compute.backend), \(n) passes: \(String(format: "%.2f", plain.median * 1000)) ms "
          + "per pass unprofiled, \(String(format: "%.2f", profiled.median * 1000)) ms profiled; ms per pass:")
    var header = "  op".padding(toLength: 22, withPad: " ", startingAt: 0) + "   total"
    for l in 0..<layers { header += String(format: "   L%-3d", l) }
    print(header)
    var sum = 0.0
    for op in ProfiledOp.allCases {
        let entries = ops.filter { $0.key.op == op }
        guard !entries.isEmpty else { continue }
        let total = entries.values.reduce(0) { $0 + $1.seconds } / Double(n) * 1000
        sum += total
        var line = "  \(op.rawValue)".padding(toLength: 22, withPad: " ", startingAt: 0) + String(format: "%8.3f", total)
        if entries.keys.contains(where: { $0.layer >= 0 }) {
            for l in 0..<layers { line += String(format: "  %5.2f", (ops[.init(op: op, layer: l)]?.seconds ?? 0) / Double(n) * 1000) }
        }
        print(line)
    }
    print(String(format: "  %-20@%8.3f   (sum of the rows above)", "ops" as NSString, sum))
    print(String(format: "  %-20@%8.3f   (caller waiting for the other threads, inside the rows above)",
                 "fork/join waits" as NSString, joinWait / Double(n) * 1000))
    print(String(format: "  %-20@%8.3f", "outside ops" as NSString, profiled.median * 1000 - sum))
    print(String(format: "  %-20@%8.3f / %.3f   (time in pool parts: calling thread / workers)", "busy" as NSString,
                 callerBusy / Double(n) * 1000, workerBusy / Double(n) * 1000))
}
