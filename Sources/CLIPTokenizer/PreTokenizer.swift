// The split of cleaned text into pre-tokens, equivalent to open_clip's pattern (compiled with IGNORECASE):
// <start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+

/// One pre-token: either a special token's id or a run of scalars to BPE-encode.
enum PreToken: Equatable {
    case special(Int)
    case word([Unicode.Scalar])
}

/// Splits text the way the regex's leftmost-alternative `findall` does, with Unicode classes from the tables.
struct PreTokenizer {
    let tables: TextTables
    /// (literal, id) pairs tried first at every position.
    let specials: [([Unicode.Scalar], Int)]

    static let contractions: [[Unicode.Scalar]] = ["s", "t", "re", "ve", "m", "ll", "d"].map { Array($0.unicodeScalars) }

    func isLetter(_ s: Unicode.Scalar) -> Bool { tables.regexL.contains(s) }
    func isNumber(_ s: Unicode.Scalar) -> Bool { tables.regexN.contains(s) }
    func isSpace(_ s: Unicode.Scalar) -> Bool { tables.regexS.contains(s) }
    func isUnmatched(_ s: Unicode.Scalar) -> Bool { tables.regexUnmatched.contains(s.value) }

    /// A pattern letter matches itself and, under IGNORECASE, its case-fold equivalents.
    func matches(_ pattern: Unicode.Scalar, _ s: Unicode.Scalar) -> Bool {
        s == pattern || (tables.ignoreCaseEquivalents[pattern]?.contains(s.value) ?? false)
    }

    func split(_ text: [Unicode.Scalar]) -> [PreToken] {
        var out: [PreToken] = []
        var i = 0
        let n = text.count
        scan: while i < n {
            for (literal, id) in specials where i + literal.count <= n {
                let piece = text[i..<(i + literal.count)]
                if zip(literal, piece).allSatisfy({ matches($0, $1) }) {
                    // The regex matches case-insensitively, but only the exact literal is in the BPE cache as a
                    // special token; a variant such as "<ſtart_of_text>" is BPE-encoded like any word.
                    out.append(piece.elementsEqual(literal) ? .special(id) : .word(Array(piece)))
                    i += literal.count
                    continue scan
                }
            }
            let s = text[i]
            if s == "'" {
                for c in PreTokenizer.contractions where i + 1 + c.count <= n {
                    if zip(c, text[(i + 1)..<(i + 1 + c.count)]).allSatisfy({ matches($0, $1) }) {
                        out.append(.word(Array(text[i..<(i + 1 + c.count)])))
                        i += 1 + c.count
                        continue scan
                    }
                }
            }
            if isLetter(s) {
                var j = i + 1
                while j < n && isLetter(text[j]) { j += 1 }
                out.append(.word(Array(text[i..<j])))
                i = j
            } else if isNumber(s) {
                out.append(.word([s]))
                i += 1
            } else if isSpace(s) || isUnmatched(s) {
                i += 1   // whitespace, and scalars no alternative matches under IGNORECASE (U+0345), are skipped
            } else {
                var j = i + 1
                while j < n && !isLetter(text[j]) && !isNumber(text[j]) && !isSpace(text[j]) && !isUnmatched(text[j]) {
                    j += 1
                }
                out.append(.word(Array(text[i..<j])))
                i = j
            }
        }
        return out
    }
}
