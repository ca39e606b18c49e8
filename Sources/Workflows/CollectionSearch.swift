import Foundation
import Search
import Store

/// What to search for.
public enum SearchQuery: Sendable {
    /// The stored code of an image of the collection.
    case id(Int64)
    /// A code given directly (its length must be the collection's dimension).
    case vector([Float])
}

/// One search result with the image's catalog metadata.
public struct SearchResult: Codable, Equatable, Sendable {
    public var rank: Int
    public var id: Int64
    public var score: Float
    public var path: String
    public var label: String?
    public var split: String?
}

/// Search options.
public struct SearchOptions: Sendable {
    public var k: Int
    public var metric: Metric
    public var filter: ImageFilter
    /// Force exact search even when an HNSW index exists.
    public var exact: Bool
    /// HNSW beam width (nil: the index's default).
    public var ef: Int?
    /// Leave the query image itself out of the results (for `.id` queries).
    public var excludeQuery: Bool

    public init(k: Int = 10, metric: Metric = .cosine, filter: ImageFilter = .all, exact: Bool = false,
                ef: Int? = nil, excludeQuery: Bool = false) {
        self.k = k
        self.metric = metric
        self.filter = filter
        self.exact = exact
        self.ef = ef
        self.excludeQuery = excludeQuery
    }
}

/// How a search was answered.
public enum SearchMethod: String, Codable, Sendable {
    /// Every (allowed) code was scored.
    case exact
    /// Through the collection's HNSW graph (approximate).
    case hnsw
}

/// The results of one search and how they were found.
public struct SearchAnswer: Sendable {
    public var collection: String
    public var metric: Metric
    public var method: SearchMethod
    /// The query image, for `.id` queries.
    public var queryID: Int64?
    /// How many codes the search ranked: the collection's codes, or those the filter allowed,
    /// less the query when it is excluded.
    public var searched: Int
    /// Best first.
    public var results: [SearchResult]
}

/// k-NN over the collections of a store: exact (blocked GEMM over every code) or through a
/// collection's HNSW index when one was built (`cnncodes index`). Used by the CLI's `search`
/// (one query) and by the service (many concurrent queries), so it is thread-safe and keeps
/// its indexes between searches.
///
/// Indexes are made on first use per (collection, metric, exact/HNSW) and kept. The HNSW
/// index of a collection lives at `indexURL(collection, metric)` (by default
/// `<store>/indexes/<collection>.<metric>.hnsw`); it is reloaded when the file's
/// modification date changes (a rebuilt index), and a file whose metric or dimension does
/// not fit is skipped (exact search answers). Every search first brings its index up to the
/// collection's stored codes when the collection's count changed since the last one: codes
/// committed after the index was built or loaded (a running extraction, an ingestion) are
/// searched by the next query after their commit, and codes no longer in the collection
/// leave the index.
///
/// Locking: `lock` guards `indexes`, `unusableFiles` and `indexFiles`; loading a file or creating an
/// index happens under it, so two first searches do not both load one (the second waits).
/// Each index has its own readers-writer lock (`CollectionIndex`): searches share it,
/// bringing it up to date excludes them.
public final class CollectionSearch: @unchecked Sendable {
    public let store: FeatureStore
    private let indexURL: @Sendable (String, Metric) -> URL
    private let report: @Sendable (String) -> Void
    private let lock = NSLock()
    private var indexes: [IndexKey: CachedIndex] = [:]
    /// HNSW files whose metric or dimension did not fit, by path, with the file date (so a
    /// mismatching file is read once, not on every search).
    private var unusableFiles: [String: UnusableFile] = [:]
    /// `indexURL` per (collection, metric): asked on every search, and building a URL costs
    /// ~2% of a search-by-id request (perf, 100k codes, HNSW).
    private var indexFiles: [IndexKey: URL] = [:]

    private struct IndexKey: Hashable {
        var collection: String
        var metric: Metric
        var hnsw: Bool
    }

    private struct CachedIndex {
        var index: CollectionIndex
        /// Modification date of the HNSW file it was loaded from (nil: exact).
        var fileDate: Date?
    }

    private struct UnusableFile {
        var date: Date
        var metric: Metric
        var dim: Int
    }

    /// - Parameters:
    ///   - indexURL: where the HNSW file of a collection for a metric is (default
    ///     `CollectionSearch.indexURL(store:collection:metric:)`, where `cnncodes index` writes).
    ///   - report: receives one line per index loaded, built or brought up to date (the
    ///     service logs them; the CLI ignores them).
    public init(store: FeatureStore, indexURL: (@Sendable (String, Metric) -> URL)? = nil,
                report: @escaping @Sendable (String) -> Void = { _ in }) {
        self.store = store
        self.indexURL = indexURL ?? { CollectionSearch.indexURL(store: store, collection: $0, metric: $1) }
        self.report = report
    }

    /// The k nearest codes of `collection` to `query`, best first, with catalog metadata.
    ///
    /// Throws `StoreError.unknownCollection`, `WorkflowError.unknownImage` (an `.id` without
    /// a code in the collection), `WorkflowError.vectorLength`, or Search's errors (k < 1).
    public func search(collection name: String, query: SearchQuery, options: SearchOptions) throws -> SearchAnswer {
        let record = try store.requireCollection(name)
        let vector: [Float]
        var queryID: Int64? = nil
        switch query {
        case let .id(id):
            guard let code = try store.code(name, id: id) else {
                throw WorkflowError.unknownImage(collection: name, id: id)
            }
            vector = code
            queryID = id
        case let .vector(values):
            guard values.count == record.dim else {
                throw WorkflowError.vectorLength(collection: name, expected: record.dim, got: values.count)
            }
            vector = values
        }
        let allowed: Set<Int64>? = options.filter == .all
            ? nil : Set(try store.imageIDs(collection: name, filter: options.filter))
        let index = try self.index(for: record, metric: options.metric, exact: options.exact)
        try index.synchronize(with: record, store: store, report: report)
        let (hits, searched) = try index.search(query: vector, k: options.k, ef: options.ef, allowed: allowed,
                                                excluding: options.excludeQuery ? queryID : nil)
        let rows = Dictionary(try store.images(ids: hits.map(\.id)).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let results = hits.enumerated().map { rank, hit in
            let row = rows[hit.id]
            return SearchResult(rank: rank + 1, id: hit.id, score: hit.score, path: row?.path ?? "",
                                label: row?.label, split: row?.split)
        }
        return SearchAnswer(collection: name, metric: options.metric, method: index.method, queryID: queryID,
                            searched: searched, results: results)
    }

    /// The metrics for which an HNSW file exists for `collection`.
    public func hnswMetrics(collection: String) -> [Metric] {
        Metric.allCases.filter { FileManager.default.fileExists(atPath: indexURL(collection, $0).path) }
    }

    // MARK: The index cache

    /// The index answering `metric` queries on `record`: its HNSW graph when one fits and
    /// `exact` is not asked, else the exact index. Not yet synchronized with the store.
    private func index(for record: CollectionRecord, metric: Metric, exact: Bool) throws -> CollectionIndex {
        lock.lock()
        defer { lock.unlock() }
        if !exact, let graph = try hnswIndex(for: record, metric: metric) { return graph }
        let key = IndexKey(collection: record.name, metric: metric, hnsw: false)
        if let cached = indexes[key] { return cached.index }
        // A float16 collection is searched from float16 rows, widened block by block inside
        // the scan (Search's float16 storage): half the memory, scores of the stored values.
        let scalarType: ScalarType = record.provenance.dtype == .f16 ? .float16 : .float32
        let index = CollectionIndex(collection: record.name, metric: metric,
                                    backing: .exact(try ExactIndex(dim: record.dim, metric: metric, scalarType: scalarType)))
        indexes[key] = CachedIndex(index: index, fileDate: nil)
        return index
    }

    /// The HNSW index of `record` for `metric` when its file exists and fits; loaded on first
    /// use and again when the file's modification date changes. Caller holds `lock`.
    private func hnswIndex(for record: CollectionRecord, metric: Metric) throws -> CollectionIndex? {
        let key = IndexKey(collection: record.name, metric: metric, hnsw: true)
        let url = indexFiles[key] ?? indexURL(record.name, metric)
        indexFiles[key] = url
        guard let date = Self.modificationDate(of: url) else { return nil }
        if let cached = indexes[key], cached.fileDate == date { return cached.index }
        if let unusable = unusableFiles[url.path], unusable.date == date,
           unusable.metric != metric || unusable.dim != record.dim {
            return nil
        }
        let started = Date()
        let graph = try HNSWIndex.load(from: url)
        guard graph.metric == metric, graph.dim == record.dim else {
            unusableFiles[url.path] = UnusableFile(date: date, metric: graph.metric, dim: graph.dim)
            report("HNSW index \(url.path) is \(graph.metric.rawValue), \(graph.dim)-d: '\(record.name)' (\(record.dim)-d) "
                   + "queries by \(metric.rawValue) use exact search; rebuild it with `cnncodes index`")
            return nil
        }
        report("loaded HNSW index \(url.path): \(graph.count) elements in \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
        let index = CollectionIndex(collection: record.name, metric: metric, backing: .hnsw(graph))
        indexes[key] = CachedIndex(index: index, fileDate: date)
        return index
    }

    /// The file's modification time from one `stat` (nil: no such file). Asked on every
    /// search, so it avoids FileManager's attribute dictionary.
    static func modificationDate(of url: URL) -> Date? {
        var info = stat()
        guard stat(url.path, &info) == 0 else { return nil }
        #if canImport(Darwin)
        let time = info.st_mtimespec
        #else
        let time = info.st_mtim
        #endif
        return Date(timeIntervalSince1970: Double(time.tv_sec) + Double(time.tv_nsec) / 1e9)
    }
}
