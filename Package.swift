// swift-tools-version: 6.1
// CLIP ViT-B/32 inference in Swift on Linux: Tensor kernels, the two towers, a zero-shot facade and the `clip` CLI.
import PackageDescription

let package = Package(
    name: "swift-clip",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "CLIPZeroShot", targets: ["CLIPZeroShot"]),
        .library(name: "VisionTransformer", targets: ["VisionTransformer"]),
        .library(name: "TextTransformer", targets: ["TextTransformer"]),
        .library(name: "Tensor", targets: ["Tensor"]),
        .executable(name: "clip", targets: ["clip"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
    ],
    targets: [
        // System libraries (Debian: libopenblas-dev, zlib1g-dev).
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CZlib", path: "Sources/CZlib",
            providers: [.apt(["zlib1g-dev"])]),

        // stb_image / stb_image_write compiled from Debian libstb-dev's headers, with a libjpeg-exact JPEG back end.
        .target(name: "CSTBImage", path: "Sources/CSTBImage"),

        // Library targets: no unsafeFlags here (they would forbid use as a versioned dependency).
        .target(name: "Tensor", dependencies: ["CBLAS"]),
        .target(name: "CLIPCore", dependencies: ["Tensor"]),
        .target(name: "VisionTransformer", dependencies: ["Tensor", "CLIPCore", "CSTBImage"]),
        .target(
            name: "TextTransformer", dependencies: ["Tensor", "CLIPCore", "CZlib"],
            resources: [.copy("Resources")]),
        .target(name: "CLIPZeroShot", dependencies: ["Tensor", "CLIPCore", "VisionTransformer", "TextTransformer"]),

        // The OpenAI-compatible HTTP server: its own target, so the libraries stay free of server dependencies.
        .target(
            name: "CLIPServer",
            dependencies: ["CLIPZeroShot", .product(name: "Hummingbird", package: "hummingbird")]),

        .executableTarget(
            name: "clip",
            dependencies: ["CLIPZeroShot", "CLIPServer", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // The benchmark is not a product; it may use unsafeFlags (FMA peak measurement needs an FMA target).
        .executableTarget(
            name: "clip-bench", dependencies: ["CLIPZeroShot", "CSTBImage"], path: "Benchmarks/clip-bench",
            swiftSettings: [.unsafeFlags(["-target-cpu", "haswell"])]),

        .testTarget(name: "TensorTests", dependencies: ["Tensor"]),
        .testTarget(name: "CLIPTests", dependencies: ["CLIPZeroShot", "CSTBImage"]),
        .testTarget(
            name: "CLIPServerTests",
            dependencies: ["CLIPServer", .product(name: "HummingbirdTesting", package: "hummingbird")]),
    ]
)
