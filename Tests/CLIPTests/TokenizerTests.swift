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

    @Test("the head CLIP.contextPrefix keeps tokenises to the same 77 ids as the whole text")
    func contextPrefixIsExact() throws {
        let tok = try CLIPTokenizer.shared()
        let corpus = try loadJSON(fixtures + "/tokenizer/corpus.json").arrayValue ?? []
        #expect(corpus.count >= 500)
        var texts = corpus.compactMap { $0["text"]?.stringValue }
        // Long inputs: the corpus repeated, whitespace runs, HTML entities and punctuation across many words.
        texts += corpus.prefix(50).compactMap { $0["text"]?.stringValue }.map { String(repeating: $0 + " ", count: 40) }
        texts += ["a" + String(repeating: " \t\n", count: 5000) + "b c", String(repeating: "x&amp;y, ", count: 3000),
                  String(repeating: "Hello!!! World's 12,345 ", count: 500)]
        for text in texts {
            let full = Array(tok.encode(text).prefix(77))
            let head = Array(tok.encode(CLIP.contextPrefix(text, words: 77)).prefix(77))
            #expect(head == full, "\(text.prefix(60).debugDescription)")
        }
        // A 20 MB input is cut to its head: one long word, then words.
        let huge = String(repeating: "z", count: 10 << 20) + String(repeating: " word", count: 2 << 20)
        #expect(CLIP.contextPrefix(huge, words: 77).utf8.count < 5000)
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
