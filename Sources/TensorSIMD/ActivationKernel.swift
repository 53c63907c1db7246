// Elementwise activations: quick_gelu x·σ(1.702x) (OpenAI weights) and exact GELU 0.5x(1+erf(x/√2)) (LAION).
// x: (N) -> in place; or one SIMD vector (the GEMM epilogue applies them to a tile before storing it).
// The same entry point maps exp and erf, so their vector versions are tested against libm per tier.

/// The activation functions the kernels know.
@usableFromInline package enum ActivationKind: Sendable {
    case quickGELU
    case gelu
}

/// The activation of one vector.
@inlinable @inline(__always)
package func activate<I: KernelISA>(_: I.Type, _ kind: ActivationKind, _ v: I.V) -> I.V {
    switch kind {
    case .quickGELU: return v / (1 + vexp(I.self, -1.702 * v))
    case .gelu: return 0.5 * v * (1 + verf(I.self, v * 0.7071067811865476))
    }
}

/// The elementwise functions with a kernel entry point (activations, and exp and erf for their tests).
@usableFromInline package enum PointwiseFunction: Sendable {
    case activation(ActivationKind)
    case exp
    case erf
}

/// `fn` of one vector.
@inlinable @inline(__always)
package func apply<I: KernelISA>(_: I.Type, _ fn: PointwiseFunction, _ v: I.V) -> I.V {
    switch fn {
    case .activation(let kind): return activate(I.self, kind, v)
    case .exp: return vexp(I.self, v)
    case .erf: return verf(I.self, v)
    }
}

/// `fn` in place over `count` floats; the tail goes through a zero-padded vector, so every element uses the same
/// arithmetic.
@inlinable @inline(__always)
package func pointwiseBody<I: KernelISA>(_: I.Type, _ fn: PointwiseFunction, _ x: UnsafeMutablePointer<Float>, count: Int) {
    typealias V = I.V
    let w = V.scalarCount
    var i = 0
    while i + w <= count {
        let raw = UnsafeMutableRawPointer(x + i)
        raw.storeBytes(of: apply(I.self, fn, raw.loadUnaligned(as: V.self)), as: V.self)
        i += w
    }
    if i < count {
        var tail = V()
        for j in 0..<(count - i) { tail[j] = x[i + j] }
        let y = apply(I.self, fn, tail)
        for j in 0..<(count - i) { x[i + j] = y[j] }
    }
}
