// The CLIP text tower, mirroring transformers' CLIPTextEmbeddings, CLIPTextTransformer and the
// `text_projection` of CLIPModel. input_ids: B sequences of length ≤ 77 -> text_embeds: (B, P).

import CLIPCore
import Tensor

/// Errors in token id input.
public enum TextInputError: Error, Equatable, CustomStringConvertible {
    case emptySequence(index: Int)
    case tooLong(index: Int, length: Int, limit: Int)
    case tokenOutOfRange(index: Int, position: Int, id: Int, vocabSize: Int)

    /// The message naming the sequence's index (and the token's position) and the limit it breaks.
    public var description: String {
        switch self {
        case let .emptySequence(i): return "token sequence \(i) is empty"
        case let .tooLong(i, l, lim): return "token sequence \(i) has \(l) tokens, more than max_position_embeddings \(lim)"
        case let .tokenOutOfRange(i, p, id, v): return "token sequence \(i), position \(p): id \(id) is outside the vocabulary 0..<\(v)"
        }
    }
}

/// A token embedding table: floats, or int8 rows with one scale per row (an int8 checkpoint).
/// Read-only after load; the int8 case keeps its mapped file alive through `owner`.
public enum EmbeddingTable: @unchecked Sendable {
    /// `[vocab, C]`
    case float(Parameter)
    /// `[vocab, C]` int8 borrowed from the mapped checkpoint (`row ≈ scale · q`), and `[vocab]` scales.
    case int8(values: UnsafePointer<Int8>, scales: Parameter, columns: Int, owner: SafeTensorsFile)
}

/// `text_model.embeddings`: token and position embeddings.
public struct CLIPTextEmbeddings: Sendable {
    /// `[vocab, C]`
    public let tokenEmbedding: EmbeddingTable
    /// `[maxPositions, C]`
    public let positionEmbedding: Parameter

    /// Loads `token_embedding.weight` and `position_embedding.weight`.
    public init(_ reader: WeightReader, config: CLIPTextConfig) throws {
        // Borrowed from the mapping (F32 or int8): only the rows of tokens actually used are ever paged in.
        let shape = [config.vocabSize, config.hiddenSize]
        if try reader.isQuantized("token_embedding.weight") {
            let (q, scales) = try reader.quantized("token_embedding.weight", shape: shape)
            tokenEmbedding = .int8(values: q, scales: scales, columns: config.hiddenSize, owner: reader.file)
        } else {
            tokenEmbedding = .float(try reader.parameter("token_embedding.weight", shape: shape))
        }
        positionEmbedding = try reader.parameter("position_embedding.weight",
                                                 shape: [config.maxPositionEmbeddings, config.hiddenSize])
    }

    /// Writes `token_embedding[id] + position_embedding[position]` for tokens at positions
    /// `firstPosition…` of one sequence into `out` (L × C).
    func forward(_ ids: ArraySlice<Int>, firstPosition: Int = 0, out: UnsafeMutablePointer<Float>) {
        let c = positionEmbedding.shape[1]
        for (offset, id) in ids.enumerated() {
            let row = out + offset * c, pos = firstPosition + offset
            switch tokenEmbedding {
            case .float(let table):
                row.update(from: table.pointer + id * c, count: c)
            case let .int8(values, scales, _, _):
                let scale = scales.pointer[id], q = values + id * c
                for j in 0..<c { row[j] = Float(q[j]) * scale }
            }
            addInPlace(row, positionEmbedding.pointer + pos * c, count: c)
        }
    }
}

/// The result of a text forward pass with its intermediate stages (for checks against transformers).
public struct TextOutput: Sendable {
    /// Per sequence, `(L_b, C)` embeddings (only the tokens that were run).
    public var embeddings: [Tensor]
    /// Per layer index (0 = embeddings, then each layer, before `final_layer_norm`), per sequence `(L_b, C)`.
    public var hiddenStates: [[Tensor]]
    /// Per sequence, `(L_b, C)` after `final_layer_norm`.
    public var lastHiddenState: [Tensor]
    /// `(B, C)` the final-layer-norm output at each sequence's EOT token (HF `pooler_output`).
    public var pooled: Tensor
    /// `(B, P)` projected features (`get_text_features`).
    public var textEmbeds: Tensor
}

/// The text tower with its projection (transformers' `CLIPTextModelWithProjection` inside `CLIPModel`).
///
/// ```swift
/// let text = try TextTransformer(directory: "Weights/demo")
/// let ids = try CLIPTokenizer.shared().encode(["a red circle", "a blue square"])
/// let features = try text.textFeatures(ids)   // (2, projection_dim)
/// ```
public struct TextTransformer: Sendable {
    /// The text tower's hyper-parameters (`text_config`).
    public let config: CLIPTextConfig
    /// Token and position embeddings, from `text_model.embeddings`.
    public let embeddings: CLIPTextEmbeddings
    /// The causal transformer stack, from `text_model.encoder`.
    public let encoder: CLIPEncoder
    /// `text_model.final_layer_norm`, applied to the encoder's output before pooling.
    public let finalLayerNorm: LayerNormWeights
    /// `text_projection.weight`, `[P, C]`, no bias.
    public let textProjection: LinearWeights

    /// Loads the tower from a root-scoped reader (`text_model.*`, `text_projection.*`).
    public init(weights root: WeightReader, config: CLIPTextConfig, projectionDim: Int,
                compute: Compute) throws {
        self.config = config
        let tm = root.scoped("text_model")
        tm.ignore("embeddings.position_ids")
        embeddings = try CLIPTextEmbeddings(tm.scoped("embeddings"), config: config)
        encoder = try CLIPEncoder(tm.scoped("encoder"), config: config.encoder, compute: compute)
        finalLayerNorm = try LayerNormWeights(tm.scoped("final_layer_norm"), size: config.hiddenSize, eps: config.layerNormEps)
        textProjection = try LinearWeights(root.scoped("text_projection"), inFeatures: config.hiddenSize,
                                           outFeatures: projectionDim, bias: false, compute: compute)
    }

    /// Loads the tower from a Hugging Face directory, rejecting unexpected `text_model.*` tensors.
    public init(directory: String, options: LoadOptions = LoadOptions()) throws {
        let config = try CLIPConfig(contentsOf: directory + "/config.json")
        let root = WeightReader(file: try SafeTensorsFile(path: directory + "/model.safetensors"))
        try self.init(weights: root, config: config.text, projectionDim: config.projectionDim,
                      compute: try options.makeCompute())
        try root.checkAllConsumed(under: ["text_model.", "text_projection."])
    }

    /// The position HF pools at: the highest id when `eos_token_id == 2` (legacy OpenAI configs), otherwise
    /// the first `eos_token_id` (0 when absent, as `argmax` of an all-false mask gives).
    public func poolingPosition(_ ids: [Int]) -> Int {
        if config.eosTokenId == 2 {
            var best = 0
            for (i, id) in ids.enumerated() where id > ids[best] { best = i }
            return best
        }
        return ids.firstIndex(of: config.eosTokenId) ?? 0
    }

    /// Projected text features (`get_text_features`) for token sequences of any lengths (no padding needed).
    public func textFeatures(_ ids: [[Int]]) throws -> Tensor {
        try forward(ids).textEmbeds
    }

    /// Validates ids: non-empty, at most `max_position_embeddings` long, inside the vocabulary.
    public func validate(_ ids: [[Int]]) throws {
        for (i, seq) in ids.enumerated() {
            guard !seq.isEmpty else { throw TextInputError.emptySequence(index: i) }
            guard seq.count <= config.maxPositionEmbeddings else {
                throw TextInputError.tooLong(index: i, length: seq.count, limit: config.maxPositionEmbeddings)
            }
            if let p = seq.firstIndex(where: { $0 < 0 || $0 >= config.vocabSize }) {
                throw TextInputError.tokenOutOfRange(index: i, position: p, id: seq[p], vocabSize: config.vocabSize)
            }
        }
    }

    /// The number of leading tokens all sequences share (each cut to `lengths`), keeping at least one token of
    /// every sequence its own: what ``forward(_:keepHiddenStates:fullSequences:sharePrefix:)`` computes once.
    ///
    /// ```swift
    /// // SOT this is a photo of | cat . EOT   and   SOT this is a photo of | dog . EOT  ->  6
    /// let p = TextTransformer.sharedPrefixLength(ids, lengths: ids.map(\.count))
    /// ```
    public static func sharedPrefixLength(_ ids: [[Int]], lengths: [Int]) -> Int {
        guard let first = ids.first, let shortest = lengths.min(), shortest > 0 else { return 0 }
        var p = shortest - 1
        for seq in ids.dropFirst() {
            var i = 0
            while i < p && seq[i] == first[i] { i += 1 }
            p = i
        }
        return p
    }

    /// The full forward pass. Each sequence runs only up to its pooling (EOT) token unless `fullSequences`:
    /// attention is causal, so the EOT output does not depend on later tokens and this is exact.
    ///
    /// With `sharePrefix` (the default) the leading tokens all sequences share — a prompt template's
    /// "This is a photo of" — run once for the batch instead of once per sequence; for the same reason (causal
    /// attention) this is exact. It is off when `keepHiddenStates` asks for every sequence's rows.
    public func forward(_ ids: [[Int]], keepHiddenStates: Bool = false, fullSequences: Bool = false,
                        sharePrefix: Bool = true) throws -> TextOutput {
        try validate(ids)
        let c = config.hiddenSize
        let pools = ids.map(poolingPosition)
        let lengths = zip(ids, pools).map { fullSequences ? $0.0.count : $0.1 + 1 }
        let prefix = sharePrefix && !keepHiddenStates && ids.count > 1 ? Self.sharedPrefixLength(ids, lengths: lengths) : 0
        // Rows: the shared prefix (0..<prefix), then each sequence's own tokens (positions prefix..<L_b).
        var starts: [Int] = []
        var total = prefix
        for l in lengths { starts.append(total); total += l - prefix }
        let sequences = zip(starts, lengths).map { $0..<($0 + $1 - prefix) }
        // embeddings (prefix + Σ(L_b - prefix), C): all sequences stacked, no padding
        var hidden = [Float](repeating: 0, count: total * c)
        hidden.withUnsafeMutableBufferPointer { h in
            if prefix > 0 { embeddings.forward(ids[0][0..<prefix], out: h.baseAddress!) }
            for (b, seq) in ids.enumerated() {
                embeddings.forward(seq[prefix..<lengths[b]], firstPosition: prefix, out: h.baseAddress! + starts[b] * c)
            }
        }
        func split(_ flat: UnsafeBufferPointer<Float>) -> [Tensor] {
            sequences.map { r in Tensor(computedShape: [r.count, c], storage: Array(flat[(r.lowerBound * c)..<(r.upperBound * c)])) }
        }
        let embedded = keepHiddenStates ? hidden.withUnsafeBufferPointer(split) : []
        var states: [[Tensor]] = keepHiddenStates ? [embedded] : []
        encoder.forward(&hidden, sequences: sequences, causal: true, sharedPrefix: prefix, observe: keepHiddenStates ? { _, h in
            states.append(split(h))
        } : nil)
        // last_hidden_state = final_layer_norm(hidden)                     (ΣL, C)
        var normed = [Float](repeating: 0, count: total * c)
        hidden.withUnsafeBufferPointer { h in
            normed.withUnsafeMutableBufferPointer { y in finalLayerNorm(h.baseAddress!, rows: total, out: y.baseAddress!, encoder.compute) }
        }
        // pooled = last_hidden_state[b, eot_b]                                (B, C)
        var pooled = [Float](repeating: 0, count: ids.count * c)
        for b in 0..<ids.count {
            // (with fullSequences, the pooled token may lie inside the shared prefix)
            let row = (pools[b] < prefix ? pools[b] : starts[b] + pools[b] - prefix) * c
            pooled.replaceSubrange((b * c)..<((b + 1) * c), with: normed[row..<(row + c)])
        }
        // text_embeds = text_projection(pooled)                              (B, P)
        let pdim = textProjection.outFeatures
        var projected = [Float](repeating: 0, count: ids.count * pdim)
        Profiler.shared.measure(.projection) {
            pooled.withUnsafeBufferPointer { x in
                projected.withUnsafeMutableBufferPointer { y in
                    textProjection(x.baseAddress!, rows: ids.count, out: y.baseAddress!, encoder.compute)
                }
            }
        }
        return TextOutput(
            embeddings: embedded, hiddenStates: states,
            lastHiddenState: keepHiddenStates ? normed.withUnsafeBufferPointer(split) : [],
            pooled: Tensor(computedShape: [ids.count, c], storage: pooled),
            textEmbeds: Tensor(computedShape: [ids.count, pdim], storage: projected))
    }
}

