// Test helpers: fixture paths and a closeness check that reports max abs/rel error and the first mismatches.

import CLIPCore
import CLIPImageIO
import CLIPTokenizer
import CLIPZeroShot
import Foundation
import Tensor
import Testing
import TextTransformer
import VisionTransformer

/// Tests/Fixtures in this checkout.
let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures").path

/// The comparison summary of two float arrays.
struct Comparison: CustomStringConvertible {
    var maxAbs: Float = 0
    var maxRel: Float = 0
    var mismatches: [(Int, Float, Float)] = []
    var countMismatch: (Int, Int)?

    var description: String {
        if let (a, e) = countMismatch { return "element count \(a) ≠ expected \(e)" }
        var s = "max abs \(maxAbs), max rel \(maxRel)"
        if !mismatches.isEmpty {
            s += "; first mismatches: " + mismatches.prefix(5).map { "[\($0.0)] \($0.1) vs \($0.2)" }.joined(separator: ", ")
        }
        return s
    }
}

/// Compares `actual` with `expected` elementwise: |a − e| ≤ atol + rtol·|e|. NaN vs NaN counts as equal.
func compare(_ actual: [Float], _ expected: [Float], atol: Float, rtol: Float = 0) -> Comparison {
    var c = Comparison()
    guard actual.count == expected.count else { c.countMismatch = (actual.count, expected.count); return c }
    for i in 0..<actual.count {
        let a = actual[i], e = expected[i]
        if a.isNaN && e.isNaN { continue }
        let d = abs(a - e)
        c.maxAbs = max(c.maxAbs, d.isNaN ? .infinity : d)
        if e != 0 { c.maxRel = max(c.maxRel, d / abs(e)) }
        if !(d <= atol + rtol * abs(e)) { c.mismatches.append((i, a, e)) }
    }
    return c
}

/// Expects closeness, with the comparison summary as the failure message.
func expectClose(_ actual: [Float], _ expected: [Float], atol: Float, rtol: Float = 0, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    let c = compare(actual, expected, atol: atol, rtol: rtol)
    #expect(c.countMismatch == nil && c.mismatches.isEmpty, "\(what): \(c)", sourceLocation: sourceLocation)
}

/// Reads a JSON fixture.
func loadJSON(_ path: String) throws -> JSONValue {
    try JSONValue.parse(try readFile(path, limit: 64 << 20))
}

/// Writes a safetensors file from raw entries (test mutations).
func writeTestSafeTensors(_ entries: [(key: String, dtype: SafeTensorsDType, shape: [Int], bytes: [UInt8])], to path: String) throws {
    var header = "{"
    var offset = 0
    for (i, e) in entries.enumerated() {
        header += (i == 0 ? "" : ",") + "\"\(e.key)\":{\"dtype\":\"\(e.dtype.rawValue)\",\"shape\":[\(e.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + e.bytes.count)]}"
        offset += e.bytes.count
    }
    header += "}"
    while (8 + header.utf8.count) % 8 != 0 { header += " " }
    var data = Data()
    var length = UInt64(header.utf8.count).littleEndian
    data.append(Data(bytes: &length, count: 8))
    data.append(Data(header.utf8))
    for e in entries { data.append(contentsOf: e.bytes) }
    try data.write(to: URL(fileURLWithPath: path))
}
