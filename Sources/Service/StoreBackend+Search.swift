import Foundation
import Search
import Store

extension StoreBackend {
    /// Largest `k` a search may ask for: answers carry a catalog row per hit.
    public static let maxK = 1_000
    /// Largest HNSW candidate list a search may ask for.
    public static let maxEF = 10_000

    public func search(collection name: String, query: SearchQuery) throws -> SearchResponse {
        let record = try store.requireCollection(name)
        guard (1...StoreBackend.maxK).contains(query.k) else {
            throw ServiceError.badRequest("k must be in 1...\(StoreBackend.maxK), got \(query.k)")
        }
        if let ef = query.ef, !(1...StoreBackend.maxEF).contains(ef) {
            throw ServiceError.badRequest("ef must be in 1...\(StoreBackend.maxEF), got \(ef)")
        }
        let metric = try StoreBackend.metric(named: query.metric)

        var queryID: Int64?
        let vector: [Float]
        switch query.target {
        case let .id(id):
            guard let code = try store.code(name, id: id) else {
                if try store.image(id: id) == nil { throw StoreError.unknownImage(id) }
                throw ServiceError.notFound("image \(id) has no code in collection '\(name)'")
            }
            queryID = id
            vector = code
        case let .vector(values):
            guard values.count == record.dim else {
                throw ServiceError.badRequest(
                    "vector has \(values.count) values; collection '\(name)' holds \(record.dim)-d codes")
            }
            guard values.allSatisfy(\.isFinite) else { throw ServiceError.badRequest("vector has non-finite values") }
            vector = values
        case let .image(upload):
            vector = try code(of: upload, for: record).code
        }

        let allowed: Set<Int64>? = (query.label == nil && query.split == nil)
            ? nil
            : Set(try store.imageIDs(collection: name, filter: ImageFilter(label: query.label, split: query.split)))
        let index = try indexes.index(for: record, metric: metric, exact: query.exact)
        let (hits, searched) = try index.search(query: vector, k: query.k, ef: query.ef, allowed: allowed)
        let rows = Dictionary(try store.images(ids: hits.map(\.id)).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        return SearchResponse(
            collection: name, metric: metric.rawValue, method: index.method, k: query.k, queryID: queryID,
            searched: searched,
            hits: hits.map { hit in
                let row = rows[hit.id]
                return SearchHitInfo(id: hit.id, score: hit.score, label: row?.label, split: row?.split, path: row?.path)
            })
    }

    /// `cosine`, `ip` (inner product) or `l2` (squared Euclidean distance).
    static func metric(named name: String) throws -> Metric {
        guard let metric = Metric(rawValue: name) else {
            throw ServiceError.badRequest("unknown metric '\(name)': use cosine, ip or l2")
        }
        return metric
    }
}
