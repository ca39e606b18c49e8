import Foundation
import Search
import Store

extension CollectionSearch {
    /// Where the HNSW index of `collection` for `metric` is kept:
    /// `<store>/indexes/<collection>.<metric>.hnsw`.
    public static func indexURL(store: FeatureStore, collection: String, metric: Metric) -> URL {
        store.directory.appendingPathComponent("indexes", isDirectory: true)
            .appendingPathComponent("\(collection).\(metric.rawValue).hnsw")
    }

    /// Builds (or rebuilds) and saves the HNSW index of the collection. A running
    /// `CollectionSearch` picks the new file up at its next search (by its modification date).
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
}
