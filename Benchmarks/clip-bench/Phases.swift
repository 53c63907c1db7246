// `clip-bench --phases DIR`: where start-up time goes (tokenizer, backend selection, weights, first results).

import CLIPZeroShot
import Foundation

func startupPhases(_ dir: String) throws {
    var t = now()
    func lap(_ name: String) {
        let n = now()
        print(String(format: "  %-34@ %8.1f ms", name as NSString, (n - t) * 1000))
        t = n
    }
    _ = MatmulBackend.selected
    lap("matmul backend selection (\(MatmulBackend.selected))")
    let tok = try CLIPTokenizer.shared()
    lap("tokenizer (vocabulary + tables)")
    let model = try CLIPModel(directory: dir)
    lap("weights (map, check, pack)")
    let ids = tok.encode(labels.map { "This is a photo of \($0)." })
    _ = try model.text.textFeatures(ids)
    lap("first text forward (10 labels)")
    let img = syntheticImage(width: 224, height: 224)
    _ = try model.vision.imageFeatures(model.vision.preprocessor(img), batch: 1)
    lap("first image forward")
    _ = try model.vision.imageFeatures(model.vision.preprocessor(img), batch: 1)
    lap("second image forward")
}
