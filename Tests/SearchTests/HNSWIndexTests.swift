import Foundation
import TestSupport
import XCTest
@testable import Search

/// HNSW measured against exact search. The recall test uses 20,000 × 128 codes so the suite
/// stays quick; benchmarks/search measures 100,000 × 1280 (and 1,000,000 × 128) against
/// hnswlib on the same data.
final class HNSWIndexTests: XCTestCase {
    func recall(_ got: [[SearchHit]], _ truth: [[SearchHit]]) -> Double {
        var found = 0, total = 0
        for (g, t) in zip(got, truth) {
            found += Set(g.map(\.id)).intersection(t.map(\.id)).count
            total += t.count
        }
        return Double(found) / Double(max(1, total))
    }

    /// Queries near stored points, as search_peers.py makes them: a row plus 0.01·N(0,1).
    func queriesNear(_ base: [Float], dim: Int, count: Int, seed: UInt64) -> [Float] {
        var g = SeededGenerator(seed: seed)
        let n = base.count / dim
        var q = [Float]()
        for _ in 0..<count {
            let row = Int.random(in: 0..<n, using: &g)
            q += (0..<dim).map { base[row * dim + $0] + 0.01 * g.normal() }
        }
        return q
    }

    func testRecallAt10AtDefaultEfOnClusteredCodes() throws {
        let n = 20_000, dim = 128, k = 10
        let base = SyntheticData.clusteredCodes(n, dim, seed: 21)
        let ids = (0..<n).map { Int64($0) * 3 + 1 }
        let queries = queriesNear(base, dim: dim, count: 300, seed: 22)
        let exact = try ExactIndex(dim: dim, metric: .innerProduct)
        try exact.add(ids: ids, vectors: base)
        let truth = try exact.search(queries: queries, count: 300, k: k)

        let index = try HNSWIndex(dim: dim, metric: .innerProduct)  // M 16, efConstruction 200
        // Two adds: the second extends the graph incrementally, without a rebuild.
        let split = 15_000
        try index.add(ids: Array(ids[..<split]), vectors: Array(base[..<(split * dim)]))
        try index.add(ids: Array(ids[split...]), vectors: Array(base[(split * dim)...]))
        XCTAssertEqual(index.count, n)
        XCTAssertEqual(index.ef, 64)
        let got = try index.search(queries: queries, count: 300, k: k)
        let r = recall(got, truth)
        XCTAssertGreaterThanOrEqual(r, 0.95, "recall@10 at ef 64")
        // Scores are the true inner products of the ids returned.
        for (g, q) in zip(got.prefix(20), 0..<20) {
            for hit in g {
                let stored = try XCTUnwrap(exact.vector(id: hit.id))
                let dot = zip(stored, queries[(q * dim)..<((q + 1) * dim)]).reduce(Float(0)) { $0 + $1.0 * $1.1 }
                XCTAssertEqual(hit.score, dot, accuracy: 1e-4)
            }
        }
        // A single query agrees with the batched call.
        XCTAssertEqual(try index.search(query: Array(queries[0..<dim]), k: k), got[0])
    }

    func testEveryMetricReachesExactResultsAtLargeEf() throws {
        let n = 2_000, dim = 24, k = 10
        let base = SyntheticData.gaussian(n, dim, seed: 23)
        let ids = (0..<n).map { Int64($0) }
        let queries = SyntheticData.gaussian(50, dim, seed: 24)
        for metric in Metric.allCases {
            let exact = try ExactIndex(dim: dim, metric: metric)
            try exact.add(ids: ids, vectors: base)
            let truth = try exact.search(queries: queries, count: 50, k: k)
            // A sequential build is reproducible (fixed level seed), so this bound cannot flake
            // with thread timing; the parallel build's recall is covered by the other tests.
            let index = try HNSWIndex(dim: dim, metric: metric, m: 12, efConstruction: 200, threads: 1)
            try index.add(ids: ids, vectors: base)
            let got = try index.search(queries: queries, count: 50, k: k, ef: 400)
            XCTAssertGreaterThanOrEqual(recall(got, truth), 0.99, "\(metric)")
            for (g, t) in zip(got, truth) where g.map(\.id) == t.map(\.id) {
                for (a, b) in zip(g, t) { XCTAssertEqual(a.score, b.score, accuracy: 1e-4, "\(metric)") }
            }
        }
    }

    func testDeletedItemsAreNeverReturned() throws {
        let n = 3_000, dim = 16, k = 10
        let base = SyntheticData.gaussian(n, dim, seed: 25)
        let ids = (0..<n).map { Int64($0) }
        let index = try HNSWIndex(dim: dim, metric: .l2, m: 8, efConstruction: 64)
        try index.add(ids: ids, vectors: base)
        let removed = Set(ids.filter { $0 % 3 == 0 })
        for id in removed { try index.markDeleted(id: id) }
        XCTAssertEqual(index.liveCount, n - removed.count)
        XCTAssertFalse(index.contains(id: 0))
        // Query with the deleted vectors themselves: their own id would be the best hit.
        let queries = Array(base.prefix(300 * dim))
        let got = try index.search(queries: queries, count: 300, k: k, ef: 128)
        for hits in got { XCTAssertTrue(hits.allSatisfy { !removed.contains($0.id) }) ; XCTAssertEqual(hits.count, k) }
        let exact = try ExactIndex(dim: dim, metric: .l2)
        try exact.add(ids: ids, vectors: base)
        let truth = try exact.search(queries: queries, count: 300, k: k, filter: .predicate { !removed.contains($0) })
        XCTAssertGreaterThanOrEqual(recall(got, truth), 0.95)
        XCTAssertThrowsError(try index.markDeleted(id: 99_999)) { XCTAssertEqual($0 as? SearchError, .unknownID(99_999)) }
        XCTAssertThrowsError(try index.add(id: 3, vector: [Float](repeating: 0, count: dim))) {
            XCTAssertEqual($0 as? SearchError, .duplicateID(3))
        }
    }

    func testFilteredQueriesOnlyReturnAllowedIDs() throws {
        let n = 4_000, dim = 16, k = 10
        let base = SyntheticData.gaussian(n, dim, seed: 26)
        let ids = (0..<n).map { Int64($0) }
        let index = try HNSWIndex(dim: dim, metric: .cosine, m: 8, efConstruction: 64)
        try index.add(ids: ids, vectors: base)
        let exact = try ExactIndex(dim: dim, metric: .cosine)
        try exact.add(ids: ids, vectors: base)
        let queries = SyntheticData.gaussian(100, dim, seed: 27)

        // Half the ids: answered by the graph, the filter applied while traversing.
        let even: (Int64) -> Bool = { $0 % 2 == 0 }
        let graph = try index.search(queries: queries, count: 100, k: k, ef: 128, filter: .predicate(even))
        XCTAssertTrue(graph.allSatisfy { $0.count == k && $0.allSatisfy { even($0.id) } })
        let graphTruth = try exact.search(queries: queries, count: 100, k: k, filter: .predicate(even))
        XCTAssertGreaterThanOrEqual(recall(graph, graphTruth), 0.95)

        // 2% of the ids (an id set, and the same as a predicate): the exact fallback, equal to exact search.
        let few = Set(ids.filter { $0 % 50 == 7 })
        XCTAssertNotNil(index.exactFallbackCandidates(.ids(few)))
        XCTAssertNotNil(index.exactFallbackCandidates(.predicate { few.contains($0) }))
        XCTAssertNil(index.exactFallbackCandidates(.predicate(even)))
        let fewTruth = try exact.search(queries: queries, count: 100, k: k, filter: .ids(few))
        let fromSet = try index.search(queries: queries, count: 100, k: k, filter: .ids(few))
        let fromPredicate = try index.search(queries: queries, count: 100, k: k, filter: .predicate { few.contains($0) })
        XCTAssertEqual(fromSet.map { $0.map(\.id) }, fewTruth.map { $0.map(\.id) })
        XCTAssertEqual(fromPredicate, fromSet)
    }

    func testSaveAndLoadGiveIdenticalResults() throws {
        let n = 3_000, dim = 20, k = 10
        let base = SyntheticData.gaussian(n, dim, seed: 28)
        let ids = (0..<n).map { Int64($0) * 11 - 500 }
        let index = try HNSWIndex(dim: dim, metric: .innerProduct, m: 10, efConstruction: 80)
        try index.add(ids: ids, vectors: base)
        for id in ids.prefix(40) { try index.markDeleted(id: id) }
        let url = try TestPaths.temporaryDirectory(self).appendingPathComponent("index.hnsw")
        try index.save(to: url)
        let loaded = try HNSWIndex.load(from: url)
        XCTAssertEqual(loaded.count, n)
        XCTAssertEqual(loaded.deletedCount, 40)
        XCTAssertEqual(loaded.m, 10)
        XCTAssertEqual(loaded.efConstruction, 80)
        XCTAssertEqual(loaded.metric, .innerProduct)
        let queries = SyntheticData.gaussian(200, dim, seed: 29)
        for ef in [16, 64] {
            XCTAssertEqual(try loaded.search(queries: queries, count: 200, k: k, ef: ef),
                           try index.search(queries: queries, count: 200, k: k, ef: ef), "ef \(ef)")
        }
        // The loaded index keeps growing; saving it again gives the same bytes as the original plus the add.
        try loaded.add(id: 123_456, vector: Array(base[0..<dim]))
        XCTAssertEqual(try loaded.search(query: Array(base[0..<dim]), k: 1, ef: 64).first?.id, 123_456)
    }

    func testWrongOrDamagedFilesAreRejectedWithAReason() throws {
        let dim = 8
        let index = try HNSWIndex(dim: dim, metric: .l2, m: 4, efConstruction: 16)
        try index.add(ids: (0..<200).map { Int64($0) }, vectors: SyntheticData.gaussian(200, dim, seed: 30))
        let url = try TestPaths.temporaryDirectory(self).appendingPathComponent("good.hnsw")
        try index.save(to: url)
        let good = try Data(contentsOf: url)
        XCTAssertNoThrow(try HNSWIndex.load(from: url))

        func reason(_ bytes: Data) -> String {
            let bad = url.deletingLastPathComponent().appendingPathComponent("bad-\(UUID().uuidString).hnsw")
            XCTAssertTrue(FileManager.default.createFile(atPath: bad.path, contents: bytes))
            do {
                _ = try HNSWIndex.load(from: bad)
                return "loaded"
            } catch let error as SearchError {
                guard case let .corruptFile(path, reason) = error else { return "other error \(error)" }
                XCTAssertEqual(path, bad.path)
                return reason
            } catch { return "unexpected \(error)" }
        }
        func patched(_ offset: Int, _ bytes: [UInt8]) -> Data {
            var d = good
            d.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
            return d
        }
        XCTAssertTrue(reason(Data(String(repeating: "not an index, just text. ", count: 8).utf8)).contains("magic"))
        XCTAssertTrue(reason(good.prefix(50)).contains("shorter than"))
        XCTAssertTrue(reason(good.prefix(good.count - 3)).contains("truncated"))
        XCTAssertTrue(reason(good + Data([0])).contains("trailing"))
        XCTAssertTrue(reason(patched(8, [2, 0, 0, 0])).contains("version 2"))
        XCTAssertTrue(reason(patched(20, [9, 0, 0, 0])).contains("metric"))
        XCTAssertTrue(reason(patched(24, [1, 0, 0, 0])).contains("dtype"))
        XCTAssertTrue(reason(patched(32, [9, 0, 0, 0])).contains("maxM0"))
        // A level-0 link of element 0 pointing past the end.
        let layout = HNSWLayout(dim: dim, m: 4)
        let badLink = reason(patched(HNSWIndex.headerBytes + layout.linksOffset, [0xFF, 0xFF, 0, 0]))
        XCTAssertTrue(badLink.contains("links to"), badLink)
        XCTAssertThrowsError(try HNSWIndex.load(from: url.appendingPathExtension("missing"))) {
            guard case .unreadableFile = $0 as? SearchError else { return XCTFail("\($0)") }
        }
    }

    func testSequentialBuildIsReproducible() throws {
        let base = SyntheticData.gaussian(1_500, 12, seed: 31)
        let ids = (0..<1_500).map { Int64($0) }
        let queries = SyntheticData.gaussian(30, 12, seed: 32)
        var results: [[[SearchHit]]] = []
        for _ in 0..<2 {
            let index = try HNSWIndex(dim: 12, metric: .l2, m: 8, efConstruction: 40, threads: 1)
            try index.add(ids: ids, vectors: base)
            results.append(try index.search(queries: queries, count: 30, k: 5, ef: 20))
        }
        XCTAssertEqual(results[0], results[1])
    }
}
