// Per-operation timing for `clip-bench --profile`: off by default, when it costs one relaxed atomic load per op.
// (op kind, layer) -> total seconds and calls; plus the time callers wait for the pool's other threads.

import Dispatch
import Synchronization

/// The steps of a forward pass that the profiler tells apart.
package enum ProfiledOp: String, CaseIterable, Sendable {
    case embeddings
    case layerNorm = "layer_norm"
    case qkv
    case attention
    case outProj = "out_proj+residual"
    case fc1 = "fc1+activation"
    case fc2 = "fc2+residual"
    case projection
}

/// Process-wide profile of forward passes (bench use: concurrent passes would mix their times).
package final class Profiler: Sendable {
    package static let shared = Profiler()

    package struct Key: Hashable, Sendable {
        package let op: ProfiledOp
        package let layer: Int
        package init(op: ProfiledOp, layer: Int) { self.op = op; self.layer = layer }
    }

    private let on = Atomic<Bool>(false)
    private let totals = Mutex<[Key: (seconds: Double, calls: Int)]>([:])
    private let joinWait = Atomic<Int>(0)
    private let callerBusy = Atomic<Int>(0)
    private let workerBusy = Atomic<Int>(0)

    package var isEnabled: Bool { on.load(ordering: .relaxed) }

    /// Starts (or stops) collecting, clearing what was collected.
    package func enable(_ flag: Bool) {
        totals.withLock { $0 = [:] }
        joinWait.store(0, ordering: .relaxed)
        callerBusy.store(0, ordering: .relaxed)
        workerBusy.store(0, ordering: .relaxed)
        on.store(flag, ordering: .relaxed)
    }

    /// Runs `body`, adding its wall time to `(op, layer)` when enabled. Layer −1 means "outside the encoder".
    @inline(__always)
    package func measure<T>(_ op: ProfiledOp, layer: Int = -1, _ body: () throws -> T) rethrows -> T {
        guard on.load(ordering: .relaxed) else { return try body() }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let result = try body()
        let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        totals.withLock { t in
            let key = Key(op: op, layer: layer)
            let old = t[key] ?? (0, 0)
            t[key] = (old.seconds + dt, old.calls + 1)
        }
        return result
    }

    /// Adds time a caller spent waiting for the pool's other threads to finish their parts.
    package func addJoinWait(nanoseconds: Int) {
        joinWait.add(nanoseconds, ordering: .relaxed)
    }

    /// Adds time spent running parts of pool jobs, on the calling thread or on a worker.
    package func addBusy(nanoseconds: Int, worker: Bool) {
        if worker {
            workerBusy.add(nanoseconds, ordering: .relaxed)
        } else {
            callerBusy.add(nanoseconds, ordering: .relaxed)
        }
    }

    /// What was collected since ``enable(_:)``: per-op totals, the callers' join waits, and the time the callers
    /// and the workers spent running parts of pool jobs (a balanced split gives equal busy times).
    package func snapshot() -> (ops: [Key: (seconds: Double, calls: Int)], joinWaitSeconds: Double,
                                callerBusySeconds: Double, workerBusySeconds: Double) {
        (totals.withLock { $0 }, Double(joinWait.load(ordering: .relaxed)) / 1e9,
         Double(callerBusy.load(ordering: .relaxed)) / 1e9, Double(workerBusy.load(ordering: .relaxed)) / 1e9)
    }
}
