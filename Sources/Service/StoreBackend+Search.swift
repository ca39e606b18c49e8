import Foundation
import Search
import Store
import Workflows

extension StoreBackend {
    /// Largest `k` a search may ask for: answers carry a catalog row per hit.
    public static let maxK = 1_000
    /// Largest HNSW candidate list a search may ask for.
    public static let maxEF = 10_000

    /// Checks the request's limits, makes the query (an upload is coded here), and asks
    /// Workflows' `CollectionSearch`, which owns the indexes.
    public func search(collection name: String, query: SearchQuery) throws -> SearchResponse {
        guard (1...StoreBackend.maxK).contains(query.k) else {
            throw ServiceError.badRequest("k must be in 1...\(StoreBackend.maxK), got \(query.k)")
        }
        if let ef = query.ef, !(1...StoreBackend.maxEF).contains(ef) {
            throw ServiceError.badRequest("ef must be in 1...\(StoreBackend.maxEF), got \(ef)")
        }
        let metric = try StoreBackend.metric(named: query.metric)
        let target: Workflows.SearchQuery
        switch query.target {
        case let .id(id):
            target = .id(id)
        case let .vector(values):
            guard values.allSatisfy(\.isFinite) else { throw ServiceError.badRequest("vector has non-finite values") }
            target = .vector(values)
        case let .image(upload):
            target = .vector(try code(of: upload, for: try store.requireCollection(name)).code)
        }
        let options = SearchOptions(k: query.k, metric: metric, filter: ImageFilter(label: query.label, split: query.split),
                                    exact: query.exact, ef: query.ef)
        let answer = try searcher.search(collection: name, query: target, options: options)
        return SearchResponse(
            collection: name, metric: metric.rawValue, method: answer.method.rawValue, k: query.k,
            queryID: answer.queryID, searched: answer.searched,
            hits: answer.results.map { SearchHitInfo(id: $0.id, score: $0.score, label: $0.label, split: $0.split, path: $0.path) })
    }

    /// `cosine`, `ip` (inner product) or `l2` (squared Euclidean distance).
    static func metric(named name: String) throws -> Metric {
        guard let metric = Metric(rawValue: name) else {
            throw ServiceError.badRequest("unknown metric '\(name)': use cosine, ip or l2")
        }
        return metric
    }
}
