// Character tables generated from Python (html.entities, ftfy 6.3.1, str.lower, the `regex` module's Unicode
// classes) by Tools/gen_text_tables.py, so cleaning and splitting match the reference to the code point.

import Foundation
import Tensor

/// Sorted, non-overlapping closed code point ranges with binary-search membership.
struct ScalarRanges: Sendable {
    let lower: [UInt32]
    let upper: [UInt32]

    init(_ json: JSONValue?) {
        var lo: [UInt32] = [], hi: [UInt32] = []
        for item in json?.arrayValue ?? [] {
            if let pair = item.arrayValue, pair.count == 2, let a = pair[0].intValue, let b = pair[1].intValue {
                lo.append(UInt32(a)); hi.append(UInt32(b))
            } else if let a = item.intValue {
                lo.append(UInt32(a)); hi.append(UInt32(a))
            }
        }
        let order = lo.indices.sorted { lo[$0] < lo[$1] }
        lower = order.map { lo[$0] }
        upper = order.map { hi[$0] }
    }

    func contains(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        var l = 0, h = lower.count
        while l < h {
            let m = (l + h) / 2
            if lower[m] <= v { l = m + 1 } else { h = m }
        }
        return l > 0 && v <= upper[l - 1]
    }
}

/// The tables the tokenizer needs, parsed once from the bundled JSON.
struct TextTables: Sendable {
    let html5: [String: [Unicode.Scalar]]
    let invalidCharrefs: [UInt32: [Unicode.Scalar]]
    let invalidCodepoints: Set<UInt32>
    let ftfyEntities: [String: [Unicode.Scalar]]
    let latinLigatures: [Unicode.Scalar: [Unicode.Scalar]]
    let widthMap: [Unicode.Scalar: [Unicode.Scalar]]
    let controlCharsRemoved: ScalarRanges
    let c1Map: [Unicode.Scalar: [Unicode.Scalar]]
    let singleQuotes: ScalarRanges
    let doubleQuotes: ScalarRanges
    let pyIsSpace: ScalarRanges
    let pyDecimal: ScalarRanges
    let regexUnmatched: Set<UInt32>
    let pyLower: [Unicode.Scalar: [Unicode.Scalar]]
    let pyCased: ScalarRanges
    let pyCaseIgnorable: ScalarRanges
    let regexL: ScalarRanges
    let regexN: ScalarRanges
    let regexS: ScalarRanges
    /// Pattern letters and the extra code points IGNORECASE lets them match (e.g. "s" also matches "ſ").
    let ignoreCaseEquivalents: [Unicode.Scalar: Set<UInt32>]

    init(json: JSONValue) {
        func scalars(_ s: String) -> [Unicode.Scalar] { Array(s.unicodeScalars) }
        func stringMap(_ key: String) -> [String: [Unicode.Scalar]] {
            var out: [String: [Unicode.Scalar]] = [:]
            for (k, v) in json[key]?.objectValue ?? [] { out[k] = scalars(v.stringValue ?? "") }
            return out
        }
        func scalarMap(_ key: String) -> [Unicode.Scalar: [Unicode.Scalar]] {
            var out: [Unicode.Scalar: [Unicode.Scalar]] = [:]
            for (k, v) in json[key]?.objectValue ?? [] {
                guard let first = k.unicodeScalars.first, k.unicodeScalars.count == 1 else { continue }
                out[first] = scalars(v.stringValue ?? "")
            }
            return out
        }
        html5 = stringMap("html5")
        var inv: [UInt32: [Unicode.Scalar]] = [:]
        for (k, v) in json["invalidCharrefs"]?.objectValue ?? [] {
            if let n = UInt32(k) { inv[n] = scalars(v.stringValue ?? "") }
        }
        invalidCharrefs = inv
        invalidCodepoints = Set((json["invalidCodepoints"]?.arrayValue ?? []).compactMap { $0.intValue.map(UInt32.init) })
        ftfyEntities = stringMap("ftfyHtmlEntities")
        latinLigatures = scalarMap("latinLigatures")
        widthMap = scalarMap("widthMap")
        controlCharsRemoved = ScalarRanges(json["controlCharsRemoved"])
        c1Map = scalarMap("c1Map")
        singleQuotes = ScalarRanges(json["singleQuotes"])
        doubleQuotes = ScalarRanges(json["doubleQuotes"])
        pyIsSpace = ScalarRanges(json["pyIsSpace"])
        pyDecimal = ScalarRanges(json["pyDecimal"])
        regexUnmatched = Set((json["regexUnmatchedIgnoreCase"]?.arrayValue ?? []).compactMap { $0.intValue.map(UInt32.init) })
        pyLower = scalarMap("pyLower")
        pyCased = ScalarRanges(json["pyCased"])
        pyCaseIgnorable = ScalarRanges(json["pyCaseIgnorable"])
        regexL = ScalarRanges(json["regexL"])
        regexN = ScalarRanges(json["regexN"])
        regexS = ScalarRanges(json["regexS"])
        var eq: [Unicode.Scalar: Set<UInt32>] = [:]
        for (k, v) in json["regexIgnoreCaseEquivalents"]?.objectValue ?? [] {
            guard let s = k.unicodeScalars.first else { continue }
            eq[s] = Set((v.arrayValue ?? []).compactMap { $0.intValue.map(UInt32.init) })
        }
        ignoreCaseEquivalents = eq
    }
}

/// Tokenizer set-up errors (the compiled-in data is inconsistent: a build problem, never user input).
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    case corruptResource(String)
    /// The message: `tokenizer data is damaged: ` followed by what is inconsistent.
    public var description: String {
        switch self {
        case .corruptResource(let r): return "tokenizer data is damaged: \(r)"
        }
    }
}
