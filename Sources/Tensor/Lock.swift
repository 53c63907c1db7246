// A minimal pthread mutex wrapper for the few places that share mutable state across threads.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A non-recursive mutex.
///
/// ```swift
/// let lock = Lock()
/// let value = lock.withLock { counter += 1; return counter }
/// ```
public final class Lock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` while holding the lock.
    @inlinable
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lockMutex()
        defer { unlockMutex() }
        return try body()
    }

    @usableFromInline func lockMutex() { pthread_mutex_lock(mutex) }
    @usableFromInline func unlockMutex() { pthread_mutex_unlock(mutex) }
}
