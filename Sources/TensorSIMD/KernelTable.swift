// One instruction set's kernels as a table of entry points, chosen once at load (run-time ISA dispatch).
// The ISA targets (TensorAVX2, TensorAVX512) and the baseline build each instantiate the same generic bodies.

/// The instruction-set tiers the kernels are compiled for.
@usableFromInline package enum ISA: String, Sendable, CaseIterable {
    /// The baseline target (x86-64 SSE2, arm64 NEON), multiply-then-add.
    case portable
    /// `-target-cpu haswell`: AVX2 + FMA, 256-bit vectors.
    case avx2
    /// `-target-cpu cascadelake`: AVX-512 F/CD/BW/DQ/VL + VNNI, 512-bit vectors.
    case avx512

    /// Whether `acc + a·b` is one fused instruction (``KernelISA/madd(_:_:_:)``).
    @inlinable package var fusedMultiplyAdd: Bool {
        switch self {
        case .portable: false
        case .avx2, .avx512: true
        }
    }

    /// Rows per GEMM tile: 2 × tileRows accumulators must fit in the vector registers with room to spare (12 with
    /// AVX-512's 32 registers, 6 with 16).
    @inlinable package var tileRows: Int {
        switch self {
        case .avx512: 12
        case .portable, .avx2: 6
        }
    }

    /// Activations are quantized to `-int8Levels...int8Levels` and stored as bytes `q + int8Levels + 1`: 127 where
    /// ``KernelISA/dot4(_:_:_:)`` is exact on full bytes, 63 where it saturates above 7-bit activations (AVX2's
    /// vpmaddubsw).
    @inlinable package var int8Levels: Int32 {
        switch self {
        case .avx2: 63
        case .portable, .avx512: 127
        }
    }

    /// Whether the vision tower's int8 weights are laid out in k-group pairs, requantized to ±64 (see
    /// ``KernelISA/dot4Pair(_:_:_:_:_:)``): on AVX2 that is 3 instead of 4 multiply instructions per two k-groups,
    /// and the int8 GEMM ran 0.97–1.21× (median 1.09×) as fast on ViT-B/32's shapes. Where the dot product is one
    /// instruction (VNNI) or scalar, there is nothing to gain and the weights keep their 8 bits.
    @inlinable package var pairsInt8Weights: Bool { self == .avx2 }
}

/// Entry points of one ISA tier.
@usableFromInline package struct KernelTable: Sendable {
    @usableFromInline package let isa: ISA
    /// Columns per packed panel (two vectors): weights must be packed with this width.
    @usableFromInline package let panelWidth: Int
    /// Rows per block of x for ``gemm`` (``KernelISA/tileRows``).
    @usableFromInline package let tileRows: Int
    /// The packed GEMM over a range of panels.
    @usableFromInline package let gemm: @Sendable (GemmOperands<Float>, Range<Int>) -> Void
    /// `(x, rows, cols, gamma, beta, eps, out)`
    @usableFromInline package let layerNorm: @Sendable (UnsafePointer<Float>, Int, Int, UnsafePointer<Float>, UnsafePointer<Float>, Float,
                                      UnsafeMutablePointer<Float>) -> Void
    /// `(function, x, count)`, in place.
    @usableFromInline package let pointwise: @Sendable (PointwiseFunction, UnsafeMutablePointer<Float>, Int) -> Void
    /// `(x, rows, cols, ld, scale, causal)`, in place.
    @usableFromInline package let softmax: @Sendable (UnsafeMutablePointer<Float>, Int, Int, Int, Float, Bool) -> Void
    /// The int8 GEMM over a range of panels.
    @usableFromInline package let int8Gemm: @Sendable (Int8GemmOperands, Range<Int>) -> Void
    /// `(x, lda, m, k, groups, blocks, scales, rows)`: quantizes rows of x for ``int8Gemm``.
    @usableFromInline package let quantizeRows: @Sendable (UnsafePointer<Float>, Int, Int, Int, Int, UnsafeMutablePointer<UInt8>,
                                                         UnsafeMutablePointer<Float>, Range<Int>) -> Void
    /// The activation range of the int8 GEMM (see ``KernelISA/int8Levels``).
    @usableFromInline package let int8Levels: Int32
    /// One attention head (see ``attentionHeadBody(_:_:)``).
    @usableFromInline package let attention: @Sendable (AttentionOperands) -> Void
    /// `(iterations) -> keep-alive value`: the tier's multiply-add throughput probe (20·|V| flops per iteration).
    @usableFromInline package let peakProbe: @Sendable (Int) -> Float
    /// `(query, halfRows, n, d, out)`: dot products of a float query with half-float rows (search).
    @usableFromInline package let halfDot: @Sendable (UnsafePointer<Float>, UnsafePointer<UInt16>, Int, Int,
                                                    UnsafeMutablePointer<Float>) -> Void

    @inlinable
    package init(
        isa: ISA, panelWidth: Int, tileRows: Int,
        gemm: @escaping @Sendable (GemmOperands<Float>, Range<Int>) -> Void,
        layerNorm: @escaping @Sendable (UnsafePointer<Float>, Int, Int, UnsafePointer<Float>, UnsafePointer<Float>, Float,
                                        UnsafeMutablePointer<Float>) -> Void,
        pointwise: @escaping @Sendable (PointwiseFunction, UnsafeMutablePointer<Float>, Int) -> Void,
        softmax: @escaping @Sendable (UnsafeMutablePointer<Float>, Int, Int, Int, Float, Bool) -> Void,
        attention: @escaping @Sendable (AttentionOperands) -> Void,
        int8Gemm: @escaping @Sendable (Int8GemmOperands, Range<Int>) -> Void,
        quantizeRows: @escaping @Sendable (UnsafePointer<Float>, Int, Int, Int, Int, UnsafeMutablePointer<UInt8>,
                                           UnsafeMutablePointer<Float>, Range<Int>) -> Void,
        int8Levels: Int32,
        peakProbe: @escaping @Sendable (Int) -> Float,
        halfDot: @escaping @Sendable (UnsafePointer<Float>, UnsafePointer<UInt16>, Int, Int, UnsafeMutablePointer<Float>) -> Void
    ) {
        self.isa = isa
        self.panelWidth = panelWidth
        self.tileRows = tileRows
        self.gemm = gemm
        self.layerNorm = layerNorm
        self.pointwise = pointwise
        self.softmax = softmax
        self.attention = attention
        self.int8Gemm = int8Gemm
        self.quantizeRows = quantizeRows
        self.int8Levels = int8Levels
        self.peakProbe = peakProbe
        self.halfDot = halfDot
    }
}

/// The kernels of one tier. Specialised (and compiled) in the module that defines `I`.
@usableFromInline package enum Kernels<I: KernelISA> {
    @inline(never)
    @inlinable package static func gemm(_ g: GemmOperands<Float>, panels: Range<Int>) {
        packedGemmBody(I.self, g, panels: panels)
    }

    @inline(never)
    @inlinable package static func layerNorm(_ x: UnsafePointer<Float>, rows: Int, cols: Int, gamma: UnsafePointer<Float>,
                                  beta: UnsafePointer<Float>, eps: Float, out: UnsafeMutablePointer<Float>) {
        layerNormBody(I.self, x, rows: rows, cols: cols, gamma: gamma, beta: beta, eps: eps, out: out)
    }

    @inline(never)
    @inlinable package static func pointwise(_ fn: PointwiseFunction, _ x: UnsafeMutablePointer<Float>, count: Int) {
        pointwiseBody(I.self, fn, x, count: count)
    }

    @inline(never)
    @inlinable package static func softmax(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int, scale: Float, causal: Bool) {
        softmaxBody(I.self, x, rows: rows, cols: cols, ld: ld, scale: scale, causal: causal)
    }

    @inline(never)
    @inlinable package static func attention(_ h: AttentionOperands) {
        attentionHeadBody(I.self, h)
    }

    @inline(never)
    @inlinable package static func int8Gemm(_ g: Int8GemmOperands, panels: Range<Int>) {
        int8GemmBody(I.self, g, panels: panels)
    }

    @inline(never)
    @inlinable package static func quantizeRows(_ x: UnsafePointer<Float>, lda: Int, m: Int, k: Int, groups: Int,
                                                into blocks: UnsafeMutablePointer<UInt8>, scales: UnsafeMutablePointer<Float>,
                                                rows: Range<Int>) {
        quantizeRowsBody(I.self, x, lda: lda, m: m, k: k, groups: groups, into: blocks, scales: scales, rows: rows)
    }

    @inline(never)
    @inlinable package static func peakProbe(iterations: Int) -> Float {
        peakProbeBody(I.self, iterations: iterations)
    }

    /// The table of this tier's entry points. For an ISA target's tag, call it only after the CPU check.
    @inlinable
    package static func table() -> KernelTable {
        KernelTable(
            isa: I.isa, panelWidth: 2 * I.V.scalarCount, tileRows: I.tileRows,
            gemm: { gemm($0, panels: $1) },
            layerNorm: { layerNorm($0, rows: $1, cols: $2, gamma: $3, beta: $4, eps: $5, out: $6) },
            pointwise: { pointwise($0, $1, count: $2) },
            softmax: { softmax($0, rows: $1, cols: $2, ld: $3, scale: $4, causal: $5) },
            attention: { attention($0) },
            int8Gemm: { int8Gemm($0, panels: $1) },
            quantizeRows: { quantizeRows($0, lda: $1, m: $2, k: $3, groups: $4, into: $5, scales: $6, rows: $7) },
            int8Levels: I.int8Levels,
            peakProbe: { peakProbe(iterations: $0) },
            halfDot: { halfDot($0, $1, $2, $3, $4) })
    }
}
