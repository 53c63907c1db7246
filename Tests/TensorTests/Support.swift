// Test helpers for the kernels: seeded inputs, max-difference, and the kernel tiers this CPU can run.

import Tensor
import TensorSIMD

/// Deterministic pseudo-random floats in [-scale, scale].
func randomFloats(_ n: Int, seed: UInt64, scale: Float = 3) -> [Float] {
    var state = seed &* 6364136223846793005 &+ 1442695040888963407
    return (0..<n).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
    }
}

func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "compared arrays differ in length")
    return zip(a, b).map { $0.isNaN && $1.isNaN ? 0 : abs($0 - $1) }.max() ?? 0
}

/// A packed backend whose kernels this CPU runs: the dispatched ISA tiers and the portable one.
struct Tier: CustomTestStringConvertible, Sendable {
    let backend: ComputeBackend
    var testDescription: String { backend.rawValue }
    func compute(threads: Int = 1) throws -> Compute { try Compute(backend: backend, threads: threads) }
    var kernels: KernelTable { get throws { try compute().kernels } }
}

/// Every packed tier available here (the portable one always; AVX2 and AVX-512 when the CPU has them).
let tiers: [Tier] = [ComputeBackend.avx512, .avx2, .portable].filter { (try? $0.resolved()) != nil }.map(Tier.init)

import Testing
