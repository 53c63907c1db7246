// clip-bench helpers: clocks, medians, synthetic images, JPEG encoding, memory readings.

import CLIPCore
import CLIPImageIO
import CLIPTokenizer
import CLIPZeroShot
import Tensor
import TextTransformer
import VisionTransformer
import CSTBImage
import Foundation

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

func log(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

struct Stats {
    var samples: [Double]
    var median: Double {
        let s = samples.sorted()
        guard !s.isEmpty else { return 0 }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
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
    do {
        return try RGBImage(width: width, height: height, pixels: px)
    } catch {
        log("clip-bench: \(error)")
        exit(1)
    }
}

/// JPEG bytes of an image, via stb_image_write (quality 90).
func encodeJPEG(_ img: RGBImage) -> [UInt8] {
    final class Sink { var bytes: [UInt8] = [] }
    let sink = Sink()
    let ctx = Unmanaged.passUnretained(sink).toOpaque()
    img.pixels.withUnsafeBufferPointer { p in
        _ = stbi_write_jpg_to_func({ ctx, data, size in
            guard let ctx, let data else { return }
            let s = Unmanaged<Sink>.fromOpaque(ctx).takeUnretainedValue()
            s.bytes.append(contentsOf: UnsafeBufferPointer(start: data.assumingMemoryBound(to: UInt8.self), count: Int(size)))
        }, ctx, Int32(img.width), Int32(img.height), 3, p.baseAddress, 90)
    }
    return sink.bytes
}

/// Peak resident set size of this process in MB (10^6 bytes, as the weight sizes).
func peakRSS() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_maxrss) * 1024 / 1e6
}

/// Resident set size now, in MB (from /proc/self/statm).
func currentRSS() -> Double {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
          let pages = text.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) else { return 0 }
    return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1e6
}

/// The multiply-add peak of `compute`'s kernel tier on `threads` threads, in GFLOP/s.
func multiplyAddPeak(_ compute: Compute, threads: Int) -> Double {
    let iterations = 20_000_000
    let probe = compute.kernels.peakProbe
    let lanes = compute.kernels.panelWidth / 2
    let t = now()
    DispatchQueue.concurrentPerform(iterations: threads) { _ in
        if probe(iterations) == 42 { print("") }   // keep the result alive
    }
    return Double(threads * iterations * 10 * lanes * 2) / (now() - t) / 1e9
}
