// `clip-bench --agreement A B --images DIR`: how closely two checkpoints agree (an int8 copy against its float
// original): cosine similarity of their image and text embeddings, min and mean, over the same inputs.

import CLIPCore
import CLIPImageIO
import CLIPTokenizer
import CLIPZeroShot
import Tensor
import TextTransformer
import VisionTransformer
import Foundation

let agreementTexts: [String] = {
    let things = ["cat", "dog", "car", "bird", "tree", "house", "person", "boat", "flower", "horse", "red circle",
                  "blue square", "green triangle", "yellow star", "city at night", "bowl of soup", "mountain lake",
                  "astronaut", "diagram", "handwritten note"]
    return things.map { "a photo of a \($0)." } + things.map { "This is a drawing of \($0)s, seen from above" }
}()

func agreement(_ a: String, _ b: String, images directory: String, options: Options) throws {
    let extensions = ["jpg", "jpeg", "png", "bmp", "gif", "tga"]
    let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        .filter { extensions.contains(($0 as NSString).pathExtension.lowercased()) }.map { directory + "/" + $0 }
    let first = try CLIP(directory: a, options: options.loadOptions)
    let second = try CLIP(directory: b, options: options.loadOptions)
    var images: [CLIPImage] = []
    for f in files where (try? first.decode(.path(f))) != nil { images.append(.path(f)) }
    func cosines(_ x: Embeddings, _ y: Embeddings) -> [Double] {
        let d = x.dimension
        return (0..<x.count).map { i in
            var dot = 0.0, nx = 0.0, ny = 0.0
            for k in 0..<d {
                let p = Double(x.values[i * d + k]), q = Double(y.values[i * d + k])
                dot += p * q; nx += p * p; ny += q * q
            }
            return dot / (nx * ny).squareRoot()
        }
    }
    let image = cosines(try first.imageEmbeddings(images), try second.imageEmbeddings(images))
    let text = cosines(try first.textEmbeddings(agreementTexts), try second.textEmbeddings(agreementTexts))
    func summary(_ c: [Double]) -> String {
        String(format: "{\"count\": %d, \"min\": %.6f, \"mean\": %.6f}", c.count, c.min() ?? 0, c.reduce(0, +) / Double(max(c.count, 1)))
    }
    print("{\"a\": \"\(a)\", \"b\": \"\(b)\", \"backend\": \"\(first.model.compute.backend)\", "
          + "\"image_cosine\": \(summary(image)), \"text_cosine\": \(summary(text))}")
}
