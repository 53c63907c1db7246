// Dynamic batching: requests enqueue jobs (preprocessed images or texts); one dedicated thread runs the model,
// gathering the jobs of one kind that arrive within `batchWait` of the oldest into a single forward pass.
// The model's work is synchronous CPU code, so it never runs on NIO event loops or the Swift concurrency pool.

import CLIPZeroShot
import Tensor
import CMallocTrim
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// One unit of model work.
enum JobPayload: Sendable {
    /// Preprocessed images, each (3, S, S) float32.
    case images([[Float]])
    /// Raw strings (tokenised by the library).
    case texts([String])
    /// Any other model call (label embeddings for classification); never batched with other jobs.
    case call(@Sendable () throws -> [[Float]])

    var itemCount: Int {
        switch self {
        case .images(let p): return p.count
        case .texts(let t): return t.count
        case .call: return 1
        }
    }
}

/// The queue is full: the client should retry later (503).
struct QueueFullError: Error {}
/// The server is shutting down.
struct QueueClosedError: Error {}

/// A bounded job queue drained by one inference thread.
final class InferenceQueue: @unchecked Sendable {
    enum Kind: Equatable { case image, text, call }

    private final class Job {
        let payload: JobPayload
        let kind: Kind
        let enqueued: ContinuousClock.Instant
        let complete: @Sendable (Result<[[Float]], Error>) -> Void
        init(payload: JobPayload, enqueued: ContinuousClock.Instant,
             complete: @escaping @Sendable (Result<[[Float]], Error>) -> Void) {
            self.payload = payload
            self.enqueued = enqueued
            self.complete = complete
            switch payload {
            case .images: kind = .image
            case .texts: kind = .text
            case .call: kind = .call
            }
        }
    }

    /// Counters for tests and `/health`.
    struct Stats: Sendable, Equatable {
        var batches = 0
        var jobs = 0
        var items = 0
        var largestBatch = 0
        var rejected = 0
    }

    private let condition = NSCondition()
    private var pending: [Job] = []
    private var pendingItemCount = 0
    private var closed = false
    private var paused = false
    private var stats = Stats()

    let batching: Bool
    let maxBatch: Int
    let maxQueue: Int
    let batchWait: Duration
    /// Runs a batch of images or texts: one row per input, in order.
    let runImages: @Sendable ([[Float]]) throws -> [[Float]]
    let runTexts: @Sendable ([String]) throws -> [[Float]]

    init(batching: Bool, maxBatch: Int, maxQueue: Int, batchWait: Duration,
         runImages: @escaping @Sendable ([[Float]]) throws -> [[Float]],
         runTexts: @escaping @Sendable ([String]) throws -> [[Float]]) {
        self.batching = batching
        self.maxBatch = maxBatch
        self.maxQueue = maxQueue
        self.batchWait = batchWait
        self.runImages = runImages
        self.runTexts = runTexts
        // The thread holds the queue until `close()` lets it finish. The queue keeps no reference to the thread:
        // a finished Thread keeps its block, so a stored reference would be a cycle (found by LeakSanitizer).
        let t = Thread { self.loop() }
        t.name = "clip-inference"
        t.stackSize = 8 << 20
        t.start()
    }

    /// Inputs waiting: reserved by requests (still decoding) or queued, not yet taken by the inference thread.
    var pendingItems: Int { condition.lock(); defer { condition.unlock() }; return pendingItemCount }

    var statistics: Stats { condition.lock(); defer { condition.unlock() }; return stats }

    /// Claims room for `n` inputs before a request does any work (image decoding included), so a full queue
    /// answers 503 at once. Throws ``QueueFullError`` if they do not fit (a request always fits an empty queue).
    /// Each reserved input must later be submitted with `reserved: true` or given back with ``release(_:)``.
    func reserve(_ n: Int) throws {
        condition.lock()
        defer { condition.unlock() }
        if closed { throw QueueClosedError() }
        if pendingItemCount > 0 && pendingItemCount + n > maxQueue {
            stats.rejected += 1
            throw QueueFullError()
        }
        pendingItemCount += n
    }

    /// Gives back reserved room that will not be submitted.
    func release(_ n: Int) {
        condition.lock()
        pendingItemCount -= n
        condition.unlock()
    }

    /// Runs `payload` on the inference thread. Unless its room was reserved, throws ``QueueFullError`` at once
    /// if it does not fit.
    func submit(_ payload: JobPayload, reserved: Bool = false) async throws -> [[Float]] {
        if !reserved { try reserve(payload.itemCount) }
        return try await withCheckedThrowingContinuation { (cont: CheckedContinuation<[[Float]], Error>) in
            let job = Job(payload: payload, enqueued: .now, complete: { cont.resume(with: $0) })
            condition.lock()
            if closed {
                pendingItemCount -= payload.itemCount
                condition.unlock()
                cont.resume(throwing: QueueClosedError())
                return
            }
            pending.append(job)
            condition.signal()
            condition.unlock()
        }
    }

    /// Test hook: hold the inference thread (jobs queue up) until `resume()`.
    func pause() { condition.lock(); paused = true; condition.unlock() }

    func resume() { condition.lock(); paused = false; condition.broadcast(); condition.unlock() }

    /// Lets queued work finish, then ends the thread. Jobs submitted afterwards fail with ``QueueClosedError``.
    func close() {
        condition.lock()
        closed = true
        paused = false
        condition.broadcast()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while (pending.isEmpty || paused) && !(closed && pending.isEmpty) { condition.wait() }
            if pending.isEmpty && closed {
                condition.unlock()
                return
            }
            let batch = takeBatch()
            condition.unlock()
            execute(batch)
        }
    }

    /// With the lock held and `pending` non-empty: the oldest job plus, when batching, same-kind jobs that
    /// arrive before the oldest has waited `batchWait`, up to `maxBatch` inputs.
    private func takeBatch() -> [Job] {
        let first = pending[0]
        guard batching, first.kind != .call, first.payload.itemCount < maxBatch else { return [removeJob(at: 0)] }
        let deadline = first.enqueued.advanced(by: batchWait)
        while !closed {
            let items = pending.lazy.filter { $0.kind == first.kind }.map(\.payload.itemCount).reduce(0, +)
            if items >= maxBatch { break }
            let now = ContinuousClock.now
            if now >= deadline { break }
            let remaining = now.duration(to: deadline)
            let seconds = Double(remaining.components.seconds) + Double(remaining.components.attoseconds) * 1e-18
            _ = condition.wait(until: Date(timeIntervalSinceNow: seconds))
        }
        var taken: [Job] = [removeJob(at: 0)]
        var items = first.payload.itemCount
        var i = 0
        while i < pending.count {
            let job = pending[i]
            if job.kind == first.kind {
                if items + job.payload.itemCount > maxBatch { break }
                taken.append(removeJob(at: i))
                items += job.payload.itemCount
            } else {
                i += 1
            }
        }
        return taken
    }

    private func removeJob(at i: Int) -> Job {
        let job = pending.remove(at: i)
        pendingItemCount -= job.payload.itemCount
        return job
    }

    /// Runs a batch; if the combined pass fails, each job runs alone so one bad request fails only itself.
    private func execute(_ jobs: [Job]) {
        let items = jobs.reduce(0) { $0 + $1.payload.itemCount }
        condition.lock()
        stats.batches += 1
        stats.jobs += jobs.count
        stats.items += items
        stats.largestBatch = max(stats.largestBatch, items)
        condition.unlock()
        if jobs.count == 1 {
            let job = jobs[0]
            job.complete(Result { try run(job.payload) })
            return
        }
        let combined: JobPayload
        switch jobs[0].kind {
        case .image: combined = .images(jobs.flatMap { if case .images(let p) = $0.payload { return p } else { return [] } })
        case .text: combined = .texts(jobs.flatMap { if case .texts(let t) = $0.payload { return t } else { return [] } })
        case .call: preconditionFailure("calls are never batched")
        }
        do {
            let rows = try run(combined)
            var offset = 0
            for job in jobs {
                let n = job.payload.itemCount
                job.complete(.success(Array(rows[offset..<(offset + n)])))
                offset += n
            }
        } catch {
            for job in jobs { job.complete(Result { try run(job.payload) }) }
        }
    }

    private func run(_ payload: JobPayload) throws -> [[Float]] {
        switch payload {
        case .images(let p): return try runImages(p)
        case .texts(let t): return try runTexts(t)
        case .call(let f): return try f()
        }
    }
}

/// The model side of the server: the inference queue over a ``CLIP`` plus a small pool of image
/// decoding threads.
final class InferenceEngine: Sendable {
    let clip: CLIP
    let queue: InferenceQueue
    let decoder: ImageDecoder
    private let decodePool: OperationQueue

    init(clip: CLIP, configuration: ServerConfiguration) {
        self.clip = clip
        queue = InferenceQueue(
            batching: configuration.batching, maxBatch: configuration.maxBatch, maxQueue: configuration.maxQueue,
            batchWait: configuration.batchWait,
            runImages: { pixels in
                defer { MemoryTrim.afterLargeWork() }
                return try clip.imageEmbeddings(pixelValues: pixels).rows
            },
            runTexts: { texts in try clip.textEmbeddings(texts).rows })
        decoder = ImageDecoder(maxPixels: configuration.maxImagePixels, maxBytes: max(configuration.maxBodyBytes, configuration.remoteMaxBytes))
        let q = OperationQueue()
        q.name = "clip-decode"
        q.maxConcurrentOperationCount = configuration.decodeThreads > 0
            ? configuration.decodeThreads : max(1, ProcessInfo.processInfo.activeProcessorCount)
        decodePool = q
    }

    /// Runs CPU work (JSON parsing of large bodies, base64, image decoding) on the decode pool, off the NIO event
    /// loops and the Swift concurrency pool.
    func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { cont in
            decodePool.addOperation { cont.resume(with: Result { try body() }) }
        }
    }

    /// Decodes and preprocesses an encoded image: (3, S, S) float32, as the library feeds the vision tower.
    func pixelValues(_ bytes: [UInt8], budget: PixelBudget? = nil) throws -> [Float] {
        if let budget {
            let (w, h) = try decoder.dimensions(bytes)
            try budget.take(max(0, w) * max(0, h))
        }
        return clip.model.vision.preprocess(try decoder.decode(bytes))
    }

    func shutdown() { queue.close() }
}

/// The decoded pixels one request may claim across all its images, taken from each image's header before it decodes.
final class PixelBudget: Sendable {
    let limit: Int
    private let used = Mutex(0)

    init(limit: Int) { self.limit = limit }

    func take(_ pixels: Int) throws {
        let total = used.withLock { u -> Int in
            u += pixels
            return u
        }
        guard total <= limit else {
            throw APIError.tooLarge(
                "the images of this request declare more than \(limit) pixels in all (--max-request-pixels)",
                code: "image_too_large")
        }
    }
}

/// Hands freed heap back to the system after image batches (glibc keeps it in its arenas otherwise: +286 MB of RSS
/// stayed after a load test, 70 MB of it returned by one malloc_trim), at most once every two seconds.
enum MemoryTrim {
    private static let last = Mutex<ContinuousClock.Instant?>(nil)

    static func afterLargeWork() {
        let now = ContinuousClock.now
        let due = last.withLock { t -> Bool in
            if let t, t.duration(to: now) < .seconds(2) { return false }
            t = now
            return true
        }
        if due { _ = clip_malloc_trim() }
    }
}
