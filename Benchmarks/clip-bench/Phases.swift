// `clip-bench --phases DIR`: where start-up time goes (tokenizer, weights, first results), and the start-up probe
// (`--probe DIR`, run as a child process by the main benchmark: start → first classification).

import CLIPCore
import CLIPImageIO
import CLIPTokenizer
import CLIPZeroShot
import Tensor
import TextTransformer
import VisionTransformer
import Foundation

func startupPhases(_ dir: String, options: Options) throws {
    var t = now()
    func lap(_ name: String) {
        let n = now()
        print(String(format: "  %-34@ %8.1f ms", name as NSString, (n - t) * 1000))
        t = n
    }
    let tok = try CLIPTokenizer.shared()
    lap("tokenizer (vocabulary + tables)")
    let model = try CLIPModel(directory: dir, options: options.loadOptions)
    lap("weights (\(model.compute.backend), prepared weights \(model.preparedWeights.rawValue))")
    // The probe's order (`CLIP.classify`): the image (decode, preprocess, tower), then the labels; each twice, so
    // the first-call costs (page faults on the mapped weights, scratch memory) show.
    let jpeg = try options.jpeg.map { try readFile($0, limit: 64 << 20) } ?? encodeJPEG(syntheticImage(width: 640, height: 480))
    let decoder = ImageDecoder()
    if options.warmUp { model.warmUp([.vision, .text]) }
    for pass in ["first", "second"] {
        let image = try decoder.decode(jpeg)
        lap("\(pass) decode (\(image.width)×\(image.height) JPEG)")
        let pixels = model.vision.preprocess(image)
        lap("\(pass) preprocess")
        _ = try model.vision.imageFeatures(pixels, batch: 1)
        lap("\(pass) image forward")
        let ids = tok.encode(labels.map { "This is a photo of \($0)\(pass == "first" ? "" : "s")." })
        _ = try model.text.textFeatures(ids)
        lap("\(pass) text forward (10 labels)")
    }
}

func startupProbe(_ dir: String, options: Options) throws {
    let t0 = now()
    let clip = try CLIP(directory: dir, options: options.loadOptions)
    let t1 = now()
    let loadedRSS = currentRSS()
    let image: CLIPImage = options.probeImage.map { .path($0) } ?? .pixels(syntheticImage(width: 640, height: 480))
    _ = try clip.classify(image: image, labels: labels)
    let t2 = now()
    print("{\"load_s\": \(t1 - t0), \"first_result_s\": \(t2 - t0), \"peak_rss_mb\": \(peakRSS()), "
          + "\"rss_after_load_mb\": \(loadedRSS), \"rss_after_result_mb\": \(currentRSS()), "
          + "\"prepared\": \"\(clip.model.preparedWeights.rawValue)\"}")
    fflush(nil)   // the parent stops its clock at this line, before the teardown
}

/// Many classify calls in one process; RSS must stay flat (exit status 1 if it grows more than 2 %).
func soak(calls: Int, weights dir: String, options: Options) throws {
    let clip = try CLIP(directory: dir, options: options.loadOptions)
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
    if abs(growth) > 2 { exit(1) }
}
