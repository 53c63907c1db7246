// `clip quantize`: writes an int8 copy of a CLIP checkpoint (QuantizationConfig's format) from an F32/F16/BF16 one.
// encoder-layer linear weights and the token embedding: per-row symmetric int8 + F32 scales; the patch embedding and
// projections: F16; everything else as F32.

import CLIPCore
import Foundation
import Tensor

/// Writes int8 checkpoints.
///
/// ```swift
/// let report = try CLIPQuantizer.quantize(input: "Weights/clip-vit-base-patch32", output: "Weights/clip-int8")
/// print(report.outputBytes, "bytes")
/// ```
public enum CLIPQuantizer {
    /// What was written.
    public struct Report: Sendable {
        /// Tensors stored as int8 (each with a `_scale`).
        public var quantizedTensors = 0
        /// Size of the input checkpoint's `model.safetensors`.
        public var inputBytes = 0
        /// Size of the written `model.safetensors`.
        public var outputBytes = 0
    }

    /// Errors that are not the input checkpoint's (those come from the loader's typed errors).
    public enum QuantizeError: Error, Equatable, CustomStringConvertible {
        case alreadyQuantized(String)
        case sameDirectory(String)

        /// A one-line summary.
        public var description: String {
            switch self {
            case .alreadyQuantized(let d): return "\(d): the checkpoint is already int8"
            case .sameDirectory(let d): return "\(d): the output directory must differ from the input"
            }
        }
    }

    /// Whether a key is quantized: the linear weights of every encoder layer, and the token embedding.
    public static func isQuantizable(_ key: String) -> Bool {
        if key == "text_model.embeddings.token_embedding.weight" { return true }
        guard key.hasSuffix(".weight"), key.contains(".encoder.layers.") else { return false }
        return ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj", "mlp.fc1", "mlp.fc2"]
            .contains { key.hasSuffix("." + $0 + ".weight") }
    }

    /// Keys stored as F16 to save space where the loss does not matter next to int8's (2-D float matrices).
    static func storedAsHalf(_ key: String) -> Bool {
        key.hasSuffix("patch_embedding.weight") || key == "visual_projection.weight" || key == "text_projection.weight"
    }

    /// Reads the checkpoint in `input` (validated by loading it), writes the int8 one to `output` (created if
    /// needed): `model.safetensors`, `config.json` with `quantization_config`, and every other small file copied.
    ///
    /// - Throws: the loader's typed errors for a bad input, ``QuantizeError``, or a file error naming the path.
    public static func quantize(input: String, output: String, progress: ((String) -> Void)? = nil) throws -> Report {
        let inURL = URL(fileURLWithPath: input).standardizedFileURL, outURL = URL(fileURLWithPath: output).standardizedFileURL
        guard inURL.path != outURL.path else { throw QuantizeError.sameDirectory(output) }
        let config = try CLIPConfig(contentsOf: input + "/config.json")
        guard config.quantization == nil else { throw QuantizeError.alreadyQuantized(input) }
        // Loading validates every tensor (names, shapes, finiteness) before anything is written.
        progress?("checking \(input)")
        _ = try CLIPModel(directory: input, options: LoadOptions(backend: .blasSplit))
        let file = try SafeTensorsFile(path: input + "/model.safetensors")
        var report = Report()
        report.inputBytes = Int(file.identity?.size ?? 0)

        var buffers: [UnsafeMutableRawBufferPointer] = []
        defer { for b in buffers { b.deallocate() } }
        func buffer(_ bytes: Int) -> UnsafeMutableRawBufferPointer {
            let b = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
            buffers.append(b)
            return UnsafeMutableRawBufferPointer(rebasing: b[0..<bytes])
        }
        var entries: [SafeTensorsEntry] = []
        for (n, key) in file.keys.enumerated() {
            guard let info = file.tensors[key] else { continue }
            if n % 25 == 0 { progress?("quantizing \(n)/\(file.keys.count) tensors") }
            if info.dtype == .i64 || info.dtype == .u8 || info.dtype == .i8 {
                let raw = try file.rawBytes(key)
                let copy = buffer(raw.count)
                copy.copyMemory(from: raw)
                entries.append(SafeTensorsEntry(key: key, dtype: info.dtype, shape: info.shape, bytes: UnsafeRawBufferPointer(copy)))
                continue
            }
            let values = try file.floats(key)
            if isQuantizable(key), info.shape.count == 2 {
                let rows = info.shape[0], cols = info.shape[1]
                let q = buffer(rows * cols), scales = buffer(rows * 4)
                let qp = q.baseAddress!.assumingMemoryBound(to: Int8.self)
                let sp = scales.baseAddress!.assumingMemoryBound(to: Float.self)
                quantizeRows(values, rows: rows, columns: cols, into: qp, scales: sp)
                entries.append(SafeTensorsEntry(key: key, dtype: .i8, shape: info.shape, bytes: UnsafeRawBufferPointer(q)))
                entries.append(SafeTensorsEntry(key: key + "_scale", dtype: .f32, shape: [rows], bytes: UnsafeRawBufferPointer(scales)))
                report.quantizedTensors += 1
            } else if storedAsHalf(key) {
                let h = buffer(values.count * 2)
                let hp = h.baseAddress!.assumingMemoryBound(to: Float16.self)
                for i in 0..<values.count { hp[i] = Float16(values[i]) }
                entries.append(SafeTensorsEntry(key: key, dtype: .f16, shape: info.shape, bytes: UnsafeRawBufferPointer(h)))
            } else {
                let f = buffer(values.count * 4)
                values.withUnsafeBytes { f.copyMemory(from: $0) }
                entries.append(SafeTensorsEntry(key: key, dtype: .f32, shape: info.shape, bytes: UnsafeRawBufferPointer(f)))
            }
        }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        progress?("writing \(output)/model.safetensors")
        try writeSafeTensors(entries, metadata: ["format": "pt", "quantization": QuantizationConfig.method], to: output + "/model.safetensors")
        // config.json: the original text with quantization_config added as the first key.
        var text = String(decoding: try readFile(input + "/config.json", limit: 16 << 20), as: UTF8.self)
        if let brace = text.firstIndex(of: "{") {
            let rest = text[text.index(after: brace)...].drop(while: \.isWhitespace)
            let separator = rest.first == "}" ? "" : ","
            text.insert(contentsOf: "\n  \"quantization_config\": \(QuantizationConfig().json)\(separator)", at: text.index(after: brace))
        }
        try Data(text.utf8).write(to: URL(fileURLWithPath: output + "/config.json"), options: .atomic)
        // Everything else small (preprocessor and tokenizer files, a README) is copied.
        for name in try FileManager.default.contentsOfDirectory(atPath: input)
        where !["model.safetensors", "config.json"].contains(name) && !name.hasSuffix(".bin") && !name.hasSuffix(".pt")
            && !name.hasSuffix(".safetensors") && !name.hasPrefix(".") {
            let from = input + "/" + name, to = output + "/" + name
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: from, isDirectory: &isDir), !isDir.boolValue else { continue }
            try? FileManager.default.removeItem(atPath: to)
            try FileManager.default.copyItem(atPath: from, toPath: to)
        }
        report.outputBytes = (try FileManager.default.attributesOfItem(atPath: output + "/model.safetensors")[.size] as? Int) ?? 0
        return report
    }

    /// Per-row symmetric int8: scale = max|row| / 127 (1 for an all-zero row, which any scale represents), q =
    /// round(x / scale), ties to even.
    public static func quantizeRows(_ x: [Float], rows: Int, columns: Int, into q: UnsafeMutablePointer<Int8>,
                                    scales: UnsafeMutablePointer<Float>) {
        precondition(x.count >= rows * columns, "quantizeRows: \(x.count) values for \(rows) × \(columns)")
        x.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }   // no values: nothing to quantize
            LoadTimeLayout.quantizeRows(base, rows: rows, columns: columns, into: q, scales: scales)
        }
    }
}
