// swift-tools-version: 6.2
// CLIP ViT-B/32 inference in Swift on Linux: Tensor kernels, the two towers, a zero-shot facade and the `clip` CLI.
import PackageDescription

// Run-time ISA dispatch: the hot kernels are generic bodies in TensorSIMD, instantiated three times: in the baseline
// build (SSE2/NEON), in TensorAVX2 (-target-cpu haswell) and in TensorAVX512 (-target-cpu cascadelake). The two ISA
// targets exist on x86-64 only (the flags are errors on arm64); Tensor picks one at load from CPUID, so every
// build runs anywhere. SwiftPM 6.2 accepts these unsafeFlags in a package used as a versioned dependency.
// The kernel targets are optimised in debug builds too (a debug build of a consumer would otherwise run the model
// ~40× slower): -O after SwiftPM's -Onone wins.
let optimizedKernels: SwiftSetting = .unsafeFlags(["-O"], .when(configuration: .debug))

// The executables link the Swift runtime and Foundation statically in release builds on Linux: no Swift
// libraries needed where the binary is copied, and the dynamic loader's symbol binding for ~20 Swift libraries
// (half of a bare process start) goes away — measured: 28 -> 15 ms from exec to exit for a process that does
// nothing. Debug builds link dynamically (faster links for the tests).
let staticSwiftRuntime: [LinkerSetting] = [.unsafeFlags(
    ["-static-stdlib"] + ["--start-group", "-lCoreFoundation", "-l_FoundationICU", "-l_FoundationCShims",
                          "-l_FoundationCollections", "--end-group"].flatMap { ["-Xlinker", $0] },
    .when(platforms: [.linux], configuration: .release))]

#if arch(x86_64)
let isaTargets: [Target] = [
    .target(name: "TensorAVX2", dependencies: ["TensorSIMD", "KernelIntrinsics", "AVX2Intrinsics"],
            swiftSettings: [.unsafeFlags(["-target-cpu", "haswell"]), optimizedKernels]),
    .target(name: "TensorAVX512", dependencies: ["TensorSIMD", "KernelIntrinsics", "AVX512Intrinsics"],
            swiftSettings: [.unsafeFlags(["-target-cpu", "cascadelake"]), optimizedKernels]),
    // The int8 dot-product instructions, from the compiler's Builtin module; compiled for the same CPUs, since an
    // AVX intrinsic is a compile error for any other target.
    .target(name: "AVX2Intrinsics",
            swiftSettings: [.enableExperimentalFeature("BuiltinModule"), .unsafeFlags(["-target-cpu", "haswell"])]),
    .target(name: "AVX512Intrinsics",
            swiftSettings: [.enableExperimentalFeature("BuiltinModule"), .unsafeFlags(["-target-cpu", "cascadelake"])]),
]
let isaDependencies: [Target.Dependency] = ["TensorAVX2", "TensorAVX512"]
#else
let isaTargets: [Target] = []
let isaDependencies: [Target.Dependency] = []
#endif

let package = Package(
    name: "swift-clip",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "CLIPZeroShot", targets: ["CLIPZeroShot"]),
        .library(name: "CLIPSearch", targets: ["CLIPSearch"]),
        .library(name: "VisionTransformer", targets: ["VisionTransformer"]),
        .library(name: "TextTransformer", targets: ["TextTransformer"]),
        .library(name: "CLIPTokenizer", targets: ["CLIPTokenizer"]),
        .library(name: "Tensor", targets: ["Tensor"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        // NIOCore for the server's channel handle (closing a connection whose upload was refused).
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        // The server's service group: a bounded graceful shutdown (--shutdown-timeout).
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        // Remote images (--allow-remote-images): connects to the address the SSRF check approved (dnsOverride, no
        // second lookup), TLS with the original host name, no automatic redirects or decompression.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.24.0"),
        // GET /metrics in Prometheus' text format.
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.0"),
        // `swift package generate-documentation` (DocC); used by no target, so consumers never fetch it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        // System library (Debian: libopenblas-dev).
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),

        // stb_image / stb_image_write compiled from Debian libstb-dev's headers, with a libjpeg-exact JPEG back end.
        .target(name: "CSTBImage", path: "Sources/CSTBImage"),

        // CPUID/XGETBV for the dispatch.
        .target(name: "CCPUFeatures", path: "Sources/CCPUFeatures"),
        // Instructions Swift's SIMD types do not reach (prefetch; the int8 dot products), as always-inlined wrappers
        // over the compiler's Builtin module, plus the small `KernelVector` protocol the kernels are written against
        // (its witness tables use baseline instructions only).
        .target(name: "KernelIntrinsics", swiftSettings: [.enableExperimentalFeature("BuiltinModule")]),
        // The generic kernel bodies (package access) and their baseline instantiation.
        .target(name: "TensorSIMD", dependencies: ["KernelIntrinsics"], swiftSettings: [optimizedKernels]),
        .target(name: "Tensor", dependencies: ["CBLAS", "CCPUFeatures", "TensorSIMD"] + isaDependencies),
        .target(name: "CLIPCore", dependencies: ["Tensor", "TensorSIMD"]),
        // Image decoding (stb_image, libwebp) behind size and structure checks: no model code.
        .target(name: "CLIPImageIO", dependencies: ["CLIPCore", "CSTBImage", "CWebP"]),
        // WebP through Debian's libwebp (libwebp-dev): header-only size check, then the first frame as Pillow decodes it.
        .target(name: "CWebP", path: "Sources/CWebP",
                linkerSettings: [.linkedLibrary("webpdemux"), .linkedLibrary("webp")]),
        .target(name: "VisionTransformer", dependencies: ["Tensor", "CLIPCore", "CLIPImageIO"]),
        .target(name: "TextTransformer", dependencies: ["Tensor", "CLIPCore"]),
        // The tokenizer, with its vocabulary and text tables compiled in (no resource files to locate at run time).
        .target(name: "CCLIPTokenizerData"),
        .target(name: "CLIPTokenizer", dependencies: ["Tensor", "CCLIPTokenizerData"]),
        .target(name: "CLIPZeroShot",
                dependencies: ["Tensor", "CLIPCore", "CLIPImageIO", "VisionTransformer", "TextTransformer", "CLIPTokenizer"]),
        // Image search on a SQLite index (Debian: libsqlite3-dev): its own product, so classification users do not
        // link SQLite.
        .systemLibrary(
            name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "CLIPSearch", dependencies: ["CLIPZeroShot", "CSQLite", "Tensor"]),

        // The OpenAI-compatible HTTP server: its own target, so the libraries stay free of server dependencies.
        // malloc_trim for the server (glibc), behind a one-function C shim.
        .target(name: "CMallocTrim"),
        .target(
            name: "CLIPServer",
            dependencies: ["CLIPZeroShot", "CLIPSearch", "Tensor", "CMallocTrim", .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                           .product(name: "Prometheus", package: "swift-prometheus"),
                           .product(name: "AsyncHTTPClient", package: "async-http-client")]),

        .executableTarget(
            name: "clip",
            dependencies: ["CLIPZeroShot", "CLIPSearch", "CLIPServer", "VisionTransformer", "CLIPTokenizer",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            linkerSettings: staticSwiftRuntime),
        // The benchmark is not a product; it may use unsafeFlags (FMA peak measurement needs an FMA target).
        .executableTarget(
            name: "clip-bench",
            dependencies: ["CLIPZeroShot", "CLIPSearch", "CLIPCore", "CLIPImageIO", "VisionTransformer", "TextTransformer",
                           "CLIPTokenizer", "Tensor", "CSTBImage", "TensorSIMD"], path: "Benchmarks/clip-bench",
            swiftSettings: [.unsafeFlags(["-target-cpu", "haswell"])], linkerSettings: staticSwiftRuntime),

        .testTarget(name: "TensorTests", dependencies: ["Tensor", "TensorSIMD"]),
        .testTarget(name: "CLIPTests", dependencies: ["CLIPZeroShot", "CLIPSearch", "CLIPImageIO", "VisionTransformer",
                                                      "TextTransformer", "CLIPTokenizer", "CLIPCore", "Tensor", "CSTBImage"]),
        // The README's Swift examples, compiled.
        .testTarget(name: "READMEExampleTests", dependencies: ["CLIPZeroShot", "CLIPSearch"]),
        // Runs the built `clip` as users do.
        .testTarget(name: "CLITests", dependencies: ["CLIPZeroShot", "CLIPSearch", "clip"]),
        .testTarget(
            name: "CLIPServerTests",
            dependencies: ["CLIPServer", "CLIPZeroShot", "CLIPSearch", "CLIPCore", "Tensor",
                           .product(name: "HummingbirdTesting", package: "hummingbird")]),
    ] + isaTargets
)
