// Each SIMD kernel against its scalar reference on odd sizes and extreme values, plus closed-form checks.

import Foundation
import Testing
import Tensor

/// Deterministic pseudo-random floats in [-scale, scale].
func randomFloats(_ n: Int, seed: UInt64, scale: Float = 3) -> [Float] {
    var state = seed &* 6364136223846793005 &+ 1442695040888963407
    return (0..<n).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
    }
}

func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).map { $0.isNaN && $1.isNaN ? 0 : abs($0 - $1) }.max() ?? 0
}

struct KernelTests {
    static let sizes = [1, 7, 8, 33, 768, 3072]

    @Test("vexp matches libm exp within 2e-7 relative (absolute for subnormals)", arguments: [Float(-103), -95, -87, -20, -1, -1e-3, 0, 1e-3, 0.5, 1, 10, 50, 88, 88.7])
    func expAccuracy(_ x: Float) {
        let v = vexp(SIMD8<Float>(repeating: x))
        let ref = expReference(x)
        // subnormal results keep fewer significant bits: compare them in absolute terms
        #expect(abs(v[0] - ref) <= max(2e-7 * ref, 2e-45), "exp(\(x)) = \(v[0]), reference \(ref)")
    }

    @Test("vexp edge values: overflow, underflow, NaN")
    func expEdges() {
        let v = vexp(SIMD8<Float>(100, -110, .nan, .infinity, -.infinity, 0, 88.7, -87.3))
        #expect(v[0] == .infinity)
        #expect(v[1] == 0)
        #expect(abs(vexp(SIMD8<Float>(repeating: -100))[0] - expReference(-100)) <= 2e-45)
        #expect(v[2].isNaN)
        #expect(v[3] == .infinity)
        #expect(v[4] == 0)
        #expect(v[5] == 1)
        #expect(abs(v[6] - expReference(88.7)) <= 1e-6 * expReference(88.7))
        #expect(abs(v[7] - expReference(-87.3)) <= 1e-6 * expReference(-87.3))
    }

    @Test("verf matches libm erf within 6e-7 absolute; closed forms")
    func erfAccuracy() {
        let xs = randomFloats(800, seed: 3, scale: 6) + [0, 1e-6, -1e-6, 10, -10]
        for chunk in stride(from: 0, to: xs.count - 7, by: 8) {
            let v = verf(SIMD8<Float>(xs[chunk..<(chunk + 8)]))
            for i in 0..<8 {
                #expect(abs(v[i] - erfReference(xs[chunk + i])) <= 6e-7, "erf(\(xs[chunk + i]))")
            }
        }
        let known = verf(SIMD8<Float>(0, 0.5, 1, 2, -1, 3, .infinity, -.infinity))
        let expected: [Float] = [0, 0.5204998778, 0.8427007929, 0.9953222650, -0.8427007929, 0.9999779095, 1, -1]
        for i in 0..<8 { #expect(abs(known[i] - expected[i]) <= 6e-7, "erf closed form \(i)") }
    }

    @Test("activations: SIMD equals scalar reference", arguments: Activation.allCases, sizes)
    func activations(_ act: Activation, _ n: Int) {
        var x = randomFloats(n, seed: UInt64(n), scale: 8)
        if n >= 8 { x[0] = 80; x[1] = -80; x[2] = .nan; x[3] = 0 }
        var simd = x, scalar = x
        simd.withUnsafeMutableBufferPointer { act.apply($0.baseAddress!, count: n) }
        scalar.withUnsafeMutableBufferPointer { act.applyReference($0.baseAddress!, count: n) }
        #expect(maxAbsDiff(simd, scalar) <= 2e-6, "\(act) n=\(n): \(maxAbsDiff(simd, scalar))")
        if n >= 8 { #expect(simd[2].isNaN, "NaN passes through \(act)") }
    }

    @Test("activations: closed-form values")
    func activationValues() {
        var q: [Float] = [0, 1, -1, 2]
        q.withUnsafeMutableBufferPointer { Activation.quickGELU.apply($0.baseAddress!, count: 4) }
        let qExpected = [0, 1 / (1 + exp(-1.702)), -1 / (1 + exp(1.702)), 2 / (1 + exp(-3.404))].map(Float.init)
        #expect(maxAbsDiff(q, qExpected) <= 1e-6)
        var g: [Float] = [0, 1, -1, 3]
        g.withUnsafeMutableBufferPointer { Activation.gelu.apply($0.baseAddress!, count: 4) }
        #expect(maxAbsDiff(g, [0, 0.8413447461, -0.1586552539, 2.9959502]) <= 1e-6)
        #expect(throws: ActivationError.unsupported("relu")) { try Activation(hfName: "relu") }
    }

    @Test("layer norm: SIMD equals reference", arguments: sizes)
    func layerNormMatches(_ cols: Int) {
        let rows = 3
        let x = randomFloats(rows * cols, seed: 11, scale: 50).enumerated().map { $0.element + Float($0.offset % 3) * 100 }
        let g = randomFloats(cols, seed: 12), b = randomFloats(cols, seed: 13)
        var y1 = [Float](repeating: 0, count: rows * cols), y2 = y1
        layerNorm(x, rows: rows, cols: cols, gamma: g, beta: b, eps: 1e-5, out: &y1)
        layerNormReference(x, rows: rows, cols: cols, gamma: g, beta: b, eps: 1e-5, out: &y2)
        #expect(maxAbsDiff(y1, y2) <= 2e-5, "cols=\(cols): \(maxAbsDiff(y1, y2))")
    }

    @Test("layer norm: closed form")
    func layerNormValue() {
        var y = [Float](repeating: 0, count: 4)
        layerNorm([1, 2, 3, 4], rows: 1, cols: 4, gamma: [1, 1, 1, 1], beta: [0, 0, 0, 0], eps: 0, out: &y)
        let s = Float(1.25).squareRoot()
        #expect(maxAbsDiff(y, [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s]) <= 1e-6)
    }

    @Test("softmax: SIMD equals reference, plain and causal", arguments: sizes, [false, true])
    func softmaxMatches(_ n: Int, _ causal: Bool) {
        let rows = min(n, 9)
        var a = randomFloats(rows * n, seed: 21, scale: 40)
        a[0] = 80
        var b = a
        softmax(&a, rows: rows, cols: n, causal: causal)
        softmaxReference(&b, rows: rows, cols: n, causal: causal)
        #expect(maxAbsDiff(a, b) <= 1e-6)
        for r in 0..<rows {
            let sum = a[(r * n)..<((r + 1) * n)].reduce(0, +)
            #expect(abs(sum - 1) <= 1e-5, "row \(r) sums to \(sum)")
            if causal { #expect(a[(r * n + min(r + 1, n))..<((r + 1) * n)].allSatisfy { $0 == 0 }) }
        }
    }

    @Test("softmax: closed form and NaN")
    func softmaxValues() {
        var x: [Float] = [0, log(3)]
        softmax(&x, rows: 1, cols: 2)
        #expect(maxAbsDiff(x, [0.25, 0.75]) <= 1e-7)
        var n: [Float] = [1, .nan, 2]
        softmax(&n, rows: 1, cols: 3)
        #expect(n.allSatisfy { $0.isNaN })
    }

    @Test("gemm (BLAS) equals the scalar reference, all transposes", arguments: [(1, 7, 33), (5, 8, 768), (50, 33, 64)],
          [(false, true), (false, false), (true, false), (true, true)])
    func gemmMatches(_ dims: (Int, Int, Int), _ trans: (Bool, Bool)) {
        let (m, n, k) = dims
        let a = randomFloats(m * k, seed: 31), b = randomFloats(k * n, seed: 32)
        let lda = trans.0 ? m : k, ldb = trans.1 ? k : n
        var c1 = randomFloats(m * n, seed: 33), c2 = c1
        gemm(transA: trans.0, transB: trans.1, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb,
             beta: 0.25, c: &c1, ldc: n)
        gemmReference(transA: trans.0, transB: trans.1, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb,
                      beta: 0.25, c: &c2, ldc: n)
        #expect(maxAbsDiff(c1, c2) <= 1e-4, "\(dims) \(trans): \(maxAbsDiff(c1, c2))")
    }

    @Test("linear equals reference with bias")
    func linearMatches() {
        let (m, k, n) = (7, 33, 13)
        let x = randomFloats(m * k, seed: 41), w = randomFloats(n * k, seed: 42), b = randomFloats(n, seed: 43)
        var y1 = [Float](repeating: 0, count: m * n), y2 = y1
        linear(x, rows: m, inFeatures: k, weight: w, outFeatures: n, bias: b, out: &y1)
        linearReference(x, rows: m, inFeatures: k, weight: w, outFeatures: n, bias: b, out: &y2)
        #expect(maxAbsDiff(y1, y2) <= 1e-4)
        #expect(abs(y1[0] - y2[0]) <= 1e-4)
    }

    @Test("bias add, residual add and L2 normalisation equal references", arguments: sizes)
    func elementwise(_ n: Int) {
        let rows = 3
        let x = randomFloats(rows * n, seed: 51), bias = randomFloats(n, seed: 52)
        var a = x, b = x
        addBias(&a, rows: rows, cols: n, bias: bias)
        addBiasReference(&b, rows: rows, cols: n, bias: bias)
        #expect(maxAbsDiff(a, b) == 0)
        var r = x
        addInPlace(&r, bias + bias + bias, count: min(r.count, 3 * n))
        #expect(abs(r[n - 1] - (x[n - 1] + bias[n - 1])) <= 1e-6)
        var l1 = x, l2 = x
        l2Normalize(&l1, rows: rows, cols: n)
        l2NormalizeReference(&l2, rows: rows, cols: n)
        #expect(maxAbsDiff(l1, l2) <= 1e-6)
        var zero = [Float](repeating: 0, count: n)
        l2Normalize(&zero, rows: 1, cols: n)
        #expect(zero.allSatisfy { $0 == 0 })
    }

    @Test("l2 normalisation closed form")
    func l2Value() {
        var v: [Float] = [3, 4]
        l2Normalize(&v, rows: 1, cols: 2)
        #expect(v == [0.6, 0.8])
    }
}
