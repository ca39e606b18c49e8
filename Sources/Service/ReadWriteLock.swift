import Foundation

/// A pthread readers-writer lock: many readers or one writer.
///
/// Used where searches (readers, concurrent by the indexes' contract) must exclude the
/// mutations that keep an index in step with its collection (writers).
final class ReadWriteLock: @unchecked Sendable {
    // Heap-allocated: a pthread_rwlock_t must not move after init.
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>

    init() {
        lock = .allocate(capacity: 1)
        pthread_rwlock_init(lock, nil)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    func withReadLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    func withWriteLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
}
