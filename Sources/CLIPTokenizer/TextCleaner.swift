// open_clip's clean="lower": ftfy.fix_text (the fixes that apply to real text) → html.unescape twice → strip
// → collapse whitespace → str.lower(), reproduced on Unicode scalars with tables generated from Python.

import Foundation

/// Text normalisation matching `whitespace_clean(basic_clean(text)).lower()` from open_clip.
///
/// Not reproduced: ftfy's mojibake repair (`fix_encoding`), which only rewrites text that is already
/// garbled (e.g. "Ã©" for "é"); such text is tokenised as written.
struct TextCleaner: Sendable {
    let tables: TextTables
    static let newline: Unicode.Scalar = "\n"

    func clean(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var s = fixText(text)
        s = htmlUnescape(htmlUnescape(s))
        // strip + " ".join(text.split()) + strip: split on Python's whitespace, join with single spaces.
        var collapsed: [Unicode.Scalar] = []
        collapsed.reserveCapacity(s.count)
        var pendingSpace = false
        for c in s {
            if tables.pyIsSpace.contains(c) {
                pendingSpace = !collapsed.isEmpty
            } else {
                if pendingSpace { collapsed.append(" ") }
                pendingSpace = false
                collapsed.append(c)
            }
        }
        return pythonLower(collapsed)
    }

    // MARK: ftfy.fix_text (default config)

    /// ftfy processes the text in segments ending after each "\n"; HTML unescaping stays on until a segment
    /// containing "<" is seen ("auto" mode), and each segment is fixed repeatedly until nothing changes.
    func fixText(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        var unescape = true
        var start = 0
        while start < text.count {
            var end = start
            while end < text.count && text[end] != TextCleaner.newline { end += 1 }
            if end < text.count { end += 1 }   // keep the "\n" with its segment
            var segment = Array(text[start..<end])
            if unescape && segment.contains("<") { unescape = false }
            for _ in 0..<16 {   // ftfy loops to a fixed point; real text settles in 2-3 passes
                let fixed = fixSegmentOnce(segment, unescapeHTML: unescape)
                if fixed == segment { break }
                segment = fixed
            }
            out.append(contentsOf: segment)
            start = end
        }
        return out
    }

    func fixSegmentOnce(_ input: [Unicode.Scalar], unescapeHTML: Bool) -> [Unicode.Scalar] {
        var s = unescapeHTML ? ftfyUnescape(input) : input
        // fix_c1_controls, fix_latin_ligatures, fix_character_width, uncurl_quotes: one scalar at a time
        var mapped: [Unicode.Scalar] = []
        mapped.reserveCapacity(s.count)
        for c in s {
            var piece: [Unicode.Scalar] = [c]
            if (0x80...0x9F).contains(c.value), let r = tables.c1Map[c] { piece = r }
            piece = piece.flatMap { tables.latinLigatures[$0] ?? [$0] }
            piece = piece.flatMap { tables.widthMap[$0] ?? [$0] }
            piece = piece.map { tables.singleQuotes.contains($0) ? "'" : tables.doubleQuotes.contains($0) ? "\"" : $0 }
            mapped.append(contentsOf: piece)
        }
        s = mapped
        // fix_line_breaks: \r\n, \r, U+2028, U+2029, U+0085 → \n
        var lines: [Unicode.Scalar] = []
        lines.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            let c = s[i]
            if c == "\r" {
                lines.append("\n")
                if i + 1 < s.count && s[i + 1] == "\n" { i += 1 }
            } else if c.value == 0x2028 || c.value == 0x2029 || c.value == 0x85 {
                lines.append("\n")
            } else {
                lines.append(c)
            }
            i += 1
        }
        s = removeTerminalEscapes(lines)
        // remove_control_chars
        s.removeAll { tables.controlCharsRemoved.contains($0) }
        return nfc(s)
    }

    /// ftfy's `unescape_html`: `&#?[0-9A-Za-z]{1,24};` replaced from its entity table, or for numeric
    /// references through html.unescape when the result contains no ";".
    func ftfyUnescape(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains("&") else { return s }
        var out: [Unicode.Scalar] = []
        var i = 0
        while i < s.count {
            if s[i] == "&" {
                var j = i + 1
                if j < s.count && s[j] == "#" { j += 1 }
                let nameStart = j
                while j < s.count && j - nameStart < 24 && isASCIIAlnum(s[j]) { j += 1 }
                if j > nameStart && j < s.count && s[j] == ";" {
                    let match = Array(s[i...j])
                    let key = String(String.UnicodeScalarView(match))
                    if let r = tables.ftfyEntities[key] {
                        out.append(contentsOf: r); i = j + 1; continue
                    } else if s[i + 1] == "#" {
                        let u = htmlUnescape(match)
                        if !u.contains(";") { out.append(contentsOf: u); i = j + 1; continue }
                    }
                }
            }
            out.append(s[i])
            i += 1
        }
        return out
    }

    /// ftfy's `remove_terminal_escapes`: ESC "[" (decimal digit | ";")* letter.
    func removeTerminalEscapes(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains("\u{1B}") else { return s }
        var out: [Unicode.Scalar] = []
        var i = 0
        while i < s.count {
            if s[i] == "\u{1B}", i + 1 < s.count, s[i + 1] == "[" {
                var j = i + 2
                while j < s.count && (s[j] == ";" || isPythonDecimal(s[j])) { j += 1 }
                if j < s.count, isASCIILetter(s[j]) { i = j + 1; continue }
            }
            out.append(s[i])
            i += 1
        }
        return out
    }

    func nfc(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        // Scalars below U+0300 are never changed by NFC unless a combining mark follows them.
        guard s.contains(where: { $0.value >= 0x300 }) else { return s }
        let str = String(String.UnicodeScalarView(s))
        return Array(str.precomposedStringWithCanonicalMapping.unicodeScalars)
    }

    // MARK: html.unescape (Python's html module, HTML5 rules)

    func htmlUnescape(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains("&") else { return s }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            guard s[i] == "&", i + 1 < s.count else { out.append(s[i]); i += 1; continue }
            if s[i + 1] == "#" {
                // #[0-9]+;?  |  #[xX][0-9a-fA-F]+;?
                var j = i + 2
                var hex = false
                if j < s.count, s[j] == "x" || s[j] == "X", j + 1 < s.count, isHexDigit(s[j + 1]) { hex = true; j += 1 }
                let digitsStart = j
                while j < s.count && (hex ? isHexDigit(s[j]) : isASCIIDigit(s[j])) { j += 1 }
                guard j > digitsStart else { out.append(s[i]); i += 1; continue }
                var value: UInt32 = 0
                var overflow = false
                for d in s[digitsStart..<j] {
                    let digit = UInt32(hexValue(d))
                    let (m, o1) = value.multipliedReportingOverflow(by: hex ? 16 : 10)
                    let (a, o2) = m.addingReportingOverflow(digit)
                    if o1 || o2 || a > 0x10FFFF { overflow = true; break }
                    value = a
                }
                if j < s.count && s[j] == ";" { j += 1 }
                out.append(contentsOf: numericReference(overflow ? 0x110000 : value))
                i = j
                continue
            }
            // [^\t\n\f <&#;]{1,32};?
            var j = i + 1
            while j < s.count && j - (i + 1) < 32 && !"\t\n\u{0C} <&#;".unicodeScalars.contains(s[j]) { j += 1 }
            guard j > i + 1 else { out.append(s[i]); i += 1; continue }
            if j < s.count && s[j] == ";" { j += 1 }
            let name = Array(s[(i + 1)..<j])
            let nameString = String(String.UnicodeScalarView(name))
            if let r = tables.html5[nameString] {
                out.append(contentsOf: r)
            } else {
                // the longest prefix (at least 2 characters) that is an entity, the rest kept literally
                var replaced = false
                var x = name.count - 1
                while x > 1 {
                    if let r = tables.html5[String(String.UnicodeScalarView(name[0..<x]))] {
                        out.append(contentsOf: r)
                        out.append(contentsOf: name[x...])
                        replaced = true
                        break
                    }
                    x -= 1
                }
                if !replaced { out.append("&"); out.append(contentsOf: name) }
            }
            i = j
        }
        return out
    }

    func numericReference(_ n: UInt32) -> [Unicode.Scalar] {
        if let r = tables.invalidCharrefs[n] { return r }
        if (0xD800...0xDFFF).contains(n) || n > 0x10FFFF { return ["\u{FFFD}"] }
        if tables.invalidCodepoints.contains(n) { return [] }
        return Unicode.Scalar(n).map { [$0] } ?? ["\u{FFFD}"]
    }

    // MARK: str.lower()

    /// Python's `str.lower()`: full lowercase mappings, with U+03A3 → ς in Final_Sigma context.
    func pythonLower(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        for (i, c) in s.enumerated() {
            if c.value < 0x80 {
                out.append(("A"..."Z").contains(c) ? Unicode.Scalar(c.value + 32)! : c)
            } else if c.value == 0x3A3 {
                out.append(finalSigma(s, at: i) ? "\u{3C2}" : "\u{3C3}")
            } else if let r = tables.pyLower[c] {
                out.append(contentsOf: r)
            } else {
                out.append(c)
            }
        }
        return out
    }

    func finalSigma(_ s: [Unicode.Scalar], at i: Int) -> Bool {
        var j = i - 1
        while j >= 0 && tables.pyCaseIgnorable.contains(s[j]) { j -= 1 }
        guard j >= 0, tables.pyCased.contains(s[j]) else { return false }
        j = i + 1
        while j < s.count && tables.pyCaseIgnorable.contains(s[j]) { j += 1 }
        return j == s.count || !tables.pyCased.contains(s[j])
    }

    // MARK: character classes

    func isASCIIDigit(_ c: Unicode.Scalar) -> Bool { ("0"..."9").contains(c) }
    func isASCIILetter(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("A"..."Z").contains(c) }
    func isASCIIAlnum(_ c: Unicode.Scalar) -> Bool { isASCIIDigit(c) || isASCIILetter(c) }
    func isHexDigit(_ c: Unicode.Scalar) -> Bool { isASCIIDigit(c) || ("a"..."f").contains(c) || ("A"..."F").contains(c) }
    func hexValue(_ c: Unicode.Scalar) -> Int {
        if isASCIIDigit(c) { return Int(c.value) - 48 }
        return Int(c.value | 0x20) - 87
    }
    func isPythonDecimal(_ c: Unicode.Scalar) -> Bool {
        isASCIIDigit(c) || (c.value >= 0x660 && tables.pyDecimal.contains(c))
    }
}
