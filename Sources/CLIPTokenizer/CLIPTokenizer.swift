// OpenAI CLIP's tokenizer (open_clip SimpleTokenizer, clean="lower"): clean → split → byte-level BPE,
// wrapped in <start_of_text> … <end_of_text> and truncated to the 77-token context.

import CCLIPTokenizerData
import Tensor

/// The CLIP tokenizer with its vocabulary bundled in the package (no files needed at run time).
///
/// ```swift
/// let tokenizer = try CLIPTokenizer.shared()
/// let ids = tokenizer.encode("a photo of a cat")   // [49406, 320, 1125, 539, 320, 2368, 49407]
/// ```
public final class CLIPTokenizer: Sendable {
    /// `<start_of_text>`
    public let startOfText: Int
    /// `<end_of_text>`
    public let endOfText: Int
    /// Tokens per sequence including both special tokens.
    public let contextLength: Int
    /// The BPE vocabulary.
    public let bpe: BytePairEncoder
    let cleaner: TextCleaner
    let preTokenizer: PreTokenizer

    private static let sharedResult: Result<CLIPTokenizer, Error> = Result { try CLIPTokenizer() }

    /// The tokenizer built from the bundled vocabulary, created once per process.
    public static func shared() throws -> CLIPTokenizer { try sharedResult.get() }

    /// Builds a tokenizer from the bundled resources (prefer ``shared()``; this parses ~1.6 MB of merges).
    public init(contextLength: Int = 77) throws {
        // The merges and tables are compiled in (Tools/gen_tokenizer_data.py): no resource files to find.
        let count = Int(clip_bpe_merge_count())
        guard let data = clip_bpe_merges(), let tableBytes = clip_text_tables_json() else {
            throw TokenizerError.corruptResource("no compiled-in data")
        }
        let triples = (0..<count).map { (data[3 * $0], data[3 * $0 + 1], data[3 * $0 + 2]) }
        let specials = ["<start_of_text>", "<end_of_text>"]
        bpe = try BytePairEncoder(triples: triples, specialTokens: specials)
        let tablesJSON: JSONValue
        do {
            tablesJSON = try JSONValue.parse(UnsafeBufferPointer(start: tableBytes, count: Int(clip_text_tables_json_length())))
        } catch {
            throw TokenizerError.corruptResource("text tables: \(error)")
        }
        let tables = TextTables(json: tablesJSON)
        cleaner = TextCleaner(tables: tables)
        guard let sot = bpe.id(ofSpecial: specials[0]), let eot = bpe.id(ofSpecial: specials[1]) else {
            throw TokenizerError.corruptResource("special tokens missing from the vocabulary")
        }
        startOfText = sot
        endOfText = eot
        preTokenizer = PreTokenizer(tables: tables, specials: specials.enumerated().map {
            (Array($0.element.unicodeScalars), [sot, eot][$0.offset])
        })
        self.contextLength = max(2, contextLength)
    }

    /// The cleaned text the BPE sees: ftfy-style fixes, HTML unescaped twice, whitespace collapsed, lowercased.
    public func clean(_ text: String) -> String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: cleaner.clean(Array(text.unicodeScalars)))
        return String(s)
    }

    /// BPE ids of `text` without special tokens and without truncation.
    public func tokens(_ text: String) -> [Int] {
        tokens(text, limit: Int.max)
    }

    /// BPE ids, stopping once `limit` ids exist (later words cannot change earlier ids).
    func tokens(_ text: String, limit: Int) -> [Int] {
        var ids: [Int] = []
        for piece in preTokenizer.split(cleaner.clean(Array(text.unicodeScalars))) {
            if ids.count >= limit { break }
            switch piece {
            case .special(let id): ids.append(id)
            case .word(let scalars):
                var word = String.UnicodeScalarView()
                word.append(contentsOf: scalars)
                ids.append(contentsOf: bpe.encode(word: Array(String(word).utf8)))
            }
        }
        return ids
    }

    /// `[<start_of_text>] + tokens + [<end_of_text>]`, truncated to `contextLength` with the last kept slot
    /// forced to `<end_of_text>` (open_clip's behaviour). Never throws: any string has a tokenization.
    public func encode(_ text: String) -> [Int] {
        // Only contextLength − 2 text tokens can be kept, so encoding stops there: a huge label costs no more
        // than its cleaning and the BPE of the words that fit.
        var ids = [startOfText] + tokens(text, limit: contextLength - 1) + [endOfText]
        if ids.count > contextLength {
            ids.removeLast(ids.count - contextLength)
            ids[contextLength - 1] = endOfText
        }
        return ids
    }

    /// ``encode(_:)`` for several texts, in order.
    public func encode(_ texts: [String]) -> [[Int]] { texts.map { encode($0) } }
}
