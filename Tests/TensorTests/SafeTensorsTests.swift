// The safetensors reader: a round trip of a file written by Python's `safetensors`, and one hand-built file
// for every malformation the format allows.

import Foundation
import Testing
import Tensor

let tensorFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures").path

/// Builds a safetensors image from a header string and a data area.
func safetensorsBytes(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
    let h = Array(header.utf8)
    let len = declaredLength ?? UInt64(h.count)
    return withUnsafeBytes(of: len.littleEndian, Array.init) + h + data
}

struct SafeTensorsTests {
    @Test("round trip of a file written by Python's safetensors (F32, F16, BF16, I64, scalar, empty)")
    func roundTrip() throws {
        let file = try SafeTensorsFile(path: tensorFixtures + "/safetensors/roundtrip.safetensors")
        let expected = try JSONValue.parse(try Array(Data(contentsOf: URL(fileURLWithPath: tensorFixtures + "/safetensors/roundtrip.json"))))
        let tensors = expected["tensors"]?.objectValue ?? expected.objectValue?.filter { $0.0 != "metadata" } ?? []
        #expect(!tensors.isEmpty)
        for (key, spec) in tensors {
            let info = try file.info(key)
            #expect(info.shape == (spec["shape"]?.arrayValue ?? []).compactMap(\.intValue), "\(key) shape")
            #expect(info.dtype.rawValue == spec["dtype"]?.stringValue, "\(key) dtype")
            if info.dtype == .i64 {
                #expect(try file.int64s(key).map(Int.init) == (spec["values"]?.arrayValue ?? []).compactMap(\.intValue))
            } else {
                let want = (spec["values"]?.arrayValue ?? []).compactMap(\.doubleValue).map(Float.init)
                #expect(try file.floats(key) == want, "\(key) values")
            }
        }
        let meta = expected["metadata"]?.objectValue ?? expected["__metadata__"]?.objectValue ?? []
        for (k, v) in meta { #expect(file.metadata[k] == v.stringValue) }
    }

    static let f32x2 = #""a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#

    /// (name, file bytes, what the error must be)
    static let malformed: [(String, [UInt8], @Sendable (SafeTensorsError) -> Bool)] = [
        ("shorter than 8 bytes", [1, 2, 3], { if case .fileTooSmall = $0 { true } else { false } }),
        ("header length beyond file", safetensorsBytes(header: "{}", declaredLength: 1000),
         { if case .headerBeyondFile = $0 { true } else { false } }),
        ("header length over 100 MiB", safetensorsBytes(header: "{}", declaredLength: 200 << 20),
         { if case .headerTooLarge = $0 { true } else { false } }),
        ("header length near UInt64.max", safetensorsBytes(header: "{}", declaredLength: .max),
         { if case .headerTooLarge = $0 { true } else { false } }),
        ("header not JSON", safetensorsBytes(header: "{not json"), { if case .headerNotJSON = $0 { true } else { false } }),
        ("header a JSON array", safetensorsBytes(header: "[1,2]"), { if case .headerNotObject = $0 { true } else { false } }),
        ("unknown dtype", safetensorsBytes(header: #"{"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}"#, data: .init(repeating: 0, count: 8)),
         { if case .unknownDType(_, "a", "F33") = $0 { true } else { false } }),
        ("offsets outside the data area", safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [0, 0, 0, 0]),
         { if case .offsetsOutOfBounds(_, "a", _, _, _) = $0 { true } else { false } }),
        ("negative offset", safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#, data: [0, 0, 0, 0]),
         { if case .offsetsOutOfBounds(_, "a", _, _, _) = $0 { true } else { false } }),
        ("end before begin", safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, data: [0, 0, 0, 0]),
         { if case .offsetsOutOfBounds(_, "a", _, _, _) = $0 { true } else { false } }),
        ("overlapping ranges", safetensorsBytes(
            header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
            data: .init(repeating: 0, count: 12)), { if case .overlapping(_, "b", "a") = $0 { true } else { false } }),
        ("gap between ranges", safetensorsBytes(
            header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
            data: .init(repeating: 0, count: 12)), { if case .gap(_, "b", 4, 8) = $0 { true } else { false } }),
        ("trailing bytes after the last tensor", safetensorsBytes(header: "{\(f32x2)}", data: .init(repeating: 0, count: 12)),
         { if case .trailingData = $0 { true } else { false } }),
        ("byte length ≠ shape × dtype size", safetensorsBytes(header: #"{"a":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}}"#, data: .init(repeating: 0, count: 8)),
         { if case .byteLengthMismatch(_, "a", [3], "F16", 6, 8) = $0 { true } else { false } }),
        ("shape product overflows", safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, data: .init(repeating: 0, count: 8)),
         { if case .invalidEntry(_, "a", _) = $0 { true } else { false } }),
        ("negative dimension", safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: .init(repeating: 0, count: 8)),
         { if case .invalidEntry(_, "a", _) = $0 { true } else { false } }),
        ("duplicate keys", safetensorsBytes(header: "{\(f32x2),\(f32x2)}", data: .init(repeating: 0, count: 8)),
         { if case .duplicateKey(_, "a") = $0 { true } else { false } }),
        ("__metadata__ not string→string", safetensorsBytes(header: #"{"__metadata__":{"format":1}}"#),
         { if case .invalidMetadata = $0 { true } else { false } }),
        ("__metadata__ not an object", safetensorsBytes(header: #"{"__metadata__":"pt"}"#),
         { if case .invalidMetadata = $0 { true } else { false } }),
        ("entry not an object", safetensorsBytes(header: #"{"a":5}"#), { if case .invalidEntry(_, "a", _) = $0 { true } else { false } }),
        ("data_offsets missing", safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[0]}}"#),
         { if case .invalidEntry(_, "a", _) = $0 { true } else { false } }),
    ]

    @Test("malformed files are rejected with a typed error naming the problem", arguments: 0..<malformed.count)
    func malformedFile(_ index: Int) {
        let (name, bytes, isExpected) = Self.malformed[index]
        do {
            _ = try SafeTensorsFile(bytes: bytes, label: name)
            Issue.record("\(name): accepted")
        } catch let e as SafeTensorsError {
            #expect(isExpected(e), "\(name): got \(e)")
            #expect(e.description.contains(name), "message names the file: \(e)")
        } catch {
            Issue.record("\(name): untyped error \(error)")
        }
    }

    @Test("the same checks apply to a memory-mapped file on disk")
    func fromDisk() throws {
        let path = NSTemporaryDirectory() + "/clip-bad-\(getpid()).safetensors"
        try Data(safetensorsBytes(header: "{}", declaredLength: 1000)).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(path: path) }
        #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(path: "/nonexistent/model.safetensors") }
    }

    @Test("valid hand-built file: F16/BF16 conversion, empty header, reading a missing key")
    func validFile() throws {
        // F16 1.0 = 0x3C00, BF16 -2.0 = 0xC000
        let header = #"{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[2,4]}}"#
        let file = try SafeTensorsFile(bytes: safetensorsBytes(header: header, data: [0x00, 0x3C, 0x00, 0xC0]))
        #expect(try file.floats("h") == [1])
        #expect(try file.floats("b") == [-2])
        #expect(throws: SafeTensorsError.missingTensor(path: "<memory>", key: "zz")) { try file.floats("zz") }
        let empty = try SafeTensorsFile(bytes: safetensorsBytes(header: "{}"))
        #expect(empty.keys.isEmpty)
    }
}
