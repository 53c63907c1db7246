// libFuzzer entry point: bytes → ImageDecoder.decode → ImagePreprocessor. Thrown ImageErrors are expected;
// crashes, traps, sanitizer reports, hangs and runaway memory are the bugs being looked for.
//
// SwiftPM links executables with `main` aliased to `<module>_main` (ImageFuzz_main), so libFuzzer's own `main`
// is not used; ImageFuzz_main below hands argv to libFuzzer's driver instead (same flags, same behaviour).

import CLIPZeroShot
import VisionTransformer
import FuzzDriver

#if canImport(Glibc)
import Glibc
#endif

/// Small limits so the fuzzer spends its time on parsing, not on decoding huge (valid) images.
let decoder = ImageDecoder(maxPixels: 4_000_000, maxBytes: 1 << 20)
let preprocessor = ImagePreprocessor()
/// CLIP_FUZZ_VERBOSE=1: print each input's outcome to stderr (for triage: `ImageFuzz -runs=1 files...`).
let verbose = getenv("CLIP_FUZZ_VERBOSE") != nil

func report(_ s: String) {
    guard verbose else { return }
    let line = Array((s + "\n").utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        let image = try decoder.decode(bytes)
        precondition(image.width > 0 && image.height > 0 && image.pixels.count == image.width * image.height * 3,
                     "decoded image has an inconsistent size")
        let pixels = preprocessor(image)
        precondition(pixels.count == 3 * 224 * 224, "preprocessed tensor has \(pixels.count) elements")
        precondition(pixels.allSatisfy { $0.isFinite }, "preprocessed tensor has a non-finite element")
        report("decoded \(image.width)x\(image.height), pixel checksum \(image.pixels.reduce(0) { $0 &* 31 &+ Int($1) })")
    } catch let e as ImageError {
        report("rejected: \(e)")   // Rejected input: fine.
    } catch {
        fatalError("decode threw a non-ImageError: \(error)")
    }
    return 0
}

@_cdecl("ImageFuzz_main")
public func imageFuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var argc = argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        fuzz(data ?? UnsafePointer(bitPattern: 1)!, size)
    }
}
