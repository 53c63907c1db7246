// OpenAI CLIP's byte-level BPE (open_clip SimpleTokenizer.bpe): byte→unicode map, merges by rank,
// `</w>` word ends, and a cache of merged words. word: UTF-8 bytes -> vocabulary ids.

import Synchronization
import Tensor

/// Byte-level BPE over the 49,408-token CLIP vocabulary.
///
/// ```swift
/// let bpe = try CLIPTokenizer.shared().bpe
/// bpe.encode(word: Array("hello".utf8))   // [3306]
/// ```
public final class BytePairEncoder: Sendable {
    /// The number of merges (vocabulary = 256 byte symbols, the same with `</w>`, one per merge, the specials).
    public let mergeCount: Int
    /// The special tokens, whose ids follow the merges.
    public let specialTokens: [String]
    /// (left id, right id) packed → (rank, merged id).
    private let merges: [UInt64: (rank: Int32, merged: Int32)]
    /// (left, right, merged) per merge in rank order: the vocabulary strings are rebuilt from these on demand.
    private let triples: [(UInt16, UInt16, UInt16)]
    /// byte → id of its single-character symbol, and of the same with `</w>`.
    private let byteSymbol: [Int32]
    private let byteSymbolEnd: [Int32]
    /// Merged words, bounded by ``cacheLimit``.
    private let cache = Mutex<[[UInt8]: [Int]]>([:])
    private let cacheLimit = 100_000

    /// Bytes in the reference's dict insertion order: printable ranges first, then the rest. The first 256
    /// vocabulary entries follow this order, not byte order.
    static let byteOrder: [Int] = {
        var bs = Array(33...126) + Array(161...172) + Array(174...255)
        for b in 0..<256 where !bs.contains(b) { bs.append(b) }
        return bs
    }()

    /// OpenAI's reversible byte → unicode mapping (printable bytes map to themselves), indexed by byte.
    public static let byteToUnicode: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        for (i, b) in byteOrder.enumerated() {
            table[b] = Unicode.Scalar(UInt32(i < 188 ? b : 256 + i - 188)) ?? " "
        }
        return table
    }()

    /// Builds the encoder from the merges as (left id, right id, merged id) triples in rank order, as
    /// Tools/gen_tokenizer_data.py resolves them from `bpe_simple_vocab_16e6.txt` the way open_clip does.
    /// - Throws: ``TokenizerError/corruptResource(_:)`` when an id points outside the vocabulary.
    public init(triples: [(UInt16, UInt16, UInt16)], specialTokens: [String] = ["<start_of_text>", "<end_of_text>"]) throws {
        let size = 512 + triples.count + specialTokens.count
        var m: [UInt64: (rank: Int32, merged: Int32)] = [:]
        m.reserveCapacity(triples.count)
        for (rank, (a, b, merged)) in triples.enumerated() {
            guard Int(a) < size, Int(b) < size, Int(merged) < size else {
                throw TokenizerError.corruptResource("BPE merge \(rank) uses an id outside the vocabulary of \(size)")
            }
            m[UInt64(a) << 32 | UInt64(b)] = (Int32(rank), Int32(merged))   // later duplicates win, like dict(zip)
        }
        merges = m
        self.triples = triples
        mergeCount = triples.count
        self.specialTokens = specialTokens
        var single = [Int32](repeating: 0, count: 256)
        for (i, b) in BytePairEncoder.byteOrder.enumerated() { single[b] = Int32(i) }
        byteSymbol = single
        byteSymbolEnd = single.map { $0 + 256 }
    }

    /// The number of tokens.
    public var vocabularySize: Int { 512 + mergeCount + specialTokens.count }

    /// Token strings by id (byte-level unicode, as in the reference implementation), rebuilt from the merges.
    public var vocabulary: [String] {
        let bytes = BytePairEncoder.byteOrder.map { String(Character(BytePairEncoder.byteToUnicode[$0])) }
        var vocab = bytes + bytes.map { $0 + "</w>" }
        vocab.reserveCapacity(vocabularySize)
        for (a, b, _) in triples { vocab.append(vocab[Int(a)] + vocab[Int(b)]) }
        return vocab + specialTokens
    }

    /// The id of a special token, if it is one.
    public func id(ofSpecial token: String) -> Int? {
        specialTokens.firstIndex(of: token).map { 512 + mergeCount + $0 }
    }

    /// BPE-encodes one pre-token given as UTF-8 bytes (a word without spaces), returning vocabulary ids.
    public func encode(word: [UInt8]) -> [Int] {
        if let hit = cache.withLock({ $0[word] }) { return hit }
        guard !word.isEmpty else { return [] }
        // Start from one symbol per byte; the last carries the word end.
        var symbols = word.map { byteSymbol[Int($0)] }
        symbols[symbols.count - 1] = byteSymbolEnd[Int(word[word.count - 1])]
        while symbols.count > 1 {
            // The adjacent pair with the lowest merge rank.
            var bestRank = Int32.max
            var best: (Int32, Int32) = (0, 0)
            for i in 0..<(symbols.count - 1) {
                if let m = merges[UInt64(UInt32(symbols[i])) << 32 | UInt64(UInt32(symbols[i + 1]))], m.rank < bestRank {
                    bestRank = m.rank
                    best = (symbols[i], symbols[i + 1])
                }
            }
            guard bestRank != Int32.max,
                  let merged = merges[UInt64(UInt32(best.0)) << 32 | UInt64(UInt32(best.1))]?.merged else { break }
            // Merge every non-overlapping occurrence, left to right.
            var next: [Int32] = []
            next.reserveCapacity(symbols.count)
            var i = 0
            while i < symbols.count {
                if i < symbols.count - 1 && symbols[i] == best.0 && symbols[i + 1] == best.1 {
                    next.append(merged)
                    i += 2
                } else {
                    next.append(symbols[i])
                    i += 1
                }
            }
            symbols = next
        }
        let ids = symbols.map(Int.init)
        cache.withLock { cache in
            if cache.count >= cacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[word] = ids
        }
        return ids
    }
}
