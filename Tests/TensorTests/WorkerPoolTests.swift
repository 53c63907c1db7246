// The worker pool: every part runs exactly once whoever claims it, nested and concurrent jobs fall back to the
// calling thread instead of deadlocking, parked workers wake for the next job, and a parked caller wakes at the join.

import Foundation
import Synchronization
import Testing
import Tensor

/// A counter parts can bump from any thread.
final class Counter: Sendable {
    let value = Atomic<Int>(0)
    func bump() { value.add(1, ordering: .relaxed) }
    var count: Int { value.load(ordering: .relaxed) }
}

struct WorkerPoolTests {
    @Test("each part runs exactly once", arguments: [1, 2, 3, 5])
    func partsRunOnce(_ threads: Int) {
        let pool = WorkerPool(threads: threads)
        for parts in [0, 1, 2, 7, 64, 1000] {
            let counts = UnsafeMutablePointer<Int>.allocate(capacity: max(parts, 1))
            counts.initialize(repeating: 0, count: max(parts, 1))
            defer { counts.deallocate() }
            pool.run(parts) { counts[$0] += 1 }   // disjoint writes: part i touches counts[i] only
            #expect((0..<parts).allSatisfy { counts[$0] == 1 }, "threads \(threads), parts \(parts)")
        }
    }

    @Test("a job started inside a part runs on that thread, without deadlock")
    func nested() {
        let pool = WorkerPool(threads: 2)
        let total = Counter()
        pool.run(4) { _ in
            pool.run(3) { _ in total.bump() }
        }
        #expect(total.count == 12)
    }

    @Test("jobs from many threads at once all complete")
    func concurrentCallers() async {
        let pool = WorkerPool(threads: 2)
        let total = Counter()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<16 {
                group.addTask { for _ in 0..<50 { pool.run(8) { _ in total.bump() } } }
            }
        }
        #expect(total.count == 16 * 50 * 8)
    }

    @Test("parked workers wake for a later job")
    func wakesAfterParking() async throws {
        let pool = WorkerPool(threads: 2)
        let ran = Counter()
        pool.run(2) { _ in ran.bump() }
        try await Task.sleep(for: .milliseconds(50))   // far longer than the spin before parking
        pool.run(64) { _ in ran.bump() }
        #expect(ran.count == 66)
    }

    @Test("a caller that parks while a worker finishes a long part is woken, every part run once")
    func callerParksAndWakes() throws {
        let pool = WorkerPool(threads: 2)
        let caller = Thread.current
        var parked = 0
        for _ in 0..<20 {
            let ran = Counter()
            let workerPart = Counter()
            let t0 = ContinuousClock.now
            pool.run(4) { _ in
                // Parts on the worker take 3 ms, far past the caller's ~0.6 ms spin, so it parks until woken.
                if Thread.current != caller {
                    workerPart.bump()
                    usleep(3_000)
                }
                ran.bump()
            }
            #expect(ran.count == 4)
            if workerPart.count > 0 {
                parked += 1
                #expect(ContinuousClock.now - t0 >= .milliseconds(3))   // it waited for the worker's part
            }
        }
        // A worker that never claimed a part (descheduled for a whole job) leaves nothing to wait for; over 20
        // jobs it takes at least one.
        #expect(parked > 0)
    }

    @Test("guided ranges tile 0..<count in order, shrinking, each at least the minimum", arguments: [
        (1, 1, 1), (96, 2, 1), (24, 2, 1), (7, 4, 1), (100, 3, 4), (0, 2, 1),
    ])
    func guidedRanges(count: Int, threads: Int, minimum: Int) {
        let ranges = WorkerPool(threads: threads).guidedRanges(count, minimum: minimum)
        #expect(ranges.first?.lowerBound ?? 0 == 0)
        #expect(ranges.last?.upperBound ?? 0 == count)
        for (a, b) in zip(ranges, ranges.dropFirst()) {
            #expect(a.upperBound == b.lowerBound)
            #expect(a.count >= b.count)
        }
        // every range but a final remainder holds at least `minimum`; the first is 1 / (2·threads) of the work
        #expect(ranges.dropLast().allSatisfy { $0.count >= minimum })
        if count > 0 { #expect(ranges[0].count == max(minimum, (count + 2 * threads - 1) / (2 * threads))) }
        if count >= 2 * threads { #expect(ranges.count > 2 * threads) }
    }
}
