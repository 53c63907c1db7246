// How a model is loaded and run: the compute backend and thread count, passed once at load.
// The libraries read no environment variables; the `clip` and `clip-bench` executables map theirs to these.

import Tensor

/// Options for loading a CLIP model.
///
/// ```swift
/// var options = LoadOptions()
/// options.backend = .portable      // force the baseline kernels
/// options.threads = 1
/// options.fullInt8Precision = true  // an int8 checkpoint keeps 8-bit vision weights on AVX2 too
/// let model = try CLIPModel(directory: "Weights/demo", options: options)
/// ```
public struct LoadOptions: Sendable {
    /// The kernels to compute with; ``ComputeBackend/automatic`` picks the fastest this CPU supports.
    public var backend: ComputeBackend
    /// Threads per operation; nil uses every active core.
    public var threads: Int?
    /// A directory for prepared (packed) weights: the first load of a checkpoint writes them there, later loads
    /// memory-map them instead of packing (start-up drops from ~0.5 s to ~0.1 s for ViT-B/32). Keyed on the
    /// checkpoint's identity and the kernel layout, so a changed checkpoint is never served stale. nil: no cache.
    public var preparedWeightsDirectory: String?
    /// Read the weights into process memory instead of memory-mapping them (and pack them at load instead of
    /// mapping a prepared-weights cache): for a long-running server, whose weight files may be truncated,
    /// overwritten or replaced while it runs. Mapping (the default) starts faster and shares pages between
    /// processes, but a file changed in place under a mapping can crash the process or change its answers.
    public var copyWeights: Bool
    /// For int8 checkpoints: keep every weight's 8 bits. By default, on AVX2 without VNNI, the vision tower's int8
    /// weights are requantized at load to ±64 (about 7 bits) for a kernel that needs 3 multiplies per 64
    /// multiply-adds instead of 4 (the int8 image pass about 0.91× the time on the test machine); the text tower
    /// always keeps 8 bits. The README's int8 section gives the accuracy of both. No effect on other CPUs or on
    /// float checkpoints.
    public var fullInt8Precision: Bool

    /// Options with the given backend, thread count, prepared-weights directory, weight residency and int8
    /// precision.
    public init(backend: ComputeBackend = .automatic, threads: Int? = nil, preparedWeightsDirectory: String? = nil,
                copyWeights: Bool = false, fullInt8Precision: Bool = false) {
        self.backend = backend
        self.threads = threads
        self.preparedWeightsDirectory = preparedWeightsDirectory
        self.copyWeights = copyWeights
        self.fullInt8Precision = fullInt8Precision
    }

    /// Resolves the backend for this CPU and sets up its threads.
    ///
    /// - Throws: ``ComputeError`` for a backend this CPU or build lacks, or a thread count below 1.
    public func makeCompute() throws -> Compute {
        try Compute(backend: backend, threads: threads, fullInt8Precision: fullInt8Precision)
    }
}
