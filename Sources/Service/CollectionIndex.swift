import Foundation
import Logging
import Search
import Store

/// The search index of one collection for one metric, kept in step with the store.
///
/// It is an HNSW graph when one was built for the collection (a file beside the store, with
/// the same metric), else an exact index over every code. `synchronize` brings it up to the
/// collection's current codes: new codes (an extraction or an ingestion committed them while
/// the server runs) are added, codes whose image was replaced are removed (exact) or marked
/// deleted (HNSW).
///
/// Locking: `lock` guards the index and `liveIDs`/`syncedCount`. Searches hold it for
/// reading (the indexes allow concurrent searches); `synchronize` holds it for writing,
/// because adding to an index must not run beside anything else (Search's contract).
final class CollectionIndex: @unchecked Sendable {
    enum Backing {
        case exact(ExactIndex)
        case hnsw(HNSWIndex)
    }

    let collection: String
    let metric: Metric
    private let lock = ReadWriteLock()
    private let backing: Backing
    /// Ids of the collection's stored codes (done marks) at the last synchronization.
    private var liveIDs: Set<Int64> = []
    /// The collection's `count` at the last synchronization; a different count means the
    /// store changed and triggers the next one.
    private(set) var syncedCount = -1

    init(collection: String, metric: Metric, backing: Backing) {
        self.collection = collection
        self.metric = metric
        self.backing = backing
    }

    var method: String {
        switch backing {
        case .exact: return "exact"
        case .hnsw: return "hnsw"
        }
    }

    /// Brings the index up to the collection's stored codes when `record.count` differs
    /// from the count it was last synchronized at. Cheap when nothing changed (one compare).
    func synchronize(with record: CollectionRecord, store: FeatureStore, logger: Logger) throws {
        if lock.withReadLock({ syncedCount == record.count }) { return }
        try lock.withWriteLock {
            guard syncedCount != record.count else { return }  // another request did it
            let started = Date()
            let ids = try store.imageIDs(collection: collection)
            let current = Set(ids)
            let missing = ids.filter { !contains($0) }
            var added = 0
            if !missing.isEmpty {
                // A full read (one cursor scan) beats thousands of point reads; for a few
                // new codes, point reads avoid copying the whole collection.
                let fullReadThreshold = 2_000
                if missing.count > fullReadThreshold {
                    let all = try store.codes(collection)
                    let wanted = Set(missing)
                    var newIDs: [Int64] = []
                    var vectors: [Float] = []
                    vectors.reserveCapacity(missing.count * all.dim)
                    for (row, id) in all.ids.enumerated() where wanted.contains(id) {
                        newIDs.append(id)
                        vectors.append(contentsOf: all.values[(row * all.dim)..<((row + 1) * all.dim)])
                    }
                    try add(ids: newIDs, vectors: vectors)
                    added = newIDs.count
                } else {
                    var newIDs: [Int64] = []
                    var vectors: [Float] = []
                    for id in missing {
                        guard let code = try store.code(collection, id: id) else { continue }
                        newIDs.append(id)
                        vectors.append(contentsOf: code)
                    }
                    try add(ids: newIDs, vectors: vectors)
                    added = newIDs.count
                }
            }
            // Codes no longer in the collection (a replaced image's old id) leave the index:
            // removed from an exact index, marked deleted in a graph (it still routes searches).
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
            let seconds = Date().timeIntervalSince(started)
            if firstSync || added > 0 || removed > 0 {
                logger.info("index of '\(collection)' (\(metric.rawValue), \(method)) synchronized: \(ids.count) codes, +\(added) −\(removed) in \(String(format: "%.2f", seconds)) s")
            }
        }
    }

    private func contains(_ id: Int64) -> Bool {
        switch backing {
        case let .exact(index): return index.contains(id: id)
        case let .hnsw(index): return index.contains(id: id)
        }
    }

    private func add(ids: [Int64], vectors: [Float]) throws {
        guard !ids.isEmpty else { return }
        switch backing {
        case let .exact(index): try index.add(ids: ids, vectors: vectors)
        case let .hnsw(index): try index.add(ids: ids, vectors: vectors)
        }
    }

    /// The `k` best hits (best first) and how many codes the filter allowed.
    func search(query: [Float], k: Int, ef: Int?, allowed: Set<Int64>?) throws -> (hits: [SearchHit], searched: Int) {
        try lock.withReadLock {
            let filter = allowed.map { SearchFilter.ids($0) }
            let searched = allowed?.count ?? liveIDs.count
            switch backing {
            case let .exact(index):
                return (try index.search(query: query, k: k, filter: filter), searched)
            case let .hnsw(index):
                return (try index.search(query: query, k: k, ef: ef, filter: filter), searched)
            }
        }
    }
}
