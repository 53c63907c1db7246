// `clip-bench --matmul`: GFLOP/s of every matmul backend this CPU supports (or the one `--backend` names) on
// ViT-B/32 shapes, interleaved, beside the packed tiers' multiply-add peak.

import CLIPCore
import CLIPImageIO
import CLIPTokenizer
import CLIPZeroShot
import Tensor
import TextTransformer
import VisionTransformer
import TensorSIMD
import Foundation

func matmulBench(_ options: Options) throws {
    let backends = options.backend != .automatic ? [options.backend]
        : ComputeBackend.allCases.filter { $0 != .automatic && (try? $0.resolved()) != nil }
    let computes = try backends.map { try Compute(backend: $0, threads: options.threads) }
    print("CPU \(CPUFeatures.current), automatic = \(try ComputeBackend.automatic.resolved()), "
          + "threads \(computes.first?.threads ?? 0); GFLOP/s, best of 3 interleaved rounds of medians")
    let peaks = computes.filter(\.packsWeights).map {
        String(format: "%@ %.1f", $0.backend.rawValue, multiplyAddPeak($0, threads: $0.threads))
    }
    print("multiply-add peak:  " + peaks.joined(separator: "  "))
    for (m, k, n) in [(50, 768, 2304), (50, 768, 768), (50, 768, 3072), (50, 3072, 768), (400, 768, 3072), (70, 512, 2048)] {
        let x = (0..<(m * k)).map { Float($0 % 17) * 0.01 }
        let w = Parameter(Tensor(computedShape: [n, k], storage: (0..<(n * k)).map { Float($0 % 13) * 0.01 }))
        var y = [Float](repeating: 0, count: m * n)
        let prepared = computes.map { $0.prepare(w) }
        let flop = Double(2 * m * n * k)
        var best = [Double](repeating: .infinity, count: computes.count)
        for _ in 0..<3 {
            for (i, compute) in computes.enumerated() {
                let s = measure(compute.backend == .portable ? 5 : 20) {
                    compute.linear(x, rows: m, weight: prepared[i], bias: nil, out: &y)
                }
                best[i] = min(best[i], s.median)
            }
        }
        let cells = zip(backends, best).map { String(format: "%@ %.1f", $0.0.rawValue, flop / $0.1 / 1e9) }
        print("M=\(m) K=\(k) N=\(n):  " + cells.joined(separator: "  "))
    }
    // The same shapes with 12 distinct weights used in turn (as the 12 layers are): the weights no longer stay in
    // cache between calls, so this is what a forward pass sees.
    for (m, k, n, epilogue) in [(50, 768, 3072, GemmEpilogue.store), (400, 768, 3072, .store),
                                (50, 768, 3072, .activation(.quickGELU)), (400, 768, 3072, .activation(.quickGELU))] {
        let x = (0..<(m * k)).map { Float($0 % 17) * 0.01 }
        var y = [Float](repeating: 0, count: m * n)
        let weights = (0..<12).map { l in
            Parameter(Tensor(computedShape: [n, k], storage: (0..<(n * k)).map { Float(($0 + l) % 13) * 0.01 }))
        }
        let packedBackends = computes.filter { $0.packsWeights || $0.backend == .blasSplit }
        let prepared = packedBackends.map { c in weights.map { c.prepare($0) } }
        let cells = weightsInTurn(packedBackends, prepared, x: x, m: m, k: k, n: n, epilogue: epilogue, out: &y)
        print("M=\(m) K=\(k) N=\(n), 12 weights in turn, \(epilogue):  " + cells)
    }
    // The int8 GEMM (activations quantized per row inside each call, as in an int8 checkpoint), 12 weights in turn;
    // GOP/s counts 2 operations per multiply-add, as the float rows do. Tiers that pair k-groups (AVX2) run both
    // layouts, interleaved: "-pairs" is the vision tower's (weights requantized to ±64).
    let int8Runs = computes.filter(\.packsWeights).flatMap { c in
        [(c, Int8WeightLayout.quads, c.backend.rawValue)] + (c.pairsVisionInt8Weights ? [(c, .pairs, c.backend.rawValue + "-pairs")] : [])
    }
    for (m, k, n, epilogue) in [(50, 768, 2304, GemmEpilogue.store), (50, 768, 3072, .activation(.quickGELU)),
                                (50, 3072, 768, .accumulate), (400, 768, 2304, .store),
                                (400, 768, 3072, .activation(.quickGELU)), (400, 3072, 768, .accumulate)] {
        let x = (0..<(m * k)).map { Float(($0 * 7) % 17) * 0.1 - 0.8 }
        var y = [Float](repeating: 0, count: m * n)
        let q = (0..<(n * k)).map { Int8(truncatingIfNeeded: ($0 * 31) % 255 - 127) }
        let scales = [Float](repeating: 0.01, count: n)
        let prepared = int8Runs.map { c, layout, _ in
            (0..<12).map { _ in c.prepareQuantized(q, scales: scales, outFeatures: n, inFeatures: k, layout: layout) }
        }
        let cells = weightsInTurn(int8Runs.map(\.0), prepared, x: x, m: m, k: k, n: n, epilogue: epilogue, out: &y,
                                  labels: int8Runs.map(\.2))
        print("int8 M=\(m) K=\(k) N=\(n), 12 weights in turn, \(epilogue):  " + cells)
    }
}

/// GFLOP/s (or GOP/s) of each backend running `x · Wᵀ` over its prepared weights in turn, best of 3 interleaved
/// rounds of medians, as "backend value" cells.
private func weightsInTurn(_ computes: [Compute], _ prepared: [[MatmulWeight]], x: [Float], m: Int, k: Int, n: Int,
                           epilogue: GemmEpilogue, out y: inout [Float], labels: [String]? = nil) -> String {
    let flop = Double(2 * m * n * k * (prepared.first?.count ?? 0))
    var best = [Double](repeating: .infinity, count: computes.count)
    for _ in 0..<3 {
        for (i, compute) in computes.enumerated() {
            let s = measure(compute.backend == .portable ? 2 : 5) {
                for w in prepared[i] { compute.linear(x, rows: m, weight: w, bias: nil, out: &y, epilogue: epilogue) }
            }
            best[i] = min(best[i], s.median)
        }
    }
    return zip(labels ?? computes.map(\.backend.rawValue), best).map { String(format: "%@ %.1f", $0.0, flop / $0.1 / 1e9) }
        .joined(separator: "  ")
}

/// Attention alone: µs per head on one thread, for the vision (L = 50) and batch-8 shapes.
func attentionBench(_ options: Options) throws {
    for backend in [ComputeBackend.avx512, .avx2, .portable] where (try? backend.resolved()) != nil {
        let compute = try Compute(backend: backend, threads: 1)
        for (len, heads) in [(50, 12), (8, 8), (77, 8)] {
            let d = 64, c = heads * d
            let qkv = (0..<(len * 3 * c)).map { Float(($0 * 7) % 13) * 0.05 - 0.3 }
            var out = [Float](repeating: 0, count: len * c)
            let s = measure(50) {
                compute.attention(qkv, sequences: [0..<len], heads: heads, headDim: d, scale: 0.125, causal: len != 50, out: &out)
            }
            print(String(format: "%@ attention L=%d d=%d: %.2f µs per head", backend.rawValue, len, d, s.median * 1e6 / Double(heads)))
        }
        // As the vision tower calls it at batch 8: 8 sequences of 50 in one fused buffer, all threads.
        let pool = try Compute(backend: backend, threads: options.threads)
        let len = 50, batch = 8, heads = 12, d = 64, c = heads * d
        let qkv = (0..<(batch * len * 3 * c)).map { Float(($0 * 7) % 13) * 0.05 - 0.3 }
        var out = [Float](repeating: 0, count: batch * len * c)
        let sequences = (0..<batch).map { ($0 * len)..<(($0 + 1) * len) }
        let s = measure(20) {
            pool.attention(qkv, sequences: sequences, heads: heads, headDim: d, scale: 0.125, causal: false, out: &out)
        }
        print(String(format: "%@ attention 8 × L=%d d=%d, %d threads: %.2f µs wall per head", backend.rawValue, len, d,
                     pool.threads, s.median * 1e6 / Double(heads * batch)))
    }
}
