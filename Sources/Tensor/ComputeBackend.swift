// Which kernels a model runs with: the CPU's features, the backends, and the deterministic automatic choice.

import CCPUFeatures

/// What this CPU (and OS) supports, read once with CPUID/XGETBV.
public struct CPUFeatures: Sendable, Equatable, CustomStringConvertible {
    /// AVX2 and FMA3, with YMM state saved by the OS.
    public var avx2FMA: Bool
    /// AVX-512 F, CD, BW, DQ, VL and VNNI, with ZMM state saved by the OS (the `avx512` tier's requirement).
    public var avx512: Bool
    /// AVX-VNNI (VEX-encoded `vpdpbusd`).
    public var avxVNNI: Bool

    /// Features from a `clip_cpu_features()` bit set.
    public init(bits: Int32) {
        let b = Int(bits)
        avx2FMA = b & Int(CLIP_CPU_AVX2_FMA) != 0
        avx512 = b & Int(CLIP_CPU_AVX512) != 0 && b & Int(CLIP_CPU_AVX512_VNNI) != 0
        avxVNNI = b & Int(CLIP_CPU_AVX_VNNI) != 0
    }

    /// This machine's features.
    public static let current = CPUFeatures(bits: clip_cpu_features())

    /// The supported features as space-separated names (`avx2+fma avx512 avx-vnni`), or `baseline` for none.
    public var description: String {
        let names = [(avx2FMA, "avx2+fma"), (avx512, "avx512"), (avxVNNI, "avx-vnni")].filter(\.0).map(\.1)
        return names.isEmpty ? "baseline" : names.joined(separator: " ")
    }
}

/// The kernels a model computes with, chosen once at load (``LoadOptions``), never by timing.
public enum ComputeBackend: String, Sendable, CaseIterable, CustomStringConvertible {
    /// The fastest backend for this CPU, from its features alone: ``avx512``, else ``avx2``, else ``blasSplit``.
    case automatic
    /// Weights packed at load, 6×32 SIMD16 kernels compiled for AVX-512 (with VNNI), chosen at run time.
    case avx512
    /// Weights packed at load, 6×16 SIMD8 kernels compiled for AVX2+FMA, chosen at run time.
    case avx2
    /// Weights packed at load, 6×8 SIMD4 kernels compiled for the baseline target (SSE2, NEON): correct anywhere.
    case portable
    /// OpenBLAS `sgemm`, threaded by OpenBLAS; baseline kernels for everything else.
    case blas
    /// Single-threaded OpenBLAS `sgemm` on column blocks, one per thread; baseline kernels for everything else.
    /// The automatic choice without AVX2: OpenBLAS's own kernels beat the baseline Swift SIMD there.
    case blasSplit = "blas-split"

    /// The raw value, as the `clip` command's backend option and `CLIP_BACKEND` take it (`blas-split`, …).
    public var description: String { rawValue }

    /// The concrete backend for `cpu`: ``automatic`` becomes the best supported one.
    ///
    /// - Throws: ``ComputeError/unsupported(_:reason:)`` when an ISA backend is asked for on a CPU without it.
    public func resolved(for cpu: CPUFeatures = .current) throws -> ComputeBackend {
        switch self {
        case .automatic:
            if ComputeBackend.avx512.isCompiled && cpu.avx512 { return .avx512 }
            if ComputeBackend.avx2.isCompiled && cpu.avx2FMA { return .avx2 }
            return .blasSplit
        case .avx512:
            guard isCompiled else { throw ComputeError.unsupported(self, reason: "this build has no AVX-512 kernels (not x86-64)") }
            guard cpu.avx512 else {
                throw ComputeError.unsupported(self, reason: "this CPU lacks AVX-512 F/CD/BW/DQ/VL/VNNI (has: \(cpu))")
            }
            return self
        case .avx2:
            guard isCompiled else { throw ComputeError.unsupported(self, reason: "this build has no AVX2 kernels (not x86-64)") }
            guard cpu.avx2FMA else { throw ComputeError.unsupported(self, reason: "this CPU lacks AVX2 and FMA (has: \(cpu))") }
            return self
        case .portable, .blas, .blasSplit:
            return self
        }
    }

    /// Whether this build contains the backend's kernels (the AVX tiers exist on x86-64 only).
    public var isCompiled: Bool {
        switch self {
        case .avx512, .avx2: return tierKernels != nil
        case .automatic, .portable, .blas, .blasSplit: return true
        }
    }
}

/// Errors in choosing how to compute.
public enum ComputeError: Error, Equatable, CustomStringConvertible {
    case unsupported(ComputeBackend, reason: String)
    case invalidThreads(Int)

    /// The message naming the unavailable backend and why, or the invalid thread count.
    public var description: String {
        switch self {
        case let .unsupported(b, reason): return "backend \(b) is not available: \(reason)"
        case let .invalidThreads(n): return "thread count \(n) is invalid: use 1 or more"
        }
    }
}
