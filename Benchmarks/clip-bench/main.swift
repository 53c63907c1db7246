// clip-bench: latency, throughput, start-up and memory of the CLIP pipeline on this machine.
// Usage: swift run -c release clip-bench [--weights DIR] [--backend NAME] [--threads N] [--json] [--iterations N]
//        [--matmul | --profile | --phases DIR | --soak N | --search N]

import CLIPCore
import CLIPImageIO
import CLIPTokenizer
import CLIPZeroShot
import Tensor
import TextTransformer
import VisionTransformer
import Foundation

struct Options {
    var weights: String?
    var json = false
    var iterations = 10
    var backend = ComputeBackend.automatic
    var threads: Int?
    var probe: String?          // internal: start-up probe mode
    var probeImage: String?
    var matmul = false
    var profile = false
    var phases: String?
    var jpeg: String?
    var soak: Int?
    var search: Int?
    var agreement: (String, String)?
    /// `--phases`: start `CLIPModel.warmUp` before the first decode, as `CLIP.classify` does.
    var warmUp = false
    var images: String?
    /// Prepared-weights cache directory ("" disables it).
    var cache = NSTemporaryDirectory() + "/clip-bench-prepared"
    /// `--full-int8-precision`: int8 checkpoints keep 8-bit vision weights (``LoadOptions/fullInt8Precision``).
    var fullInt8Precision = false

    var loadOptions: LoadOptions {
        LoadOptions(backend: backend, threads: threads, preparedWeightsDirectory: cache.isEmpty ? nil : cache,
                    fullInt8Precision: fullInt8Precision)
    }
}

let usage = """
    usage: clip-bench [--weights DIR] [--backend NAME] [--threads N] [--json] [--iterations N] [--jpeg FILE]
           clip-bench --matmul | --profile | --phases DIR | --soak N --weights DIR
           clip-bench --agreement DIR_A DIR_B --images DIR   (embedding cosines of two checkpoints)
           clip-bench --search N   (search index of N synthetic 512-d vectors: open, query, bytes per image)
    Without --weights, random weights of the exact ViT-B/32 shape are generated (cached in $TMPDIR).
    --backend defaults to $CLIP_BACKEND, else automatic; --threads to $CLIP_THREADS, else every core.
    --cache DIR holds prepared (packed) weights (default $TMPDIR/clip-bench-prepared; --cache "" disables it).
    --full-int8-precision keeps an int8 checkpoint's vision weights at 8 bits (on AVX2 they run at ±64 otherwise).
    """

func fail(_ message: String) -> Never {
    log("clip-bench: \(message)")
    exit(1)
}

func parseOptions() -> Options {
    var o = Options()
    let env = ProcessInfo.processInfo.environment
    if let b = env["CLIP_BACKEND"], !b.isEmpty {
        guard let v = ComputeBackend(rawValue: b) else { fail("CLIP_BACKEND=\(b) is not a backend") }
        o.backend = v
    }
    if let t = env["CLIP_THREADS"], !t.isEmpty {
        guard let v = Int(t), v > 0 else { fail("CLIP_THREADS=\(t) is not a positive integer") }
        o.threads = v
    }
    var args = Array(CommandLine.arguments.dropFirst())
    func value(_ flag: String) -> String {
        guard !args.isEmpty else { fail("\(flag) needs a value") }
        return args.removeFirst()
    }
    while !args.isEmpty {
        let a = args.removeFirst()
        switch a {
        case "--weights": o.weights = value(a)
        case "--json": o.json = true
        case "--warm-up": o.warmUp = true
        case "--matmul": o.matmul = true
        case "--profile": o.profile = true
        case "--jpeg": o.jpeg = value(a)
        case "--soak": guard let n = Int(value(a)), n > 0 else { fail("--soak needs a positive count") }; o.soak = n
        case "--phases": o.phases = value(a)
        case "--search": guard let n = Int(value(a)), n > 0 else { fail("--search needs a positive count") }; o.search = n
        case "--iterations": guard let n = Int(value(a)), n > 0 else { fail("--iterations needs a positive count") }; o.iterations = n
        case "--backend":
            let v = value(a)
            guard let b = ComputeBackend(rawValue: v) else {
                fail("unknown backend \(v) (one of \(ComputeBackend.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            o.backend = b
        case "--threads": guard let n = Int(value(a)), n > 0 else { fail("--threads needs a positive count") }; o.threads = n
        case "--cache": o.cache = value(a)
        case "--full-int8-precision": o.fullInt8Precision = true
        case "--agreement": let first = value(a); o.agreement = (first, value(a))
        case "--images": o.images = value(a)
        case "--probe": o.probe = value(a)
        case "--probe-image": o.probeImage = value(a)
        case "-h", "--help": print(usage); exit(0)
        default: fail("unknown argument \(a)\n\(usage)")
        }
    }
    return o
}

/// The weights directory: `--weights`, else random ViT-B/32 weights generated once into $TMPDIR.
func weightsDirectory(_ options: Options) throws -> String {
    if let w = options.weights { return w }
    let dir = NSTemporaryDirectory() + "/clip-bench-random-vitb32"
    let expected = RandomCheckpoint.tensors(.vitBasePatch32).reduce(0) { $0 + max(1, $1.1.reduce(1, *)) * 4 }
    let size = (try? FileManager.default.attributesOfItem(atPath: dir + "/model.safetensors")[.size] as? Int) ?? 0
    if size < expected {
        log("generating random ViT-B/32 weights in \(dir) …")
        try RandomCheckpoint.write(to: dir)
    }
    return dir
}

let options = parseOptions()
do {
    if let (a, b) = options.agreement {
        guard let images = options.images else { fail("--agreement needs --images DIR") }
        try agreement(a, b, images: images, options: options)
    } else if let dir = options.probe {
        try startupProbe(dir, options: options)
    } else if let calls = options.soak {
        guard let dir = options.weights else { fail("--soak needs --weights DIR") }
        try soak(calls: calls, weights: dir, options: options)
    } else if let n = options.search {
        try searchBench(count: n, options: options)
    } else if let dir = options.phases {
        try startupPhases(dir, options: options)
    } else if options.matmul {
        if options.backend == .automatic { try attentionBench(options) }
        try matmulBench(options)
    } else if options.profile {
        try profileBench(weights: try weightsDirectory(options), options: options)
    } else {
        try workloads(weights: try weightsDirectory(options), options: options)
    }
} catch {
    fail("\(error)")
}
exit(0)
