// Each tier's SIMD kernels (exp, erf, activations, layer norm, softmax) against their scalar references on odd
// sizes and extreme values, plus closed forms; the baseline-only helpers (L2 norm, add, BLAS gemm) likewise.

import Foundation
import Testing
import Tensor
import TensorSIMD

struct KernelTests {
    static let sizes = [1, 7, 8, 33, 768, 3072]

    func pointwise(_ tier: Tier, _ fn: PointwiseFunction, _ xs: [Float]) throws -> [Float] {
        var y = xs
        let k = try tier.kernels
        y.withUnsafeMutableBufferPointer { k.pointwise(fn, $0.baseAddress!, $0.count) }
        return y
    }

    @Test("exp matches libm within 2e-7 relative (absolute for subnormals)", arguments: tiers)
    func expAccuracy(_ tier: Tier) throws {
        let xs: [Float] = [-103, -95, -87, -20, -1, -1e-3, 0, 1e-3, 0.5, 1, 10, 50, 88, 88.7] + randomFloats(97, seed: 5, scale: 90)
        let ys = try pointwise(tier, .exp, xs)
        for (x, y) in zip(xs, ys) {
            let ref = expReference(x)
            if ref.isInfinite { #expect(y == ref, "\(tier) exp(\(x)) overflows"); continue }
            // subnormal results keep fewer significant bits: compare them in absolute terms
            #expect(abs(y - ref) <= max(2e-7 * ref, 2e-45), "\(tier) exp(\(x)) = \(y), reference \(ref)")
        }
    }

    @Test("exp edge values: overflow, underflow, NaN", arguments: tiers)
    func expEdges(_ tier: Tier) throws {
        let v = try pointwise(tier, .exp, [100, -110, .nan, .infinity, -.infinity, 0, 88.7, -87.3, -100])
        #expect(v[0] == .infinity)
        #expect(v[1] == 0)
        #expect(v[2].isNaN)
        #expect(v[3] == .infinity)
        #expect(v[4] == 0)
        #expect(v[5] == 1)
        #expect(abs(v[6] - expReference(88.7)) <= 1e-6 * expReference(88.7))
        #expect(abs(v[7] - expReference(-87.3)) <= 1e-6 * expReference(-87.3))
        #expect(abs(v[8] - expReference(-100)) <= 2e-45)
    }

    @Test("erf matches libm within 6e-7 absolute; closed forms", arguments: tiers)
    func erfAccuracy(_ tier: Tier) throws {
        let xs = randomFloats(803, seed: 3, scale: 6) + [0, 1e-6, -1e-6, 10, -10]
        for (x, y) in zip(xs, try pointwise(tier, .erf, xs)) {
            #expect(abs(y - erfReference(x)) <= 6e-7, "\(tier) erf(\(x)) = \(y)")
        }
        let known = try pointwise(tier, .erf, [0, 0.5, 1, 2, -1, 3, .infinity, -.infinity])
        let expected: [Float] = [0, 0.5204998778, 0.8427007929, 0.9953222650, -0.8427007929, 0.9999779095, 1, -1]
        #expect(maxAbsDiff(known, expected) <= 6e-7, "\(tier) erf closed forms")
    }

    @Test("activations equal the scalar reference", arguments: tiers, Activation.allCases)
    func activations(_ tier: Tier, _ act: Activation) throws {
        for n in Self.sizes {
            var x = randomFloats(n, seed: UInt64(n), scale: 8)
            if n >= 8 { x[0] = 80; x[1] = -80; x[2] = .nan; x[3] = 0 }
            let simd = try pointwise(tier, .activation(act.kind), x)
            var scalar = x
            scalar.withUnsafeMutableBufferPointer { act.applyReference($0.baseAddress!, count: n) }
            #expect(maxAbsDiff(simd, scalar) <= 2e-6, "\(tier) \(act) n=\(n): \(maxAbsDiff(simd, scalar))")
            if n >= 8 { #expect(simd[2].isNaN, "NaN passes through \(act)") }
        }
    }

    @Test("activations: closed-form values", arguments: tiers)
    func activationValues(_ tier: Tier) throws {
        let q = try pointwise(tier, .activation(.quickGELU), [0, 1, -1, 2])
        let qExpected = [0, 1 / (1 + exp(-1.702)), -1 / (1 + exp(1.702)), 2 / (1 + exp(-3.404))].map(Float.init)
        #expect(maxAbsDiff(q, qExpected) <= 1e-6)
        let g = try pointwise(tier, .activation(.gelu), [0, 1, -1, 3])
        #expect(maxAbsDiff(g, [0, 0.8413447461, -0.1586552539, 2.9959502]) <= 1e-6)
        #expect(throws: ActivationError.unsupported("relu")) { try Activation(hfName: "relu") }
    }

    @Test("layer norm equals the reference", arguments: tiers, sizes)
    func layerNormMatches(_ tier: Tier, _ cols: Int) throws {
        let rows = 3
        let x = randomFloats(rows * cols, seed: 11, scale: 50).enumerated().map { $0.element + Float($0.offset % 3) * 100 }
        let g = randomFloats(cols, seed: 12), b = randomFloats(cols, seed: 13)
        var y1 = [Float](repeating: 0, count: rows * cols), y2 = y1
        try tier.kernels.layerNorm(x, rows, cols, g, b, 1e-5, &y1)
        layerNormReference(x, rows: rows, cols: cols, gamma: g, beta: b, eps: 1e-5, out: &y2)
        #expect(maxAbsDiff(y1, y2) <= 2e-5, "\(tier) cols=\(cols): \(maxAbsDiff(y1, y2))")
        // In place (out aliases x), as the encoder never does but the API allows.
        var inPlace = x
        let kernels = try tier.kernels
        inPlace.withUnsafeMutableBufferPointer { p in kernels.layerNorm(p.baseAddress!, rows, cols, g, b, 1e-5, p.baseAddress!) }
        #expect(maxAbsDiff(inPlace, y1) == 0, "\(tier) in place")
    }

    @Test("layer norm: closed form", arguments: tiers)
    func layerNormValue(_ tier: Tier) throws {
        var y = [Float](repeating: 0, count: 4)
        try tier.kernels.layerNorm([1, 2, 3, 4], 1, 4, [1, 1, 1, 1], [0, 0, 0, 0], 0, &y)
        let s = Float(1.25).squareRoot()
        #expect(maxAbsDiff(y, [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s]) <= 1e-6)
    }

    @Test("softmax equals the reference: plain, causal, scaled, strided rows", arguments: tiers, [false, true])
    func softmaxMatches(_ tier: Tier, _ causal: Bool) throws {
        for n in Self.sizes {
            let rows = min(n, 9), ld = n + 3
            var a = randomFloats(rows * ld, seed: 21, scale: 40)
            a[0] = 80
            let scale: Float = 0.37
            var b = [Float](repeating: 0, count: rows * n)
            for r in 0..<rows { for c in 0..<n { b[r * n + c] = a[r * ld + c] * scale } }
            try tier.kernels.softmax(&a, rows, n, ld, scale, causal)
            softmaxReference(&b, rows: rows, cols: n, causal: causal)
            let got = (0..<rows).flatMap { r in a[(r * ld)..<(r * ld + n)] }
            #expect(maxAbsDiff(got, b) <= 2e-6, "\(tier) n=\(n): \(maxAbsDiff(got, b))")
            for r in 0..<rows {
                let sum = got[(r * n)..<((r + 1) * n)].reduce(0, +)
                #expect(abs(sum - 1) <= 1e-5, "row \(r) sums to \(sum)")
                if causal { #expect(got[(r * n + min(r + 1, n))..<((r + 1) * n)].allSatisfy { $0 == 0 }) }
            }
        }
    }

    @Test("softmax: closed form and NaN", arguments: tiers)
    func softmaxValues(_ tier: Tier) throws {
        var x: [Float] = [0, log(3)]
        try tier.kernels.softmax(&x, 1, 2, 2, 1, false)
        #expect(maxAbsDiff(x, [0.25, 0.75]) <= 1e-7)
        var n: [Float] = [1, .nan, 2]
        try tier.kernels.softmax(&n, 1, 3, 3, 1, false)
        #expect(n.allSatisfy { $0.isNaN })
    }

    @Test("multiply-add peak probe runs and returns a finite value", arguments: tiers)
    func peakProbe(_ tier: Tier) throws {
        #expect(try tier.kernels.peakProbe(1000).isFinite)
    }

    @Test("BLAS gemm equals the scalar reference, all transposes", arguments: [(1, 7, 33), (5, 8, 768), (50, 33, 64)],
          [(false, true), (false, false), (true, false), (true, true)])
    func gemmMatches(_ dims: (Int, Int, Int), _ trans: (Bool, Bool)) {
        let (m, n, k) = dims
        let a = randomFloats(m * k, seed: 31), b = randomFloats(k * n, seed: 32)
        let lda = trans.0 ? m : k, ldb = trans.1 ? k : n
        var c1 = randomFloats(m * n, seed: 33), c2 = c1
        blasGemm(transA: trans.0, transB: trans.1, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb,
                 beta: 0.25, c: &c1, ldc: n)
        gemmReference(transA: trans.0, transB: trans.1, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb,
                      beta: 0.25, c: &c2, ldc: n)
        #expect(maxAbsDiff(c1, c2) <= 1e-4, "\(dims) \(trans): \(maxAbsDiff(c1, c2))")
    }

    @Test("residual add and L2 normalisation equal references", arguments: sizes)
    func elementwise(_ n: Int) {
        let rows = 3
        let x = randomFloats(rows * n, seed: 51), y = randomFloats(rows * n, seed: 52)
        var r = x
        addInPlace(&r, y, count: rows * n)
        #expect(r == zip(x, y).map { $0 + $1 })
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
