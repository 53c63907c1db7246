// The main benchmark: image batch 1 and 8, 10 labels, classify, 6 MP JPEG end to end, start-up and memory,
// the tier's multiply-add peak, and the model's own GEMMs alone (how close the whole model gets to them).

import CLIPCore
import CLIPImageIO
import CLIPTokenizer
import CLIPZeroShot
import Tensor
import TextTransformer
import VisionTransformer
import CSTBImage
import Foundation

/// Vision-tower GEMMs of one batch-1 forward pass, run alone with the model's packed weights: seconds per pass
/// and their flops. The model's GFLOP/s divided by this one is the share the non-GEMM work costs.
func visionGemmsAlone(_ model: CLIPModel, iterations: Int) -> (seconds: Double, flops: Double) {
    let vision = model.vision
    let compute = vision.encoder.compute
    let c = vision.config.hiddenSize, t = vision.config.numPositions, g = vision.config.gridSize
    let widest = max(3 * c, vision.config.encoder.intermediateSize, vision.embeddings.patchEmbedding.inFeatures)
    let x = UnsafeMutablePointer<Float>.allocate(capacity: t * widest)
    let y = UnsafeMutablePointer<Float>.allocate(capacity: t * widest)
    defer { x.deallocate(); y.deallocate() }
    for i in 0..<(t * widest) { x[i] = Float(i % 17) * 0.01 }
    var products: [(LinearWeights, Int)] = [(vision.embeddings.patchEmbedding, g * g)]
    for layer in vision.encoder.layers {
        products += [(layer.selfAttn.qkv, t), (layer.selfAttn.outProj, t), (layer.mlp.fc1, t), (layer.mlp.fc2, t)]
    }
    products.append((vision.visualProjection, 1))
    let flops = products.reduce(0.0) { $0 + 2 * Double($1.1 * $1.0.inFeatures * $1.0.outFeatures) }
    let s = measure(iterations) {
        for (w, rows) in products {
            compute.linear(x, rows: rows, weight: w.weight, bias: w.bias?.pointer, out: y)
        }
    }
    return (s.median, flops)
}

func workloads(weights dir: String, options: Options) throws {
    let weightsBytes = (try FileManager.default.attributesOfItem(atPath: dir + "/model.safetensors")[.size] as? Int) ?? 0

    log("start-up probe …")
    let probeImagePath = NSTemporaryDirectory() + "/clip-bench-probe.jpg"
    try Data(encodeJPEG(syntheticImage(width: 640, height: 480))).write(to: URL(fileURLWithPath: probeImagePath))
    // Process start → first classification, in a fresh process each time: once with an empty prepared-weights
    // cache (packing, then writing the cache), then three times with it. The clock stops when the result line
    // arrives; the child's teardown after it (unmapping ~0.5 GB, ~55 ms here) is timed apart (startup_teardown_s).
    var startup: [Double] = []
    var teardown: [Double] = []
    var firstLoad = 0.0
    var probeRSS = 0.0, firstLoadRSS = 0.0
    if !options.cache.isEmpty { try? FileManager.default.removeItem(atPath: options.cache) }
    for run in 0..<4 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        var args = ["--probe", dir, "--probe-image", options.jpeg ?? probeImagePath, "--backend", options.backend.rawValue,
                    "--cache", options.cache]
        if let n = options.threads { args += ["--threads", String(n)] }
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        let t = now()
        try p.run()
        var out = Data()
        while !out.contains(UInt8(ascii: "\n")) {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }   // end of file: the child exited without a result line
            out.append(chunk)
        }
        let wall = now() - t
        out.append(pipe.fileHandleForReading.readDataToEndOfFile())
        p.waitUntilExit()
        teardown.append(now() - t - wall)
        guard p.terminationStatus == 0, let v = try? JSONValue.parse(Array(out)) else { fail("the start-up probe failed") }
        let rss = v["peak_rss_mb"]?.doubleValue ?? 0
        if run == 0 {
            firstLoad = wall
            firstLoadRSS = rss
        } else {
            startup.append(wall)
            probeRSS = max(probeRSS, rss)
        }
    }

    log("loading \(dir) …")
    let model = try CLIPModel(directory: dir, options: options.loadOptions)
    let compute = model.vision.encoder.compute
    let tokenizer = try CLIPTokenizer.shared()
    let clip = CLIP(model: model, tokenizer: tokenizer)
    let n = options.iterations

    log("multiply-add peak of the \(compute.backend) kernels …")
    let peak1 = multiplyAddPeak(compute, threads: 1)
    let peakAll = multiplyAddPeak(compute, threads: compute.threads)

    let img224 = syntheticImage(width: 224, height: 224)
    let pixels1 = model.vision.preprocessor(img224)
    let pixels8 = (0..<8).flatMap { model.vision.preprocessor(syntheticImage(width: 224, height: 224, seed: $0)) }
    let ids = tokenizer.encode(labels.map { "This is a photo of \($0)." })

    log("image batch 1 …")
    let b1 = try measure(n) { _ = try model.vision.imageFeatures(pixels1, batch: 1) }
    log("vision GEMMs alone …")
    let gemms = visionGemmsAlone(model, iterations: n)
    log("image batch 8 …")
    let b8 = try measure(max(3, n / 2)) { _ = try model.vision.imageFeatures(pixels8, batch: 8) }
    log("text, 10 labels …")
    let text10 = try measure(n) { _ = try model.text.textFeatures(ids) }
    // The same prompts with their common "This is a photo of" run once per label, as before prefix sharing.
    let text10Unshared = try measure(n) { _ = try model.text.forward(ids, sharePrefix: false) }
    log("classify cold / warm …")
    let cold = try measure(n) {
        _ = try CLIP(model: model, tokenizer: tokenizer).classify(image: .pixels(img224), labels: labels)
    }
    _ = try clip.classify(image: .pixels(img224), labels: labels)
    let warm = try measure(n) { _ = try clip.classify(image: .pixels(img224), labels: labels) }
    log("6 MP JPEG end to end …")
    let jpeg = try options.jpeg.map { try readFile($0, limit: 64 << 20) } ?? encodeJPEG(syntheticImage(width: 3000, height: 2000))
    let e2e = try measure(max(3, n / 2)) { _ = try clip.classify(image: .data(jpeg), labels: labels) }
    let decodeOnly = try measure(max(3, n / 2)) { _ = try clip.decoder.decode(jpeg) }
    let decoded = try clip.decoder.decode(jpeg)
    let preprocessOnly = measure(max(3, n / 2)) { _ = model.vision.preprocess(decoded) }
    // stb_image's own JPEG path (its SSE2 IDCT, upsampling and colour conversion), which the decoder replaces
    // with libjpeg's arithmetic for exactness: the cost of being exact, measured in the same run.
    let decodeStb = measure(max(3, n / 2)) {
        jpeg.withUnsafeBufferPointer { b in
            var w: Int32 = 0, h: Int32 = 0, c: Int32 = 0
            stbi_image_free(stbi_load_from_memory(b.baseAddress, Int32(b.count), &w, &h, &c, 3))
        }
    }

    let gflop = 8.82
    let gemmGFLOPs = gemms.flops / gemms.seconds / 1e9
    let result: [(String, Double)] = [
        ("image_b1_ms", b1.median * 1000),
        ("image_b1_min_ms", b1.min * 1000), ("image_b1_max_ms", b1.max * 1000),
        ("image_b8_ms_per_image", b8.median * 1000 / 8),
        ("text_10_labels_ms", text10.median * 1000),
        ("text_10_labels_unshared_ms", text10Unshared.median * 1000),
        ("classify_cold_ms", cold.median * 1000),
        ("classify_warm_ms", warm.median * 1000),
        ("jpeg_6mp_end_to_end_ms", e2e.median * 1000),
        ("jpeg_6mp_decode_ms", decodeOnly.median * 1000),
        ("jpeg_6mp_preprocess_ms", preprocessOnly.median * 1000),
        ("jpeg_6mp_decode_stb_builtin_ms", decodeStb.median * 1000),
        ("startup_to_first_result_s", Stats(samples: startup).median),
        ("startup_first_load_s", firstLoad),
        ("startup_teardown_s", Stats(samples: Array(teardown.dropFirst())).median),
        ("peak_rss_mb", probeRSS),
        ("peak_rss_first_load_mb", firstLoadRSS),
        ("bench_peak_rss_mb", peakRSS()),
        ("weights_mb", Double(weightsBytes) / 1e6),
        ("image_b1_gflops", gflop / b1.median),
        ("image_b8_gflops", gflop * 8 / b8.median),
        ("vision_gemms_b1_gflops", gemmGFLOPs),
        ("image_b1_pct_of_gemms", 100 * gflop / b1.median / gemmGFLOPs),
        ("madd_peak_gflops", peakAll),
        ("madd_peak_1thread_gflops", peak1),
        ("image_b1_pct_of_peak", 100 * gflop / b1.median / peakAll),
        ("threads", Double(compute.threads)),
    ]
    if options.json {
        let fields = ["\"backend\": \"\(compute.backend)\"", "\"cpu\": \"\(CPUFeatures.current)\""]
            + result.map { "\"\($0.0)\": \((($0.1 * 1000).rounded() / 1000))" }
        print("{" + fields.joined(separator: ", ") + "}")
    } else {
        print("clip-bench — \(dir) (\(String(format: "%.0f", Double(weightsBytes) / 1e6)) MB), \(n) iterations, medians, "
              + "backend \(compute.backend), CPU \(CPUFeatures.current)")
        for (k, v) in result { print("  " + k.padding(toLength: 30, withPad: " ", startingAt: 0) + String(format: "%10.3f", v)) }
    }
}
