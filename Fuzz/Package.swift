// swift-tools-version: 6.2
// libFuzzer harness for ImageDecoder + ImagePreprocessor. A separate package so the main package keeps no
// fuzzing flags out of its manifest; build and run commands are in README.md.
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
        // Declares libFuzzer's LLVMFuzzerRunDriver. stb_image itself is compiled by the main package's CSTBImage
        // target; the build command's `-Xcc -fsanitize=fuzzer-no-link,address` instruments it (see README.md).
        .target(name: "FuzzDriver"),
        .executableTarget(
            name: "ImageFuzz",
            dependencies: [
                .product(name: "CLIPZeroShot", package: mainPackage),
                .product(name: "VisionTransformer", package: mainPackage),
                "FuzzDriver",
            ]),
    ]
)
