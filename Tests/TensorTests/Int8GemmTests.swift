// The int8 path of every tier against the scalar reference: activation quantization byte for byte, and the int8
// linear layer (exact integer sums, so only the float epilogue can differ) for every epilogue and odd shapes.

import Testing
import Tensor
import TensorSIMD

struct Int8GemmTests {
    static let shapes = [(1, 4, 1), (5, 33, 17), (6, 16, 16), (13, 64, 40), (50, 96, 48), (50, 768, 70), (7, 1101, 33)]
    static let epilogues: [GemmEpilogue] = [.store, .activation(.quickGELU), .activation(.gelu), .accumulate]

    /// Random int8 weights in −127…127 and per-row scales.
    func weights(_ n: Int, _ k: Int, seed: UInt64) -> ([Int8], [Float]) {
        let raw = randomFloats(n * k, seed: seed, scale: 127.4)
        return (raw.map { Int8($0.rounded()) }, randomFloats(n, seed: seed + 1, scale: 0.01).map { abs($0) + 1e-3 })
    }

    @Test("row quantization matches the reference byte for byte", arguments: tiers)
    func quantization(_ tier: Tier) throws {
        let kernels = try tier.kernels
        for (m, k) in [(1, 1), (7, 33), (13, 768), (6, 64), (3, 5)] {
            var x = randomFloats(m * k, seed: 81, scale: 4)
            if m > 2 { for c in 0..<k { x[2 * k + c] = 0 } }          // an all-zero row
            x[0] = 4                                                  // a value exactly at the row maximum
            let mr = int8TileRows
            let groups = (k + 3) / 4, blocks = (m + mr - 1) / mr
            var packed = [UInt8](repeating: 0xEE, count: blocks * groups * 4 * mr)
            var scales = [Float](repeating: .nan, count: m)
            packed.withUnsafeMutableBufferPointer { p in
                scales.withUnsafeMutableBufferPointer { s in
                    kernels.quantizeRows(x, k, m, k, groups, p.baseAddress!, s.baseAddress!, 0..<(blocks * mr))
                }
            }
            let offset = kernels.int8Levels + 1
            for r in 0..<(blocks * mr) {
                let expected = r < m ? x.withUnsafeBufferPointer { quantizeRowReference($0.baseAddress! + r * k, count: k, levels: kernels.int8Levels) }
                                     : (q: [Int32](repeating: 0, count: k), scale: 0)
                if r < m { #expect(scales[r] == expected.scale, "\(tier) (\(m), \(k)) row \(r) scale") }
                for c in 0..<(groups * 4) {
                    let byte = packed[(r / mr) * groups * 4 * mr + (c / 4) * 4 * mr + (r % mr) * 4 + c % 4]
                    let q = c < k ? expected.q[c] : 0
                    #expect(Int32(byte) == q + offset, "\(tier) (\(m), \(k)) row \(r) column \(c): \(byte) vs \(q + offset)")
                }
            }
        }
    }

    @Test("int8 linear equals the reference for every epilogue, shape, thread count and weight layout",
          arguments: tiers.map(\.backend) + [.blasSplit], epilogues)
    func linear(_ backend: ComputeBackend, _ epilogue: GemmEpilogue) throws {
        for (m, k, n) in Self.shapes {
            let x = randomFloats(m * k, seed: 91, scale: 2), b = randomFloats(n, seed: 92)
            let (q, scales) = weights(n, k, seed: 93)
            let prior = randomFloats(m * n, seed: 94)
            // Every tier runs the paired layout (the portable and AVX-512 tiers as two dot4 per step); only AVX2
            // loads it for a model.
            for threads in [1, 2, 3] { for layout in [Int8WeightLayout.quads, .pairs] {
                let compute = try Compute(backend: backend, threads: threads)
                let (refQ, refScales) = layout == .pairs ? pairedWeightsReference(q, scales: scales, outFeatures: n, inFeatures: k)
                                                         : (q, scales)
                var expected = [Float](repeating: 0, count: m * n)
                int8LinearReference(x, rows: m, inFeatures: k, q: refQ, scales: refScales, outFeatures: n, bias: b,
                                    levels: compute.kernels.int8Levels, out: &expected)
                switch epilogue {
                case .accumulate: expected = zip(expected, prior).map { $0 + $1 }
                case .activation(let kind):
                    expected.withUnsafeMutableBufferPointer {
                        (kind == .gelu ? Activation.gelu : .quickGELU).applyReference($0.baseAddress!, count: m * n)
                    }
                case .store: break
                }
                let weight = q.withUnsafeBufferPointer { qp in
                    scales.withUnsafeBufferPointer { compute.prepareQuantized(qp.baseAddress!, scales: $0.baseAddress!,
                                                                              outFeatures: n, inFeatures: k, layout: layout) }
                }
                var y = prior
                compute.linear(x, rows: m, weight: weight, bias: b, out: &y, epilogue: epilogue)
                let bad = (0..<(m * n)).filter { !(abs(y[$0] - expected[$0]) <= 2e-6 * abs(expected[$0]) + 2e-6) }
                let first = bad.first.map { "[\($0)] \(y[$0]) vs \(expected[$0])" } ?? ""
                #expect(bad.isEmpty, "\(backend) \(layout) \(epilogue) \((m, k, n)) threads=\(threads): \(bad.count) off, first \(first)")
            } }
        }
    }

    /// The paired layout at its bound: every activation byte 127 (x at its row maximum) against weights of ±127
    /// requantized to ±64 puts 4 · 127 · 64 = 32512 in each 16-bit lane of AVX2's two-group sum, and alternating
    /// signs put the largest negative sums beside the positive ones; the results are exact.
    @Test("paired int8 weights at the 16-bit bound are exact", arguments: tiers)
    func pairedBound(_ tier: Tier) throws {
        let (m, k, n) = (7, 64, 24)
        let x = [Float](repeating: 1.5, count: m * k)
        let q = (0..<(n * k)).map { i -> Int8 in (i / k) % 2 == 0 ? 127 : -127 }
        let scales = [Float](repeating: 0.01, count: n)
        let compute = try tier.compute()
        let (refQ, refScales) = pairedWeightsReference(q, scales: scales, outFeatures: n, inFeatures: k)
        #expect(refQ.allSatisfy { abs(Int($0)) == 64 })
        var expected = [Float](repeating: 0, count: m * n)
        int8LinearReference(x, rows: m, inFeatures: k, q: refQ, scales: refScales, outFeatures: n, bias: nil,
                            levels: compute.kernels.int8Levels, out: &expected)
        let weight = compute.prepareQuantized(q, scales: scales, outFeatures: n, inFeatures: k, layout: .pairs)
        var y = [Float](repeating: .nan, count: m * n)
        compute.linear(x, rows: m, weight: weight, bias: nil, out: &y)
        let bad = (0..<(m * n)).filter { !(abs(y[$0] - expected[$0]) <= 2e-6 * abs(expected[$0])) }
        #expect(bad.isEmpty, "\(tier): \(bad.count) off, first \(bad.first.map { "\(y[$0]) vs \(expected[$0])" } ?? "")")
        // The integers are exact, so y is the float product itself: ±k · 1.5 · (0.01 · 127), by column parity.
        for j in 0..<n {
            let exact = (j % 2 == 0 ? 1 : -1) * Float(k) * 1.5 * 0.01 * 127
            #expect(abs(y[j] - exact) <= 1e-5 * abs(exact), "\(tier) column \(j): \(y[j]) vs \(exact)")
        }
    }
}
