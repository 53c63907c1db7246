// The tokenizer against open_clip's SimpleTokenizer on a 1,300-string corpus (Tools/make_tokenizer_fixture.py).

import CLIPCore
import CLIPImageIO
import CLIPTokenizer
import CLIPZeroShot
import Tensor
import Testing
import TextTransformer
import VisionTransformer

struct TokenizerTests {
    @Test("corpus ids equal open_clip's exactly")
    func corpus() throws {
        let tok = try CLIPTokenizer.shared()
        let corpus = try loadJSON(fixtures + "/tokenizer/corpus.json").arrayValue ?? []
        #expect(corpus.count >= 500)
        var failures: [String] = []
        for item in corpus {
            let text = item["text"]?.stringValue ?? ""
            let expected = (item["ids"]?.arrayValue ?? []).compactMap(\.intValue)
            let got = tok.encode(text)
            if got != expected {
                failures.append("\(text.debugDescription.prefix(80)): got \(got.prefix(20)) expected \(expected.prefix(20))")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(corpus.count) differ:\n\(failures.prefix(10).joined(separator: "\n"))")
    }

    @Test("special tokens, context length and truncation")
    func specials() throws {
        let tok = try CLIPTokenizer.shared()
        #expect(tok.startOfText == 49406)
        #expect(tok.endOfText == 49407)
        #expect(tok.bpe.vocabulary.count == 49408)
        #expect(tok.encode("") == [49406, 49407])
        let long = tok.encode(String(repeating: "word ", count: 200))
        #expect(long.count == 77)
        #expect(long.first == 49406 && long.last == 49407)
    }
}
