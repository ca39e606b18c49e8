import Foundation
import Search
import Store

/// The search index of one collection for one metric, kept in step with the store.
///
/// An HNSW graph (loaded from the collection's index file) or an exact index over every
/// code. `synchronize` brings it up to the collection's stored codes: new codes (an
/// extraction or an ingestion committed them after the index was built or loaded) are
/// added, codes whose image left the collection are removed (exact) or marked deleted (HNSW,
/// where they still route searches).
///
/// Locking: `lock` guards the index, `liveIDs` and `syncedCount`. Searches hold it for
/// reading (both indexes allow concurrent searches); `synchronize` holds it for writing,
/// because adding to an index must not run beside anything else (Search's contract).
final class CollectionIndex: @unchecked Sendable {
    enum Backing {
        case exact(ExactIndex)
        case hnsw(HNSWIndex)
    }

    let collection: String
    let metric: Metric
    let backing: Backing
    private let lock = ReadWriteLock()
    /// Ids of the collection's stored codes (done marks) at the last synchronization.
    private var liveIDs: Set<Int64> = []
    /// The collection's `count` at the last synchronization (-1: never); a different count
    /// means the store changed, and triggers the next synchronization.
    private var syncedCount = -1

    init(collection: String, metric: Metric, backing: Backing) {
        self.collection = collection
        self.metric = metric
        self.backing = backing
    }

    var method: SearchMethod {
        switch backing {
        case .exact: return .exact
        case .hnsw: return .hnsw
        }
    }

    /// Brings the index up to the collection's stored codes when `record.count` differs from
    /// the count it was last synchronized at. Cheap when nothing changed (one compare under
    /// the read lock).
    func synchronize(with record: CollectionRecord, store: FeatureStore, report: (String) -> Void) throws {
        if lock.withReadLock({ syncedCount == record.count }) { return }
        try lock.withWriteLock {
            guard syncedCount != record.count else { return }  // another search did it
            let started = Date()
            let ids = try store.imageIDs(collection: collection)
            let current = Set(ids)
            let added = try addMissing(ids.filter { !contains($0) }, store: store)
            var removed = 0
            switch backing {
            case let .exact(index) where index.count != ids.count:
                for id in index.ids where !current.contains(id) {
                    try index.remove(id: id)
                    removed += 1
                }
            case let .hnsw(index) where index.liveCount != ids.count:
                for id in index.liveIDs where !current.contains(id) {
                    try index.markDeleted(id: id)
                    removed += 1
                }
            default:
                break
            }
            liveIDs = current
            let firstSync = syncedCount < 0
            syncedCount = record.count
            if firstSync || added > 0 || removed > 0 {
                let seconds = String(format: "%.2f", Date().timeIntervalSince(started))
                report("index of '\(collection)' (\(metric.rawValue), \(method.rawValue)) synchronized: \(ids.count) codes, +\(added) −\(removed) in \(seconds) s")
            }
        }
    }

    /// Reads the codes of `missing` and adds them; returns how many were added (a code can
    /// vanish between the catalog read and the code read). Caller holds the write lock.
    private func addMissing(_ missing: [Int64], store: FeatureStore) throws -> Int {
        guard !missing.isEmpty else { return 0 }
        var newIDs: [Int64] = []
        var vectors: [Float] = []
        // One cursor scan beats thousands of point reads; for a few new codes, point reads
        // avoid copying the whole collection.
        let fullReadThreshold = 2_000
        if missing.count > fullReadThreshold {
            let all = try store.codes(collection)
            let wanted = Set(missing)
            vectors.reserveCapacity(missing.count * all.dim)
            for (row, id) in all.ids.enumerated() where wanted.contains(id) {
                newIDs.append(id)
                vectors.append(contentsOf: all.values[(row * all.dim)..<((row + 1) * all.dim)])
            }
        } else {
            for id in missing {
                guard let code = try store.code(collection, id: id) else { continue }
                newIDs.append(id)
                vectors.append(contentsOf: code)
            }
        }
        guard !newIDs.isEmpty else { return 0 }
        switch backing {
        case let .exact(index): try index.add(ids: newIDs, vectors: vectors)
        case let .hnsw(index): try index.add(ids: newIDs, vectors: vectors)
        }
        return newIDs.count
    }

    private func contains(_ id: Int64) -> Bool {
        switch backing {
        case let .exact(index): return index.contains(id: id)
        case let .hnsw(index): return index.contains(id: id)
        }
    }

    /// The `k` best hits (best first) among the codes `allowed` (nil: all) other than
    /// `excluded`, and how many codes that leaves.
    func search(query: [Float], k: Int, ef: Int?, allowed: Set<Int64>?,
                excluding excluded: Int64?) throws -> (hits: [SearchHit], searched: Int) {
        try lock.withReadLock {
            var allowed = allowed
            var searched = allowed?.count ?? liveIDs.count
            // Without a filter, the excluded id is dropped from k + 1 hits rather than by a
            // filter of every other id (which would cost a set of the whole collection).
            var extra = 0
            if let excluded {
                if allowed != nil {
                    if allowed!.remove(excluded) != nil { searched -= 1 }
                } else if liveIDs.contains(excluded) {
                    searched -= 1
                    extra = 1
                }
            }
            let filter = allowed.map { SearchFilter.ids($0) }
            var hits: [SearchHit]
            switch backing {
            case let .exact(index):
                hits = try index.search(query: query, k: k + extra, filter: filter)
            case let .hnsw(index):
                hits = try index.search(query: query, k: k + extra, ef: ef, filter: filter)
            }
            if extra > 0 {
                hits.removeAll { $0.id == excluded }
                if hits.count > k { hits.removeLast(hits.count - k) }
            }
            return (hits, searched)
        }
    }
}

/// A pthread readers-writer lock: many readers or one writer.
///
/// Searches (readers, concurrent by the indexes' contract) must exclude the mutations that
/// keep an index in step with its collection (writers).
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
