// swift-tools-version: 6.1
// libFuzzer harness for ImageDecoder + ImagePreprocessor. A separate package so the main package keeps no
// unsafeFlags; build and run commands are in README.md.
import Foundation
import PackageDescription

/// SwiftPM names a path dependency after its folder ("main" in /work/main), so read the name instead of assuming it.
let mainPackage = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "swift-clip-fuzz",
    dependencies: [
        .package(path: ".."),
    ],
    targets: [
        // stb_image compiled from the same Debian header (/usr/include/stb/stb_image.h) as libstb, but with
        // ASan + libFuzzer coverage instrumentation. Its definitions in the executable take precedence over
        // the uninstrumented libstb.so that CSTBImage's module map links, so the decoder's calls land here
        // and the fuzzer sees (and ASan checks) stb's code paths.
        .target(
            name: "CSTBImageInstrumented",
            cSettings: [.unsafeFlags(["-fsanitize=fuzzer-no-link,address", "-fno-omit-frame-pointer", "-g", "-O1"])]),
        .executableTarget(
            name: "ImageFuzz",
            dependencies: [
                .product(name: "CLIPZeroShot", package: mainPackage),
                "CSTBImageInstrumented",
            ]),
    ]
)
