// swift-tools-version: 6.2
// A package that uses swift-clip as a dependency, the way an application would. As committed it depends on the
// checkout it sits in; Tools/consumer-check rewrites the dependency to a tagged release (`from:`) and runs it.
import PackageDescription

let package = Package(
    name: "consumer",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "../..")],
    targets: [
        .executableTarget(name: "Consumer", dependencies: [.product(name: "CLIPZeroShot", package: "swift-clip")]),
    ]
)
