// clip-bench: latency, throughput, start-up and memory of the CLIP pipeline on this machine.
// Usage: swift run -c release clip-bench [--weights DIR] [--json] [--iterations N]

import CLIPZeroShot
import CSTBImage
import Foundation

// MARK: - Arguments

struct Options {
    var weights: String?
    var json = false
    var iterations = 10
    var probe: String?          // internal: start-up probe mode
    var probeImage: String?
    var matmul = false
    var phases: String?
    var jpeg: String?
    var soak: Int?
}

func parseOptions() -> Options {
    var o = Options()
    var args = Array(CommandLine.arguments.dropFirst())
    while !args.isEmpty {
        let a = args.removeFirst()
        switch a {
        case "--weights": o.weights = args.isEmpty ? nil : args.removeFirst()
        case "--json": o.json = true
        case "--matmul": o.matmul = true
        case "--jpeg": o.jpeg = args.isEmpty ? nil : args.removeFirst()
        case "--soak": o.soak = Int(args.isEmpty ? "" : args.removeFirst())
        case "--phases": o.phases = args.isEmpty ? nil : args.removeFirst()
        case "--iterations": o.iterations = max(1, Int(args.isEmpty ? "" : args.removeFirst()) ?? 10)
        case "--probe": o.probe = args.isEmpty ? nil : args.removeFirst()
        case "--probe-image": o.probeImage = args.isEmpty ? nil : args.removeFirst()
        case "-h", "--help":
            print("usage: clip-bench [--weights DIR] [--json] [--iterations N]\n" +
                  "Without --weights, random weights of the exact ViT-B/32 shape are generated (cached in $TMPDIR).")
            exit(0)
        default:
            FileHandle.standardError.write(Data("clip-bench: unknown argument \(a)\n".utf8))
            exit(1)
        }
    }
    return o
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

struct Stats {
    var samples: [Double]
    var median: Double { let s = samples.sorted(); return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2 }
    var min: Double { samples.min() ?? 0 }
    var max: Double { samples.max() ?? 0 }
}

/// Runs `body` `warmup` times untimed, then `n` times timed; seconds per call.
func measure(_ n: Int, warmup: Int = 2, _ body: () throws -> Void) rethrows -> Stats {
    for _ in 0..<warmup { try body() }
    var s: [Double] = []
    for _ in 0..<n {
        let t = now()
        try body()
        s.append(now() - t)
    }
    return Stats(samples: s)
}

func log(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

let labels = ["cat", "dog", "car", "bird", "tree", "house", "person", "boat", "flower", "horse"]

/// A smooth synthetic photo-like RGB image.
func syntheticImage(width: Int, height: Int, seed: Int = 1) -> RGBImage {
    var px = [UInt8](repeating: 0, count: width * height * 3)
    var state = UInt32(truncatingIfNeeded: seed &* 2654435761)
    for y in 0..<height {
        for x in 0..<width {
            state = state &* 1664525 &+ 1013904223
            let noise = Int(state >> 28)
            let i = (y * width + x) * 3
            px[i] = UInt8(clamping: (x * 255 / max(width, 1) + noise))
            px[i + 1] = UInt8(clamping: (y * 255 / max(height, 1) + noise))
            px[i + 2] = UInt8(clamping: ((x + y) * 128 / max(width + height, 1) + 60 + noise))
        }
    }
    return try! RGBImage(width: width, height: height, pixels: px)   // sizes are computed above
}

/// JPEG bytes of an image, via stb_image_write (quality 90).
func encodeJPEG(_ img: RGBImage) -> [UInt8] {
    final class Sink { var bytes: [UInt8] = [] }
    let sink = Sink()
    let ctx = Unmanaged.passUnretained(sink).toOpaque()
    img.pixels.withUnsafeBufferPointer { p in
        _ = stbi_write_jpg_to_func({ ctx, data, size in
            let s = Unmanaged<Sink>.fromOpaque(ctx!).takeUnretainedValue()
            s.bytes.append(contentsOf: UnsafeBufferPointer(start: data!.assumingMemoryBound(to: UInt8.self), count: Int(size)))
        }, ctx, Int32(img.width), Int32(img.height), 3, p.baseAddress, 90)
    }
    return sink.bytes
}

/// Peak resident set size of this process (or its finished children) in MB.
func peakRSS(children: Bool = false) -> Double {
    var u = rusage()
    getrusage(children ? RUSAGE_CHILDREN.rawValue : RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_maxrss) / 1024
}

/// FMA throughput of this machine measured now: independent SIMD8 fused multiply-adds, on `threads` threads.
func fmaPeak(threads: Int) -> Double {
    let iterations = 20_000_000
    @Sendable func kernel() -> Float {
        // 10 independent accumulators hide the FMA latency; all live in registers.
        var a0 = SIMD8<Float>(repeating: 0.1), a1 = a0 + 0.01, a2 = a0 + 0.02, a3 = a0 + 0.03, a4 = a0 + 0.04
        var a5 = a0 + 0.05, a6 = a0 + 0.06, a7 = a0 + 0.07, a8 = a0 + 0.08, a9 = a0 + 0.09
        let m = SIMD8<Float>(repeating: 0.999999), c = SIMD8<Float>(repeating: 1e-7)
        for _ in 0..<iterations {
            a0 = a0.addingProduct(m, c); a1 = a1.addingProduct(m, c); a2 = a2.addingProduct(m, c)
            a3 = a3.addingProduct(m, c); a4 = a4.addingProduct(m, c); a5 = a5.addingProduct(m, c)
            a6 = a6.addingProduct(m, c); a7 = a7.addingProduct(m, c); a8 = a8.addingProduct(m, c)
            a9 = a9.addingProduct(m, c)
        }
        return (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9).sum()
    }
    let t = now()
    DispatchQueue.concurrentPerform(iterations: threads) { _ in
        let r = kernel()
        if r == 42 { print("") }   // keep the result alive
    }
    let dt = now() - t
    return Double(threads * iterations * 10 * 8 * 2) / dt / 1e9
}

// MARK: - Probe mode (a fresh process: start → weights ready → first result)

let options = parseOptions()
if let dir = options.probe {
    let t0 = now()
    do {
        let clip = try CLIPZeroShot(directory: dir)
        let t1 = now()
        let image: CLIPImage = options.probeImage.map { .path($0) } ?? .pixels(syntheticImage(width: 640, height: 480))
        _ = try clip.classify(image: image, labels: labels)
        let t2 = now()
        print("{\"load_s\": \(t1 - t0), \"first_result_s\": \(t2 - t0), \"peak_rss_mb\": \(peakRSS())}")
        exit(0)
    } catch {
        log("probe failed: \(error)")
        exit(1)
    }
}

/// Resident set size now, in MB (from /proc/self/statm).
func currentRSS() -> Double {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
          let pages = text.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) else { return 0 }
    return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1e6
}

// MARK: - Soak: many classify calls, RSS must stay flat

if let calls = options.soak {
    do {
        guard let dir = options.weights else { log("--soak needs --weights DIR"); exit(1) }
        let clip = try CLIPZeroShot(directory: dir)
        let jpeg = encodeJPEG(syntheticImage(width: 320, height: 240))
        var after100 = 0.0
        let t = now()
        for i in 0..<calls {
            // Alternate encoded and raw inputs and rotate labels so the cache is exercised (hits and evictions).
            let image: CLIPImage = i % 2 == 0 ? .data(jpeg) : .pixels(syntheticImage(width: 64, height: 48, seed: i % 7))
            let rotated = labels.map { "\($0) \(i % 50)" }
            _ = try clip.classify(image: image, labels: rotated)
            if i + 1 == 100 { after100 = currentRSS() }
        }
        let end = currentRSS()
        let growth = after100 > 0 ? (end - after100) / after100 * 100 : 0
        print(String(format: "soak: %d classify calls in %.1f s; RSS after 100: %.1f MB, after %d: %.1f MB (%+.2f %%)",
                     calls, now() - t, after100, calls, end, growth))
        exit(abs(growth) <= 2 ? 0 : 1)
    } catch {
        log("soak: \(error)")
        exit(1)
    }
}

if let dir = options.phases {
    do { try startupPhases(dir) } catch { log("phases: \(error)"); exit(1) }
    exit(0)
}

// MARK: - Matmul backends on ViT-B/32 shapes

if options.matmul {
    print("backend selected: \(MatmulBackend.selected)   threads: \(ComputeThreads.count)")
    for (m, k, n) in [(50, 768, 768), (50, 768, 3072), (50, 3072, 768), (400, 768, 3072), (70, 512, 2048)] {
        let x = (0..<(m * k)).map { Float($0 % 17) * 0.01 }, w = (0..<(n * k)).map { Float($0 % 13) * 0.01 }
        var y = [Float](repeating: 0, count: m * n)
        let packed = PackedWeight(w, outFeatures: n, inFeatures: k)
        let flop = Double(2 * m * n * k)
        var line = "M=\(m) K=\(k) N=\(n):"
        let blas = measure(20) { linear(x, rows: m, inFeatures: k, weight: w, outFeatures: n, bias: nil, out: &y) }
        line += String(format: "  blas %.1f", flop / blas.median / 1e9)
        let before = blasThreads()
        setBLASThreads(1)
        let split = measure(20) { linearSplit(x, rows: m, inFeatures: k, weight: w, outFeatures: n, bias: nil, out: &y, threads: ComputeThreads.count) }
        setBLASThreads(before)
        line += String(format: "  blas-split %.1f", flop / split.median / 1e9)
        for kernel in PackedKernel.allCases {
            let t = measure(kernel == .fma ? 3 : 20) { packedLinear(x, rows: m, packed: packed, bias: nil, out: &y, kernel: kernel) }
            line += String(format: "  packed-%@ %.1f", kernel.rawValue, flop / t.median / 1e9)
        }
        print(line + "  GFLOP/s")
    }
    exit(0)
}

// MARK: - Main benchmark

do {
    var weights = options.weights
    if weights == nil {
        let dir = NSTemporaryDirectory() + "/clip-bench-random-vitb32"
        let expected = RandomCheckpoint.tensors(.vitBasePatch32).reduce(0) { $0 + max(1, $1.1.reduce(1, *)) * 4 }
        let size = (try? FileManager.default.attributesOfItem(atPath: dir + "/model.safetensors")[.size] as? Int) ?? 0
        if size < expected {
            log("generating random ViT-B/32 weights in \(dir) …")
            try RandomCheckpoint.write(to: dir)
        }
        weights = dir
    }
    let dir = weights!
    let weightsBytes = (try FileManager.default.attributesOfItem(atPath: dir + "/model.safetensors")[.size] as? Int) ?? 0

    log("measuring FMA peak …")
    let peak1 = fmaPeak(threads: 1)
    let peakAll = fmaPeak(threads: ProcessInfo.processInfo.activeProcessorCount)

    log("start-up probe …")
    let probeImagePath = NSTemporaryDirectory() + "/clip-bench-probe.jpg"
    try Data(encodeJPEG(syntheticImage(width: 640, height: 480))).write(to: URL(fileURLWithPath: probeImagePath))
    var startup: [Double] = []
    var probeRSS = 0.0
    for _ in 0..<3 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        p.arguments = ["--probe", dir, "--probe-image", options.jpeg ?? probeImagePath]
        let pipe = Pipe()
        p.standardOutput = pipe
        let t = now()
        try p.run()
        p.waitUntilExit()
        let wall = now() - t
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        if p.terminationStatus == 0, let v = try? JSONValue.parse(Array(out)) {
            startup.append(wall)
            probeRSS = max(probeRSS, v["peak_rss_mb"]?.doubleValue ?? 0)
        }
    }

    log("loading \(dir) …")
    let model = try CLIPModel(directory: dir)
    let tokenizer = try CLIPTokenizer.shared()
    let clip = CLIPZeroShot(model: model, tokenizer: tokenizer)
    let n = options.iterations

    let img224 = syntheticImage(width: 224, height: 224)
    let pixels1 = model.vision.preprocessor(img224)
    let pixels8 = (0..<8).flatMap { model.vision.preprocessor(syntheticImage(width: 224, height: 224, seed: $0)) }
    let ids = tokenizer.encode(labels.map { "This is a photo of \($0)." })

    log("image batch 1 …")
    let b1 = try measure(n) { _ = try model.vision.imageFeatures(pixels1, batch: 1) }
    log("image batch 8 …")
    let b8 = try measure(max(3, n / 2)) { _ = try model.vision.imageFeatures(pixels8, batch: 8) }
    log("text, 10 labels …")
    let text10 = try measure(n) { _ = try model.text.textFeatures(ids) }
    log("classify cold / warm …")
    let cold = try measure(n) {
        _ = try CLIPZeroShot(model: model, tokenizer: tokenizer).classify(image: .pixels(img224), labels: labels)
    }
    _ = try clip.classify(image: .pixels(img224), labels: labels)
    let warm = try measure(n) { _ = try clip.classify(image: .pixels(img224), labels: labels) }
    log("6 MP JPEG end to end …")
    let jpeg = try options.jpeg.map { try readFile($0, limit: 64 << 20) } ?? encodeJPEG(syntheticImage(width: 3000, height: 2000))
    let e2e = try measure(max(3, n / 2)) { _ = try clip.classify(image: .data(jpeg), labels: labels) }
    let decodeOnly = try measure(max(3, n / 2)) { _ = try clip.decoder.decode(jpeg) }
    // stb_image's own JPEG path (its SSE2 IDCT, upsampling and colour conversion), which the decoder replaces
    // with libjpeg's arithmetic for exactness: the cost of being exact, measured in the same run.
    let decodeStb = measure(max(3, n / 2)) {
        jpeg.withUnsafeBufferPointer { b in
            var w: Int32 = 0, h: Int32 = 0, c: Int32 = 0
            stbi_image_free(stbi_load_from_memory(b.baseAddress, Int32(b.count), &w, &h, &c, 3))
        }
    }

    let gflop = 8.82
    let result: [(String, Double)] = [
        ("image_b1_ms", b1.median * 1000),
        ("image_b1_min_ms", b1.min * 1000), ("image_b1_max_ms", b1.max * 1000),
        ("image_b8_ms_per_image", b8.median * 1000 / 8),
        ("text_10_labels_ms", text10.median * 1000),
        ("classify_cold_ms", cold.median * 1000),
        ("classify_warm_ms", warm.median * 1000),
        ("jpeg_6mp_end_to_end_ms", e2e.median * 1000),
        ("jpeg_6mp_decode_ms", decodeOnly.median * 1000),
        ("jpeg_6mp_decode_stb_builtin_ms", decodeStb.median * 1000),
        ("startup_to_first_result_s", Stats(samples: startup.isEmpty ? [0] : startup).median),
        ("peak_rss_mb", probeRSS),
        ("bench_peak_rss_mb", peakRSS()),
        ("weights_mb", Double(weightsBytes) / 1e6),
        ("image_b1_gflops", gflop / b1.median),
        ("image_b8_gflops", gflop * 8 / b8.median),
        ("fma_peak_gflops", peakAll),
        ("fma_peak_1core_gflops", peak1),
        ("image_b1_pct_of_peak", 100 * gflop / b1.median / peakAll),
        ("blas_threads", Double(blasThreads())),
        ("compute_threads", Double(ComputeThreads.count)),
    ]
    if options.json {
        print("{\"backend\": \"\(MatmulBackend.selected)\", " + result.map { "\"\($0.0)\": \((($0.1 * 1000).rounded() / 1000))" }.joined(separator: ", ") + "}")
    } else {
        print("clip-bench — \(dir) (\(String(format: "%.0f", Double(weightsBytes) / 1e6)) MB), \(n) iterations, medians, matmul backend \(MatmulBackend.selected)")
        for (k, v) in result { print("  " + k.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: "%10.3f", v)) }
    }
} catch {
    log("clip-bench: \(error)")
    exit(1)
}
