// Fork-join for kernels on persistent threads: a job is split into parts that the threads (the caller included)
// claim one at a time from a shared counter, so a thread on a busier core simply takes fewer parts. Workers spin
// briefly between jobs (a forward pass posts one every few microseconds), then park, so an idle model costs no CPU.

import CCPUFeatures
import Dispatch
import Foundation
import Synchronization

/// A fixed set of threads that run the parts of one job at a time, the caller among them.
///
/// `run` is safe to call from any thread: when another job holds the pool (two models used at once, or a call
/// from inside a part), the new job runs on the calling thread alone, so nothing deadlocks.
package final class WorkerPool: Sendable {
    /// The threads a job is spread over, the caller included.
    package let threads: Int
    private let shared: Shared

    /// State the worker threads share with the pool (the pool itself is not retained by its threads).
    private final class Shared: @unchecked Sendable {
        let generation = Atomic<Int>(0)
        /// The next unclaimed part of the current job.
        let next = Atomic<Int>(0)
        let pending = Atomic<Int>(0)
        let stopping = Atomic<Bool>(false)
        let busy = Atomic<Bool>(false)
        let workers: [Worker]
        /// Where the job's caller parks when its join outlasts a short spin (see ``Worker``).
        let caller = Worker()
        /// The current job; written before `generation` is bumped, read by workers after they see the bump.
        var job: ((Int) -> Void)?
        var parts = 0
        let threads: Int

        init(workers: Int, threads: Int) {
            self.workers = (0..<workers).map { _ in Worker() }
            self.threads = threads
        }
    }

    /// One worker's parking place.
    private final class Worker: Sendable {
        /// 1 while the worker is parked (or about to park) on its semaphore, else 0.
        let parked = Atomic<Int>(0)
        let wake = DispatchSemaphore(value: 0)

        /// Wakes the worker if it is parked.
        func unpark() {
            if parked.compareExchange(expected: 1, desired: 0, ordering: .sequentiallyConsistent).exchanged { wake.signal() }
        }
    }

    /// Spins between jobs before parking: about 60 µs of PAUSE instructions (~30 ns each on Zen 3).
    private static let spinLimit = 2_000
    /// Spins of a job's caller waiting for the workers before it parks: about 0.6 ms (PAUSE is ~30 ns on Zen 3).
    private static let joinSpinLimit = 20_000

    /// A pool of `threads` threads (`threads − 1` workers plus the caller).
    package init(threads: Int) {
        let n = max(1, threads)
        self.threads = n
        shared = Shared(workers: n - 1, threads: n)
        for w in 0..<(n - 1) {
            let state = shared
            let thread = Thread { WorkerPool.work(state, worker: w) }
            thread.name = "clip-kernel-\(w + 1)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    deinit {
        shared.stopping.store(true, ordering: .sequentiallyConsistent)
        shared.generation.add(1, ordering: .sequentiallyConsistent)
        for worker in shared.workers { worker.unpark() }
    }

    /// One pool per thread count, shared by every model in the process.
    package static func shared(threads: Int) -> WorkerPool {
        pools.withLock { pools in
            if let p = pools[threads] { return p }
            let p = WorkerPool(threads: threads)
            pools[threads] = p
            return p
        }
    }
    private static let pools = Mutex<[Int: WorkerPool]>([:])

    /// `0..<count` cut into ranges that shrink as the work runs out (guided scheduling): each is about
    /// 1 / (2 · threads) of what remains, at least `minimum`. Claimed in order, the big ranges go first and the
    /// last ones are small, so the threads finish together (with equal parts, a thread that finished its last part
    /// waited on average half a part, 6 % of an image batch at 8 parts).
    ///
    /// ```swift
    /// let ranges = pool.guidedRanges(96)    // 2 threads: 0..<24, 24..<42, 42..<56, …, 95..<96
    /// pool.run(ranges.count) { part in work(ranges[part]) }
    /// ```
    package func guidedRanges(_ count: Int, minimum: Int = 1) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start = 0
        while start < count {
            let remaining = count - start
            let size = min(remaining, max(minimum, (remaining + 2 * threads - 1) / (2 * threads)))
            ranges.append(start..<(start + size))
            start += size
        }
        return ranges
    }

    /// Runs `body(i)` for `i` in `0..<parts` and returns when all have finished. Each part runs once, on whichever
    /// thread claims it; the parts must write disjoint memory. Several parts per thread balance the load when one
    /// core is slower (another process on it).
    package func run(_ parts: Int, _ body: (Int) -> Void) {
        if parts <= 1 || threads == 1
            || !shared.busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            for i in 0..<parts { body(i) }
            return
        }
        defer { shared.busy.store(false, ordering: .releasing) }
        withoutActuallyEscaping(body) { body in
            let s = shared
            s.job = body
            s.parts = parts
            s.next.store(0, ordering: .relaxed)
            s.pending.store(threads - 1, ordering: .relaxed)
            s.generation.add(1, ordering: .sequentiallyConsistent)
            for worker in s.workers { worker.unpark() }
            let profiling = Profiler.shared.isEnabled
            let busyStart = profiling ? DispatchTime.now().uptimeNanoseconds : 0
            while true {
                let i = s.next.wrappingAdd(1, ordering: .relaxed).oldValue
                if i >= parts { break }
                body(i)
            }
            let waitStart = profiling ? DispatchTime.now().uptimeNanoseconds : 0
            if profiling { Profiler.shared.addBusy(nanoseconds: Int(waitStart - busyStart), worker: false) }
            defer {
                if profiling {
                    Profiler.shared.addJoinWait(nanoseconds: Int(DispatchTime.now().uptimeNanoseconds - waitStart))
                }
            }
            // Spin (a join usually takes microseconds, at most a part's length), then park: a worker still busy
            // after ~0.6 ms has lost its core (more runnable threads than cores: OpenBLAS's or the weight warmer's
            // at start-up, another process), and an idle core is what the scheduler moves it to.
            var spins = 0
            while s.pending.load(ordering: .acquiring) > 0 {
                if spins < WorkerPool.joinSpinLimit {
                    clip_cpu_relax()
                    spins += 1
                } else {
                    s.caller.parked.store(1, ordering: .sequentiallyConsistent)
                    if s.pending.load(ordering: .sequentiallyConsistent) == 0,
                       s.caller.parked.compareExchange(expected: 1, desired: 0, ordering: .sequentiallyConsistent).exchanged {
                        // The last worker finished before anyone signalled.
                    } else {
                        s.caller.wake.wait()
                    }
                }
            }
            s.job = nil
        }
    }

    private static func work(_ s: Shared, worker w: Int) {
        let me = s.workers[w]
        var seen = 0
        while true {
            var spins = 0
            var g = s.generation.load(ordering: .acquiring)
            while g == seen {
                if spins < spinLimit {
                    clip_cpu_relax()
                    spins += 1
                } else {
                    // Park. Either this thread sees the new generation after announcing itself, or the poster sees
                    // the announcement and signals; when both happen, whoever wins the exchange decides.
                    me.parked.store(1, ordering: .sequentiallyConsistent)
                    if s.generation.load(ordering: .sequentiallyConsistent) != seen,
                       me.parked.compareExchange(expected: 1, desired: 0, ordering: .sequentiallyConsistent).exchanged {
                        // Un-parked ourselves before anyone signalled.
                    } else {
                        me.wake.wait()
                    }
                    spins = 0
                }
                g = s.generation.load(ordering: .acquiring)
            }
            seen = g
            if s.stopping.load(ordering: .acquiring) { return }
            if let job = s.job {
                let profiling = Profiler.shared.isEnabled
                let start = profiling ? DispatchTime.now().uptimeNanoseconds : 0
                while true {
                    let i = s.next.wrappingAdd(1, ordering: .relaxed).oldValue
                    if i >= s.parts { break }
                    job(i)
                }
                if profiling {
                    Profiler.shared.addBusy(nanoseconds: Int(DispatchTime.now().uptimeNanoseconds - start), worker: true)
                }
            }
            // The last worker to finish wakes the caller if it parked.
            if s.pending.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 { s.caller.unpark() }
        }
    }
}
