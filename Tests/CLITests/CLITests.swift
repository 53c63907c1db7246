// The `clip` executable as users run it: output contracts, errors, a copied binary, search index crash safety.

import CLIPZeroShot
import Foundation
import Testing

/// The repository root and the built `clip` next to this test bundle.
enum Built {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let clip: String = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for dir in [beside, beside.deletingLastPathComponent()] {
            let p = dir.appendingPathComponent("clip").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return root + "/.build/debug/clip"
    }()
    static let demo = root + "/Weights/demo"
    static let samples = root + "/Weights/samples"
}

struct Run {
    let status: Int32
    let stdout: String
    let stderr: String
    var errorLines: [Substring] { stderr.split(separator: "\n").filter { $0.hasPrefix("error:") } }
}

/// Runs an executable with arguments, capturing both streams (files, so large outputs cannot block).
func run(_ exe: String, _ args: [String], cwd: String? = nil, env: [String: String] = [:], timeout: Double = 300) throws -> Run {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    var environment = ProcessInfo.processInfo.environment
    environment["CLIP_CACHE_DIR"] = "off"
    environment.removeValue(forKey: "CLIP_WEIGHTS")
    environment.removeValue(forKey: "CLIP_INDEX")
    for (k, v) in env { environment[k] = v }
    p.environment = environment
    let dir = NSTemporaryDirectory() + "clip-run-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    FileManager.default.createFile(atPath: dir + "/out", contents: nil)
    FileManager.default.createFile(atPath: dir + "/err", contents: nil)
    p.standardOutput = FileHandle(forWritingAtPath: dir + "/out")
    p.standardError = FileHandle(forWritingAtPath: dir + "/err")
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(20_000) }
    if p.isRunning { p.terminate() }
    p.waitUntilExit()
    return Run(status: p.terminationStatus,
               stdout: (try? String(contentsOfFile: dir + "/out", encoding: .utf8)) ?? "",
               stderr: (try? String(contentsOfFile: dir + "/err", encoding: .utf8)) ?? "")
}

func clip(_ args: String..., cwd: String? = nil, env: [String: String] = [:]) throws -> Run {
    try run(Built.clip, args, cwd: cwd, env: env)
}

func tempDir(_ name: String) throws -> String {
    let d = NSTemporaryDirectory() + "clip-cli-\(name)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

func jsonArray(_ s: String) throws -> [[String: Any]] {
    try #require(try JSONSerialization.jsonObject(with: Data(s.utf8)) as? [[String: Any]])
}

@Suite(.serialized)
struct CLIContractTests {
    let red = Built.samples + "/red-circle.png"
    let labels = ["--labels", "red circle", "blue square", "green triangle"]

    @Test func versionMatchesTheLibrary() throws {
        let r = try clip("--version")
        #expect(r.status == 0)
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == CLIP.version)
    }

    @Test("classify --json has the same shape for one image and for several, with the image paths")
    func classifyJSONShape() throws {
        for images in [[red], [red, Built.samples + "/green-square-on-black.png"]] {
            let r = try run(Built.clip, ["classify"] + images + labels + ["--json", "--weights", Built.demo])
            #expect(r.status == 0, "\(r.stderr)")
            let entries = try jsonArray(r.stdout)
            #expect(entries.map { $0["image"] as? String } == images)
            for e in entries {
                let results = try #require(e["results"] as? [[String: Any]])
                #expect(results.count == 3)
                let sum = results.compactMap { $0["score"] as? Double }.reduce(0, +)
                #expect(abs(sum - 1) < 1e-4)
            }
            #expect((entries[0]["results"] as? [[String: Any]])?.first?["label"] as? String == "red circle")
        }
    }

    @Test("a missing image gets an error entry; the good one still prints; exit 1 at the end")
    func keepGoing() throws {
        let r = try clip("classify", red, "/nonexistent/missing.jpg", "--labels", "red circle", "blue square", "--json",
                         "--weights", Built.demo)
        #expect(r.status == 1)
        let entries = try jsonArray(r.stdout)
        #expect(entries.count == 2)
        #expect(entries[0]["image"] as? String == red && entries[0]["results"] != nil)
        #expect(entries[1]["image"] as? String == "/nonexistent/missing.jpg")
        #expect((entries[1]["error"] as? String)?.contains("missing.jpg") == true)
        #expect(r.stderr.contains("1 of 2 images failed"))
        // --no-keep-going stops at the failure.
        let stop = try clip("classify", "/nonexistent/missing.jpg", red, "--labels", "a", "b", "--no-keep-going",
                            "--weights", Built.demo)
        #expect(stop.status == 1 && stop.stdout.isEmpty)
    }

    @Test("no progress bar when stderr is not a terminal")
    func noProgressWithoutTerminal() throws {
        let images = Array(repeating: red, count: 20)
        let r = try run(Built.clip, ["classify"] + images + ["--labels", "red circle", "blue square", "--weights", Built.demo])
        #expect(r.status == 0)
        #expect(!r.stderr.contains("img/s") && !r.stderr.contains("\r"))
    }

    @Test("a progress bar on stderr when it is a terminal (run under script(1), which gives it a pty)")
    func progressOnTerminal() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { return }
        let images = Array(repeating: red, count: 20).joined(separator: " ")
        let command = "\(Built.clip) classify \(images) --labels 'red circle' 'blue square' --weights \(Built.demo) >/dev/null"
        let r = try run("/usr/bin/script", ["-qec", command, "/dev/null"], env: ["CLIP_CACHE_DIR": "off"])
        #expect(r.status == 0, "\(r.stdout)")
        #expect(r.stdout.contains("20/20") && r.stdout.contains("img/s"), "\(r.stdout)")
    }

    @Test("conflicting options are usage errors: one line, exit 1", arguments: [
        ["--template", "a {}", "--no-template"],
        ["--ensemble", "imagenet", "--template", "a {}"],
        ["--ensemble", "imagenet", "--no-template"],
        ["--top", "0"],
        ["--ensemble", "nope"],
    ])
    func conflicts(_ extra: [String]) throws {
        let r = try run(Built.clip, ["classify", red, "--labels", "a", "b", "--weights", Built.demo] + extra)
        #expect(r.status == 1)
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(r.stderr.hasPrefix("error: "))
    }

    @Test("--help prints the whole help on stdout and exits 0, for the tool and each subcommand", arguments: [
        ["--help"], ["classify", "--help"], ["serve", "--help"], ["search", "index", "--help"], ["help", "serve"],
    ])
    func help(_ args: [String]) throws {
        let r = try run(Built.clip, args)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.isEmpty, "\(r.stderr)")
        #expect(r.stdout.contains("USAGE: clip"))
        #expect(r.stdout.split(separator: "\n").count > 5, "help is laid out on lines: \(r.stdout)")
    }

    @Test("usage errors are one line on stderr and exit 1", arguments: [
        ["classify"], ["--bogus"], ["embed-text", "--threads", "x", "hi"], ["nonsense-command"],
        // Numbers too large to convert must be refused, not trap.
        ["serve", "--remote-timeout", "1e300"], ["serve", "--batch-wait-ms", "1e300"], ["serve", "--max-body-mb", "1e300"],
        ["serve", "--remote-max-mb", "inf"],
    ])
    func usageErrors(_ args: [String]) throws {
        let r = try run(Built.clip, args)
        #expect(r.status == 1)
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(r.stderr.hasPrefix("error: "))
    }

    @Test("--labels-file: trimmed, blank and # lines skipped, repeats dropped with a note")
    func labelsFile() throws {
        let dir = try tempDir("labels")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "# shapes\n  red circle  \n\nblue square\n# green triangle\nred circle\n".write(toFile: dir + "/labels.txt", atomically: true, encoding: .utf8)
        let r = try clip("classify", red, "--labels", "blue square", "--labels-file", dir + "/labels.txt", "--json", "--weights", Built.demo)
        #expect(r.status == 0, "\(r.stderr)")
        let results = try #require(try jsonArray(r.stdout).first?["results"] as? [[String: Any]])
        #expect(Set(results.compactMap { $0["label"] as? String }) == ["red circle", "blue square"])
        #expect(r.stderr.contains("ignored 2 repeated labels"))
    }

    @Test("embed-image and embed-text are normalised by default, raw with --raw")
    func normalisation() throws {
        for args in [["embed-image", red], ["embed-text", "a red circle"]] {
            for raw in [false, true] {
                let r = try run(Built.clip, args + ["--weights", Built.demo] + (raw ? ["--raw"] : []))
                #expect(r.status == 0, "\(r.stderr)")
                let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
                let row = try #require((obj["embeddings"] as? [[Double]])?.first)
                let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
                if raw { #expect(abs(norm - 1) > 1e-3) } else { #expect(abs(norm - 1) < 1e-5) }
            }
        }
    }

    @Test("a checkpoint holding only pytorch_model.bin points at Tools/convert")
    func pytorchOnly() throws {
        let dir = try tempDir("pt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: Built.demo + "/config.json", toPath: dir + "/config.json")
        FileManager.default.createFile(atPath: dir + "/pytorch_model.bin", contents: Data([0x50, 0x4b]))
        let r = try clip("classify", red, "--labels", "a", "b", "--weights", dir)
        #expect(r.status == 1)
        #expect(r.errorLines.count == 1)
        #expect(r.stderr.contains("pytorch_model.bin") && r.stderr.contains("Tools/convert"))
    }

    @Test("clip serve on a port in use says so in one line, naming the port")
    func portInUse() throws {
        // Hold a port with a plain listening socket.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && listen(fd, 1) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        try #require(bound)
        let port = Int(UInt16(bigEndian: addr.sin_port))
        let r = try clip("serve", "--weights", Built.demo, "--port", String(port))
        #expect(r.status == 1)
        #expect(r.errorLines.count == 1, "\(r.stderr)")
        #expect(r.stderr.contains("port \(port)") && r.stderr.contains("in use"))
    }

    @Test("a copy of the binary in another folder runs: --weights works, the demo is found from an install prefix")
    func copiedBinary() throws {
        let dir = try tempDir("copy")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/bin", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Built.clip, toPath: dir + "/bin/clip")
        let withWeights = try run(dir + "/bin/clip", ["classify", red] + labels + ["--weights", Built.demo, "--json"], cwd: dir)
        #expect(withWeights.status == 0, "\(withWeights.stderr)")
        let noDemo = try run(dir + "/bin/clip", ["classify", red] + labels, cwd: dir)
        #expect(noDemo.status == 1)
        #expect(noDemo.errorLines.count == 1 && noDemo.stderr.contains("no bundled demo model"))
        try FileManager.default.createDirectory(atPath: dir + "/share/swift-clip", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir + "/share/swift-clip/demo", withDestinationPath: Built.demo)
        let installed = try run(dir + "/bin/clip", ["classify", red] + labels + ["--json"], cwd: dir)
        #expect(installed.status == 0, "\(installed.stderr)")
    }

    @Test("a debug build says once that it is slow")
    func debugWarning() throws {
        #if DEBUG
        let r = try clip("embed-text", "hi", "--weights", Built.demo)
        #expect(r.stderr.components(separatedBy: "debug build").count == 2)
        #endif
    }

    @Test("Tools/ scripts report a missing Python package in one line")
    func missingPythonPackage() throws {
        let dir = try tempDir("py")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "raise ImportError(\"No module named 'torch'\", name='torch')\n".write(toFile: dir + "/torch.py", atomically: true, encoding: .utf8)
        try "raise ImportError(\"No module named 'safetensors'\", name='safetensors')\n".write(toFile: dir + "/safetensors.py", atomically: true, encoding: .utf8)
        let r = try run("/usr/bin/env", ["python3", Built.root + "/Tools/convert", "openai", "/nonexistent.pt", "--out", dir + "/out"],
                        env: ["PYTHONPATH": dir])
        #expect(r.status == 1)
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(r.stderr.contains("requirements.txt"))
    }

    @Test("LICENSE, NOTICE and CHANGELOG ship; the README names this version, without placeholders")
    func releaseFiles() throws {
        let license = try String(contentsOfFile: Built.root + "/LICENSE", encoding: .utf8)
        #expect(license.contains("Apache License") && license.contains("Version 2.0"))
        let notice = try String(contentsOfFile: Built.root + "/NOTICE", encoding: .utf8)
        for part in ["OpenAI", "MIT", "stb", "Independent JPEG Group", "ImageNet"] { #expect(notice.contains(part)) }
        let changelog = try String(contentsOfFile: Built.root + "/CHANGELOG.md", encoding: .utf8)
        #expect(changelog.contains("## \(CLIP.version)"))
        let readme = try String(contentsOfFile: Built.root + "/README.md", encoding: .utf8)
        #expect(!readme.contains("<you>"))
        #expect(readme.contains("from: \"\(CLIP.version)\""))
    }
}
