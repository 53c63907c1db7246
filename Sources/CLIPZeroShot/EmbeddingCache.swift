// A bounded, thread-safe LRU cache of normalised prompt embeddings keyed by the final prompt string.

import Synchronization

final class EmbeddingCache: Sendable {
    private struct State {
        var entries: [String: (value: [Float], stamp: UInt64)] = [:]
        var clock: UInt64 = 0
    }

    private let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) { self.capacity = max(0, capacity) }

    func get(_ key: String) -> [Float]? {
        state.withLock { s in
            guard var e = s.entries[key] else { return nil }
            s.clock += 1
            e.stamp = s.clock
            s.entries[key] = e
            return e.value
        }
    }

    func put(_ key: String, _ value: [Float]) {
        guard capacity > 0 else { return }
        state.withLock { s in
            s.clock += 1
            s.entries[key] = (value, s.clock)
            if s.entries.count > capacity {
                // Evict the least recently used eighth at once, so eviction cost is amortised.
                let victims = s.entries.sorted { $0.value.stamp < $1.value.stamp }.prefix(max(1, capacity / 8))
                for v in victims { s.entries.removeValue(forKey: v.key) }
            }
        }
    }

    var count: Int { state.withLock { $0.entries.count } }
}
