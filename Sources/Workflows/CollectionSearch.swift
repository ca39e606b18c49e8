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

/// k-NN over a collection's codes: exact (blocked GEMM over every code) or through the
/// collection's HNSW index when one was built (`cnncodes index`).
///
/// The HNSW index lives at `<store>/indexes/<collection>.<metric>.hnsw`. Codes added to the
/// collection after the index was built are added to it on load (so they are searchable
/// without a rebuild); codes no longer in the collection are marked deleted.
public final class CollectionSearch {
    public let collection: CollectionRecord
    public let store: FeatureStore
    private var exactIndexes: [Metric: ExactIndex] = [:]
    private var hnswIndexes: [Metric: HNSWIndex] = [:]
    private var codes: CodeMatrix

    public init(store: FeatureStore, collection name: String) throws {
        self.store = store
        self.collection = try store.requireCollection(name)
        self.codes = try store.codes(name)
    }

    /// Where the HNSW index of `collection` for `metric` is kept.
    public static func indexURL(store: FeatureStore, collection: String, metric: Metric) -> URL {
        store.directory.appendingPathComponent("indexes", isDirectory: true)
            .appendingPathComponent("\(collection).\(metric.rawValue).hnsw")
    }

    /// Builds (or rebuilds) and saves the HNSW index of the collection.
    @discardableResult
    public static func buildIndex(store: FeatureStore, collection name: String, metric: Metric, m: Int = 16,
                                  efConstruction: Int = 200, threads: Int = 2) throws -> (index: HNSWIndex, url: URL) {
        let record = try store.requireCollection(name)
        let codes = try store.codes(name)
        let index = try HNSWIndex(dim: record.dim, metric: metric, m: m, efConstruction: efConstruction, threads: threads)
        index.reserve(codes.count)
        try index.add(ids: codes.ids, vectors: codes.values)
        let url = indexURL(store: store, collection: name, metric: metric)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try index.save(to: url)
        return (index, url)
    }

    /// Whether an HNSW index exists for `metric`.
    public func hasIndex(metric: Metric) -> Bool {
        FileManager.default.fileExists(atPath: Self.indexURL(store: store, collection: collection.name, metric: metric).path)
    }

    /// The k nearest codes to `query`, best first, with catalog metadata.
    public func search(_ query: SearchQuery, options: SearchOptions) throws -> [SearchResult] {
        let vector: [Float]
        var queryID: Int64? = nil
        switch query {
        case let .id(id):
            guard let code = try store.code(collection.name, id: id) else {
                throw WorkflowError.unknownImage(collection: collection.name, id: id)
            }
            vector = code
            queryID = id
        case let .vector(values):
            guard values.count == collection.dim else {
                throw WorkflowError.vectorLength(collection: collection.name, expected: collection.dim, got: values.count)
            }
            vector = values
        }
        var allowed: Set<Int64>? = nil
        if options.filter != .all {
            allowed = Set(try store.imageIDs(collection: collection.name, filter: options.filter))
        }
        if options.excludeQuery, let queryID {
            if allowed == nil { allowed = Set(codes.ids) }
            allowed!.remove(queryID)
        }
        let filter = allowed.map { SearchFilter.ids($0) }
        let hits: [SearchHit]
        if !options.exact, let index = try hnsw(metric: options.metric) {
            hits = try index.search(query: vector, k: options.k, ef: options.ef, filter: filter)
        } else {
            hits = try exact(metric: options.metric).search(query: vector, k: options.k, filter: filter)
        }
        let records = Dictionary(uniqueKeysWithValues: try store.images(ids: hits.map(\.id)).map { ($0.id, $0) })
        return hits.enumerated().map { rank, hit in
            let record = records[hit.id]
            return SearchResult(rank: rank + 1, id: hit.id, score: hit.score, path: record?.path ?? "",
                                label: record?.label, split: record?.split)
        }
    }

    private func exact(metric: Metric) throws -> ExactIndex {
        if let index = exactIndexes[metric] { return index }
        // A float16 collection is searched from float16 rows, widened block by block inside the
        // scan (Search's float16 storage), so scores are those of the stored values.
        let scalarType: ScalarType = collection.provenance.dtype == .f16 ? .float16 : .float32
        let index = try ExactIndex(dim: collection.dim, metric: metric, scalarType: scalarType)
        try index.add(ids: codes.ids, vectors: codes.values)
        exactIndexes[metric] = index
        return index
    }

    private func hnsw(metric: Metric) throws -> HNSWIndex? {
        if let index = hnswIndexes[metric] { return index }
        let url = Self.indexURL(store: store, collection: collection.name, metric: metric)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let index = try HNSWIndex.load(from: url)
        guard index.dim == collection.dim, index.metric == metric else {
            throw WorkflowError.indexStale(path: url.path, reason: "index of \(index.dim)-d \(index.metric.rawValue) vectors does not fit collection '\(collection.name)' (\(collection.dim)-d); rebuild it with `cnncodes index`")
        }
        // Bring the index in step with the collection: add new codes, drop removed ones.
        let current = Set(codes.ids)
        for row in 0..<codes.count where !index.contains(id: codes.ids[row]) {
            try index.add(id: codes.ids[row], vector: codes.row(row))
        }
        for id in index.liveIDs where !current.contains(id) { try index.markDeleted(id: id) }
        hnswIndexes[metric] = index
        return index
    }
}
