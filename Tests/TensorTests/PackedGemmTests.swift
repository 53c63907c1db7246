// The packed GEMM of every tier and backend against the scalar reference (every epilogue, odd shapes, 1–3
// threads, strided operands), its batch invariance, and attention against the reference attention.

import Testing
import Tensor
import TensorSIMD

struct PackedGemmTests {
    static let shapes = [(1, 7, 1), (5, 33, 17), (6, 16, 16), (13, 64, 40), (50, 96, 48), (50, 768, 70), (7, 1100, 33),
                         (12, 40, 33), (25, 300, 64)]
    static let epilogues: [GemmEpilogue] = [.store, .activation(.quickGELU), .activation(.gelu), .accumulate]
    static let backends = tiers.map(\.backend) + [.blas, .blasSplit]

    /// The reference of `epilogue(x·wᵀ + b)` given the prior contents of `out`.
    func reference(_ x: [Float], _ w: [Float], _ b: [Float], m: Int, k: Int, n: Int, epilogue: GemmEpilogue,
                   prior: [Float]) -> [Float] {
        var y = [Float](repeating: 0, count: m * n)
        linearReference(x, rows: m, inFeatures: k, weight: w, outFeatures: n, bias: b, out: &y)
        switch epilogue {
        case .store: return y
        case .accumulate: return zip(y, prior).map { $0 + $1 }
        case .activation(let kind):
            let act: Activation = kind == .gelu ? .gelu : .quickGELU
            y.withUnsafeMutableBufferPointer { act.applyReference($0.baseAddress!, count: m * n) }
            return y
        }
    }

    @Test("linear equals the reference for every epilogue, shape and thread count", arguments: backends, epilogues)
    func linear(_ backend: ComputeBackend, _ epilogue: GemmEpilogue) throws {
        for (m, k, n) in Self.shapes {
            let x = randomFloats(m * k, seed: 61), w = randomFloats(n * k, seed: 62), b = randomFloats(n, seed: 63)
            let prior = randomFloats(m * n, seed: 64)
            let expected = reference(x, w, b, m: m, k: k, n: n, epilogue: epilogue, prior: prior)
            // float32 sums of K products: allow 1e-6 of Σ|x·w| per element (a dropped or doubled term is far larger)
            var magnitude = [Float](repeating: 0, count: m * n)
            linearReference(x.map(abs), rows: m, inFeatures: k, weight: w.map(abs), outFeatures: n, bias: nil, out: &magnitude)
            for threads in [1, 2, 3] {
                let compute = try Compute(backend: backend, threads: threads)
                let weight = compute.prepare(Parameter(Tensor(computedShape: [n, k], storage: w)))
                var y = prior
                compute.linear(x, rows: m, weight: weight, bias: b, out: &y, epilogue: epilogue)
                let bad = (0..<(m * n)).filter { !(abs(y[$0] - expected[$0]) <= 1e-6 * magnitude[$0] + 1e-6) }
                let first = bad.first.map { "[\($0)] \(y[$0]) vs \(expected[$0])" } ?? ""
                #expect(bad.isEmpty, "\(backend) \(epilogue) \((m, k, n)) threads=\(threads): \(bad.count) off, first \(first)")
            }
        }
    }

    @Test("OpenBLAS on 2 threads after a packed backend stopped its idle threads equals the reference")
    func blasAfterIdleThreadsStopped() throws {
        // A packed backend joins OpenBLAS's idle threads (unless a BLAS instance already exists); a .blas instance
        // created afterwards sets 2 threads, and OpenBLAS must start them again for a product this large.
        _ = try Compute(backend: .portable, threads: 1)
        let (m, k, n) = (256, 512, 384)
        let x = randomFloats(m * k, seed: 71), w = randomFloats(n * k, seed: 72), b = randomFloats(n, seed: 73)
        let expected = reference(x, w, b, m: m, k: k, n: n, epilogue: .store, prior: [])
        var magnitude = [Float](repeating: 0, count: m * n)
        linearReference(x.map(abs), rows: m, inFeatures: k, weight: w.map(abs), outFeatures: n, bias: nil, out: &magnitude)
        let compute = try Compute(backend: .blas, threads: 2)
        let weight = compute.prepare(Parameter(Tensor(computedShape: [n, k], storage: w)))
        var y = [Float](repeating: .nan, count: m * n)
        compute.linear(x, rows: m, weight: weight, bias: b, out: &y, epilogue: .store)
        let bad = (0..<(m * n)).filter { !(abs(y[$0] - expected[$0]) <= 1e-6 * magnitude[$0] + 1e-6) }
        #expect(bad.isEmpty, "\(bad.count) off, first \(bad.first.map { "[\($0)] \(y[$0]) vs \(expected[$0])" } ?? "")")
    }

    @Test("a row's result does not depend on the batch it is in", arguments: tiers)
    func batchInvariance(_ tier: Tier) throws {
        let (k, n) = (96, 40)
        let compute = try tier.compute(threads: 2)
        let weight = compute.prepare(Parameter(Tensor(computedShape: [n, k], storage: randomFloats(n * k, seed: 65))))
        let rows = randomFloats(27 * k, seed: 66)
        var all = [Float](repeating: 0, count: 27 * n)
        compute.linear(rows, rows: 27, weight: weight, bias: nil, out: &all)
        for m in 1...27 {
            var part = [Float](repeating: 0, count: m * n)
            compute.linear(Array(rows[0..<(m * k)]), rows: m, weight: weight, bias: nil, out: &part)
            #expect(part == Array(all[0..<(m * n)]), "\(tier): the first \(m) rows differ from the 27-row batch")
        }
    }

    @Test("strided operands: x rows strided by lda > K, y rows by ldc > N", arguments: tiers)
    func strided(_ tier: Tier) throws {
        let (m, k, n, lda, ldc) = (9, 20, 37, 29, 45)
        let kernels = try tier.kernels
        let a = randomFloats(m * lda, seed: 67), w = randomFloats(n * k, seed: 68)
        var packed = [Float](repeating: .nan, count: PackedWeight.count(n, k, kernels.panelWidth))
        let mr = kernels.tileRows
        var rowBlocks = [Float](repeating: .nan, count: rowBlocksCount(m, k, blockRows: mr))
        let panels = panelCount(n, panelWidth: kernels.panelWidth)
        packed.withUnsafeMutableBufferPointer { dst in
            packPanels(w, n: n, k: k, rowStride: k, colStride: 1, panelWidth: kernels.panelWidth, into: dst.baseAddress!,
                       panels: 0..<panels)
        }
        rowBlocks.withUnsafeMutableBufferPointer { dst in
            packRowBlocks(a, lda: lda, m: m, k: k, blockRows: mr, into: dst.baseAddress!, blocks: 0..<((m + mr - 1) / mr))
        }
        var c = [Float](repeating: -7, count: m * ldc)
        rowBlocks.withUnsafeBufferPointer { ap in
            packed.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    kernels.gemm(GemmOperands(a: ap.baseAddress!, m: m, packed: bp.baseAddress!, k: k, n: n,
                                              c: cp.baseAddress!, ldc: ldc, bias: nil, epilogue: .store), 0..<panels)
                }
            }
        }
        var expected = [Float](repeating: 0, count: m * n)
        gemmReference(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: w, ldb: k, beta: 0,
                      c: &expected, ldc: n)
        let got = (0..<m).flatMap { r in c[(r * ldc)..<(r * ldc + n)] }
        #expect(maxAbsDiff(got, expected) <= 1e-4, "\(tier)")
        // Columns between N and ldc are never written.
        #expect((0..<m).allSatisfy { r in c[(r * ldc + n)..<((r + 1) * ldc)].allSatisfy { $0 == -7 } })
    }

    @Test("attention equals the reference", arguments: backends, [false, true])
    func attention(_ backend: ComputeBackend, _ causal: Bool) throws {
        for (len, d, heads) in [(1, 8, 2), (7, 8, 3), (50, 64, 3), (13, 12, 2), (77, 64, 2), (40, 16, 1)] {
            let c = heads * d
            let sequences = [0..<len, len..<(len + max(1, len / 2))]
            let total = sequences.last!.upperBound
            let qkv = randomFloats(total * 3 * c, seed: 71, scale: 2)
            var expected = [Float](repeating: 0, count: total * c)
            var scores = [Float](repeating: 0, count: len * len)
            for seq in sequences {
                for h in 0..<heads {
                    qkv.withUnsafeBufferPointer { p in
                        expected.withUnsafeMutableBufferPointer { o in
                            let q = p.baseAddress! + seq.lowerBound * 3 * c + h * d
                            attentionHeadReference(q: q, k: q + c, v: q + 2 * c, stride: 3 * c, length: seq.count, headDim: d,
                                                   scale: 0.3, causal: causal, scores: &scores,
                                                   out: o.baseAddress! + seq.lowerBound * c + h * d, outStride: c)
                        }
                    }
                }
            }
            for threads in [1, 2] {
                let compute = try Compute(backend: backend, threads: threads)
                var out = [Float](repeating: .nan, count: total * c)
                compute.attention(qkv, sequences: sequences, heads: heads, headDim: d, scale: 0.3, causal: causal, out: &out)
                #expect(maxAbsDiff(out, expected) <= 1e-5,
                        "\(backend) len=\(len) d=\(d) heads=\(heads) threads=\(threads): \(maxAbsDiff(out, expected))")
            }
        }
    }

    @Test("automatic picks the best tier from CPU features alone")
    func automatic() throws {
        let none = CPUFeatures(bits: 0)
        #expect(try ComputeBackend.automatic.resolved(for: none) == .blasSplit)
        #expect(throws: ComputeError.self) { try ComputeBackend.avx2.resolved(for: none) }
        #expect(throws: ComputeError.self) { try ComputeBackend.avx512.resolved(for: none) }
        #expect(try ComputeBackend.portable.resolved(for: none) == .portable)
        #if arch(x86_64)
        let avx2 = CPUFeatures(bits: 1), avx512 = CPUFeatures(bits: 1 | 2 | 4)
        #expect(try ComputeBackend.automatic.resolved(for: avx2) == .avx2)
        #expect(try ComputeBackend.automatic.resolved(for: avx512) == .avx512)
        // AVX-512 without VNNI (Skylake-SP) stays on the AVX2 tier.
        #expect(try ComputeBackend.automatic.resolved(for: CPUFeatures(bits: 1 | 2)) == .avx2)
        #endif
        #expect(throws: ComputeError.invalidThreads(0)) { try Compute(backend: .portable, threads: 0) }
    }
}
