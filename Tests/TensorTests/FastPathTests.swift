// The fast paths against their references: packed matmul (both kernels) vs the scalar GEMM, SIMD attention
// vs the reference attention, on odd shapes.

import Testing
import Tensor

struct FastPathTests {
    @Test("packed matmul equals the reference GEMM", arguments: PackedKernel.allCases,
          [(1, 7, 1), (5, 33, 17), (6, 16, 16), (13, 64, 40), (50, 96, 48)])
    func packed(_ kernel: PackedKernel, _ dims: (Int, Int, Int)) {
        let (m, k, n) = dims
        let x = randomFloats(m * k, seed: 61), w = randomFloats(n * k, seed: 62), b = randomFloats(n, seed: 63)
        let packed = PackedWeight(w, outFeatures: n, inFeatures: k)
        for threads in [1, 2, 3] {
            var y1 = [Float](repeating: .nan, count: m * n), y2 = y1
            packedLinear(x, rows: m, packed: packed, bias: b, out: &y1, kernel: kernel, threads: threads)
            linearReference(x, rows: m, inFeatures: k, weight: w, outFeatures: n, bias: b, out: &y2)
            #expect(maxAbsDiff(y1, y2) <= 1e-4, "\(kernel) \(dims) threads=\(threads): \(maxAbsDiff(y1, y2))")
        }
    }

    @Test("SIMD attention equals the reference", arguments: [(1, 8), (7, 8), (50, 64), (13, 12)], [false, true])
    func attention(_ shape: (Int, Int), _ causal: Bool) {
        let (len, d) = shape
        let heads = 3, c = heads * d
        let qkv = randomFloats(len * 3 * c, seed: 71, scale: 2)
        for h in 0..<heads {
            var o1 = [Float](repeating: 0, count: len * c), o2 = o1
            var s1 = [Float](repeating: 0, count: len * len), s2 = s1
            qkv.withUnsafeBufferPointer { p in
                o1.withUnsafeMutableBufferPointer { out1 in
                    o2.withUnsafeMutableBufferPointer { out2 in
                        let q = p.baseAddress! + h * d
                        attentionHead(q: q, k: q + c, v: q + 2 * c, stride: 3 * c, length: len, headDim: d, scale: 0.3,
                                      causal: causal, scores: &s1, out: out1.baseAddress! + h * d, outStride: c)
                        attentionHeadReference(q: q, k: q + c, v: q + 2 * c, stride: 3 * c, length: len, headDim: d,
                                               scale: 0.3, causal: causal, scores: &s2, out: out2.baseAddress! + h * d,
                                               outStride: c)
                    }
                }
            }
            #expect(maxAbsDiff(o1, o2) <= 1e-5, "len=\(len) d=\(d) causal=\(causal) head \(h): \(maxAbsDiff(o1, o2))")
        }
    }
}
