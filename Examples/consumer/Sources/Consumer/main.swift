// Classifies one image with a CLIP checkpoint through the CLIPZeroShot library: `Consumer WEIGHTS_DIR IMAGE LABEL...`.

import CLIPZeroShot
import Foundation

let arguments = CommandLine.arguments.dropFirst()
guard arguments.count >= 3 else {
    FileHandle.standardError.write(Data("usage: Consumer WEIGHTS_DIR IMAGE LABEL...\n".utf8))
    exit(64)
}
let weights = arguments[arguments.startIndex]
let image = arguments[arguments.startIndex + 1]
let labels = Array(arguments.dropFirst(2))
do {
    let clip = try CLIP(directory: weights)
    let ranked = try clip.classify(image: .path(image), labels: labels)
    print("swift-clip \(CLIP.version), backend \(clip.model.compute.backend)")
    for r in ranked { print(String(format: "%.4f  %@", r.score, r.label)) }
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
