// Fork-join parallelism for kernels: run `body(0..<count)` on the Dispatch thread pool and wait.

import Dispatch

/// Wraps a value whose concurrent use the caller has made safe (disjoint writes, read-only shared data).
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
}

/// Runs `body(i)` for `i` in `0..<count` concurrently and returns when all are done. The caller guarantees the
/// iterations touch disjoint outputs.
///
/// ```swift
/// parallelFor(2) { part in /* half of the work */ }
/// ```
public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    if count <= 1 {
        for i in 0..<count { body(i) }
        return
    }
    withoutActuallyEscaping(body) { escapable in
        let box = UncheckedSendable(value: escapable)
        DispatchQueue.concurrentPerform(iterations: count) { box.value($0) }
    }
}
