// OpenAI CLIP's byte-level BPE (open_clip SimpleTokenizer.bpe): byte→unicode map, merges by rank,
// `</w>` word ends, and a cache of merged words.

import Tensor

/// Byte-level BPE over the 49,408-token CLIP vocabulary.
///
/// ```swift
/// let bpe = try BytePairEncoder(mergesFile: bytes)
/// bpe.encode(word: Array("hello".utf8))   // [3306]
/// ```
public final class BytePairEncoder: @unchecked Sendable {
    /// Token strings by id (byte-level unicode, as in the reference implementation).
    public let vocabulary: [String]
    /// Id of each token string (last occurrence wins, as Python's `dict(zip(vocab, range))`).
    private let encoder: [String: Int]
    /// (left id, right id) packed → (rank, merged id).
    private let merges: [UInt64: (rank: Int32, merged: Int32)]
    /// byte → id of its single-character symbol, and of the same with `</w>`.
    private let byteSymbol: [Int32]
    private let byteSymbolEnd: [Int32]
    private var cache: [[UInt8]: [Int]] = [:]
    private let cacheLimit = 100_000
    private let lock = Lock()

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
            table[b] = i < 188 ? Unicode.Scalar(UInt8(b)) : Unicode.Scalar(UInt32(256 + i - 188))!
        }
        return table
    }()

    /// Builds the vocabulary from the bytes of `bpe_simple_vocab_16e6.txt` exactly as open_clip does:
    /// lines 1…48,894 are merges; vocab = 256 byte symbols, the same with `</w>`, merges, then special tokens.
    /// Parsed as bytes (no `String.split`), since this runs at every process start.
    ///
    /// ```swift
    /// let bpe = try BytePairEncoder(mergesFile: bytes, specialTokens: ["<start_of_text>", "<end_of_text>"])
    /// ```
    public init(mergesFile bytes: [UInt8], specialTokens: [String] = ["<start_of_text>", "<end_of_text>"]) throws {
        let wanted = 49152 - 256 - 2
        var pairs: [(String, String)] = []
        pairs.reserveCapacity(wanted)
        try bytes.withUnsafeBufferPointer { buf in
            var line = 0
            var i = 0
            while i < buf.count && pairs.count < wanted {
                var end = i
                while end < buf.count && buf[end] != 0x0A { end += 1 }
                if line >= 1 {
                    var space = i
                    while space < end && buf[space] != 0x20 { space += 1 }
                    guard space > i, space + 1 < end else {
                        throw GzipError(reason: "malformed BPE merge on line \(line + 1)")
                    }
                    var lineEnd = end
                    if lineEnd > space + 1 && buf[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                    pairs.append((String(decoding: UnsafeBufferPointer(rebasing: buf[i..<space]), as: UTF8.self),
                                  String(decoding: UnsafeBufferPointer(rebasing: buf[(space + 1)..<lineEnd]), as: UTF8.self)))
                }
                line += 1
                i = end + 1
            }
        }
        guard pairs.count == wanted else {
            throw GzipError(reason: "BPE merges file has \(pairs.count) merges, expected \(wanted)")
        }
        let mergePairs = pairs
        let bytes = BytePairEncoder.byteToUnicode.map { String(Character($0)) }   // by byte value
        let ordered = BytePairEncoder.byteOrder.map { bytes[$0] }                // vocabulary order
        var vocab = ordered + ordered.map { $0 + "</w>" }
        vocab.reserveCapacity(512 + mergePairs.count + specialTokens.count)
        for (a, b) in mergePairs { vocab.append(a + b) }
        vocab.append(contentsOf: specialTokens)
        var enc: [String: Int] = [:]
        enc.reserveCapacity(vocab.count)
        for (i, t) in vocab.enumerated() { enc[t] = i }
        var m: [UInt64: (rank: Int32, merged: Int32)] = [:]
        m.reserveCapacity(mergePairs.count)
        for (rank, (a, b)) in mergePairs.enumerated() {
            guard let ia = enc[a], let ib = enc[b], let im = enc[a + b] else {
                throw GzipError(reason: "BPE merge \(a) \(b) uses an unknown symbol")
            }
            m[UInt64(ia) << 32 | UInt64(ib)] = (Int32(rank), Int32(im))   // later duplicates win, like dict(zip)
        }
        vocabulary = vocab
        encoder = enc
        merges = m
        var single: [Int32] = [], end: [Int32] = []
        for b in bytes {
            guard let s = enc[b], let e = enc[b + "</w>"] else { throw GzipError(reason: "byte symbol missing") }
            single.append(Int32(s))
            end.append(Int32(e))
        }
        byteSymbol = single
        byteSymbolEnd = end
    }

    /// The id of a vocabulary string, if any.
    ///
    /// ```swift
    /// bpe.id(of: "<end_of_text>")   // 49407
    /// ```
    public func id(of token: String) -> Int? { encoder[token] }

    /// BPE-encodes one pre-token given as UTF-8 bytes (a word without spaces), returning vocabulary ids.
    ///
    /// ```swift
    /// bpe.encode(word: Array("photo".utf8))
    /// ```
    public func encode(word: [UInt8]) -> [Int] {
        if let hit = lock.withLock({ cache[word] }) { return hit }
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
        lock.withLock {
            if cache.count >= cacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[word] = ids
        }
        return ids
    }
}
