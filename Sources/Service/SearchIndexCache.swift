import Foundation
import Logging
import Search
import Store

/// The search indexes of a store, built on first use and kept per (collection, metric).
///
/// An HNSW file for a collection and metric (where `hnswPath` says; by default Workflows'
/// `<store>/indexes/<collection>.<metric>.hnsw`, written by `cnncodes index`) is used unless
/// `exact` is requested; it is reloaded when the file changes (a rebuilt
/// index). Otherwise an exact index is built from the codes. Every lookup synchronizes the
/// index with the collection's current count, so codes committed by a running extraction
/// are searched by the next request after their commit.
final class SearchIndexCache: @unchecked Sendable {
    struct Key: Hashable {
        var collection: String
        var metric: Metric
        var hnsw: Bool
    }

    private struct Entry {
        var index: CollectionIndex
        /// Modification date of the HNSW file the index was loaded from (nil: exact).
        var fileDate: Date?
    }

    private let store: FeatureStore
    private let hnswPath: (String, Metric) -> URL
    private let logger: Logger
    /// Guards `entries` only. Loading or building an index happens under it too, so two
    /// first requests for one collection do not both build it (the second waits).
    private let lock = NSLock()
    private var entries: [Key: Entry] = [:]

    init(store: FeatureStore, hnswPath: @escaping (String, Metric) -> URL, logger: Logger) {
        self.store = store
        self.hnswPath = hnswPath
        self.logger = logger
    }

    /// The metrics for which an HNSW file exists for `collection`.
    func hnswMetrics(_ collection: String) -> [Metric] {
        Metric.allCases.filter { FileManager.default.fileExists(atPath: hnswPath(collection, $0).path) }
    }

    /// The index to answer a query on `record` with `metric`, synchronized with the store.
    func index(for record: CollectionRecord, metric: Metric, exact: Bool) throws -> CollectionIndex {
        let index = try lookUp(record: record, metric: metric, exact: exact)
        try index.synchronize(with: record, store: store, logger: logger)
        return index
    }

    private func lookUp(record: CollectionRecord, metric: Metric, exact: Bool) throws -> CollectionIndex {
        lock.lock()
        defer { lock.unlock() }
        if !exact, let graph = try hnswIndex(for: record, metric: metric) {
            return graph
        }
        let key = Key(collection: record.name, metric: metric, hnsw: false)
        if let entry = entries[key] { return entry.index }
        let exactIndex = try ExactIndex(dim: record.dim, metric: metric)
        let index = CollectionIndex(collection: record.name, metric: metric, backing: .exact(exactIndex))
        entries[key] = Entry(index: index, fileDate: nil)
        return index
    }

    /// HNSW files whose metric or dimension did not fit a request, by path, with the file
    /// date (so a mismatching file is read once, not on every request).
    private var unusableFiles: [String: (date: Date, metric: Metric, dim: Int)] = [:]

    /// The HNSW index of `record` for `metric` when its file exists and fits; loads it on
    /// first use and again when the file's modification date changes (a rebuilt index).
    private func hnswIndex(for record: CollectionRecord, metric: Metric) throws -> CollectionIndex? {
        let url = hnswPath(record.name, metric)
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
              let date = attributes[.modificationDate] as? Date else { return nil }
        let key = Key(collection: record.name, metric: metric, hnsw: true)
        if let entry = entries[key], entry.fileDate == date { return entry.index }
        if let unusable = unusableFiles[url.path], unusable.date == date,
           unusable.metric != metric || unusable.dim != record.dim {
            return nil
        }
        let started = Date()
        let graph = try HNSWIndex.load(from: url)
        guard graph.metric == metric, graph.dim == record.dim else {
            unusableFiles[url.path] = (date, graph.metric, graph.dim)
            logger.info("HNSW index \(url.path) is \(graph.metric.rawValue), \(graph.dim)-d: '\(record.name)' queries with \(metric.rawValue) use exact search")
            return nil
        }
        logger.info("loaded HNSW index \(url.path): \(graph.count) elements in \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
        let index = CollectionIndex(collection: record.name, metric: metric, backing: .hnsw(graph))
        entries[key] = Entry(index: index, fileDate: date)
        return index
    }
}
