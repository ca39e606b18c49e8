import Foundation
import Search
import Store
import TestSupport
import Workflows
import XCTest

/// `CollectionSearch` as a long-lived, shared object (the service's use): it keeps its
/// indexes, picks up codes committed after they were made and index files rebuilt under it,
/// and answers concurrent searches while codes are being committed.
final class CollectionSearchTests: XCTestCase {
    let dim = 16
    private var store: FeatureStore!
    private var ids: [Int64] = []
    private var generator = SeededRandom(seed: 11)

    override func setUpWithError() throws {
        store = try FeatureStore(at: try TestPaths.temporaryDirectory(self).appendingPathComponent("store"))
        let provenance = Provenance(modelDigest: "d", modelPath: "/m.onnx", layer: "/pool", preprocessingJSON: "{}",
                                    pooling: "avg", relu: true, dtype: .f32)
        _ = try store.ensureCollection("c", provenance: provenance, dim: dim)
        ids = try addCodes(100, prefix: "img")
    }

    /// Registers `count` images with random non-negative codes; returns their ids.
    private func addCodes(_ count: Int, prefix: String) throws -> [Int64] {
        let images = (0..<count).map { NewImage(source: "/data", path: "\(prefix)\($0).jpg", digest: "\(prefix)\($0)", label: "x") }
        let newIDs = try store.registerImages(images, collections: ["c"]).map(\.id)
        let matrix = (0..<(count * dim)).map { _ in Float(generator.nextUnit()) }
        try store.putCodes(collection: "c", ids: newIDs, matrix: matrix)
        return newIDs
    }

    func testCodesCommittedAfterTheFirstSearchAreSearchedByTheNext() throws {
        try CollectionSearch.buildIndex(store: store, collection: "c", metric: .cosine, m: 8, efConstruction: 64)
        let search = CollectionSearch(store: store)
        for exact in [true, false] {
            let before = try search.search(collection: "c", query: .id(ids[3]), options: SearchOptions(k: 3, exact: exact))
            XCTAssertEqual(before.method, exact ? .exact : .hnsw)
            XCTAssertEqual(before.searched, 100)
            XCTAssertEqual(before.results.first?.id, ids[3])
        }
        let late = try addCodes(5, prefix: "late")
        for exact in [true, false] {
            let after = try search.search(collection: "c", query: .id(late[2]), options: SearchOptions(k: 3, exact: exact, ef: 100))
            XCTAssertEqual(after.searched, 105, "exact: \(exact)")
            XCTAssertEqual(after.results.first?.id, late[2], "exact: \(exact)")
            XCTAssertEqual(after.results.first?.path, "late2.jpg")
            XCTAssertEqual(after.results.first?.score ?? 0, 1, accuracy: 1e-5)
        }
    }

    func testARebuiltIndexFileIsReloadedAndAMismatchedOneIsSkipped() throws {
        let reports = Reports()
        let search = CollectionSearch(store: store, report: { reports.append($0) })
        let options = SearchOptions(k: 5)
        XCTAssertEqual(try search.search(collection: "c", query: .id(ids[0]), options: options).method, .exact)

        try CollectionSearch.buildIndex(store: store, collection: "c", metric: .cosine, m: 8, efConstruction: 64)
        XCTAssertEqual(try search.search(collection: "c", query: .id(ids[0]), options: options).method, .hnsw)
        XCTAssertEqual(try search.search(collection: "c", query: .id(ids[1]), options: options).method, .hnsw)
        XCTAssertEqual(reports.lines.filter { $0.hasPrefix("loaded HNSW index") }.count, 1, "loaded once, then kept")

        // A rebuilt file (new modification date) is loaded again by the next search.
        Thread.sleep(forTimeInterval: 0.01)
        try CollectionSearch.buildIndex(store: store, collection: "c", metric: .cosine, m: 12, efConstruction: 64)
        XCTAssertEqual(try search.search(collection: "c", query: .id(ids[0]), options: options).method, .hnsw)
        XCTAssertEqual(reports.lines.filter { $0.hasPrefix("loaded HNSW index") }.count, 2, "\(reports.lines)")

        // A file of another dimension where the cosine index belongs: exact search answers.
        Thread.sleep(forTimeInterval: 0.01)
        let url = CollectionSearch.indexURL(store: store, collection: "c", metric: .cosine)
        let wrong = try HNSWIndex(dim: dim + 1, metric: .cosine, m: 8, efConstruction: 32)
        try wrong.add(ids: [1], vectors: [Float](repeating: 1, count: dim + 1))
        try wrong.save(to: url)
        let answer = try search.search(collection: "c", query: .id(ids[0]), options: options)
        XCTAssertEqual(answer.method, .exact)
        XCTAssertEqual(answer.results.first?.id, ids[0])
        XCTAssertTrue(reports.lines.contains { $0.contains("17-d") && $0.contains("exact search") }, "\(reports.lines)")
    }

    /// Four threads search while a fifth commits codes in batches: every search succeeds with
    /// k results, every exact search has its query on top, and the last one sees every code.
    /// HNSW is approximate: a node can become unreachable once later inserts prune the links
    /// to it (hnswlib behaves the same), which these codes make likely — uniform in [0, 1)^d,
    /// all in one orthant, so neighbours are barely separated and m is only 8. Seen in 3 of 40
    /// runs under load: one node missed by every HNSW search after the last inserts. So HNSW
    /// answers must find their query in at least 90 % of the searches, not in all.
    func testConcurrentSearchesWhileCodesAreCommitted() throws {
        try CollectionSearch.buildIndex(store: store, collection: "c", metric: .cosine, m: 8, efConstruction: 64)
        let search = CollectionSearch(store: store)
        let queries = ids
        let failures = Reports()
        let hnswMisses = Reports()
        let writerDone = DispatchSemaphore(value: 0)
        let store = self.store!
        let dim = self.dim
        DispatchQueue.global().async {
            defer { writerDone.signal() }
            var generator = SeededRandom(seed: 5)
            do {
                for batch in 0..<10 {
                    let images = (0..<20).map { NewImage(source: "/data", path: "w\(batch)-\($0).jpg", digest: "w\(batch)-\($0)") }
                    let newIDs = try store.registerImages(images, collections: ["c"]).map(\.id)
                    try store.putCodes(collection: "c", ids: newIDs, matrix: (0..<(20 * dim)).map { _ in Float(generator.nextUnit()) })
                }
            } catch {
                failures.append("writer: \(error)")
            }
        }
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for i in 0..<60 {
                let id = queries[(worker * 60 + i) % queries.count]
                do {
                    let exact = i % 2 == 0
                    let answer = try search.search(collection: "c", query: .id(id), options: SearchOptions(k: 5, exact: exact, ef: 64))
                    let found = answer.results.first?.id == id
                    if answer.results.count != 5 || (exact && !found) {
                        failures.append("query \(id) exact \(exact): \(answer.results.map(\.id))")
                    } else if !exact && !found {
                        hnswMisses.append("query \(id) \(answer.method): \(answer.results.map(\.id))")
                    }
                } catch {
                    failures.append("query \(id): \(error)")
                }
            }
        }
        writerDone.wait()
        XCTAssertEqual(failures.lines, [])
        XCTAssertLessThanOrEqual(hnswMisses.lines.count, 12, "of 120 HNSW searches: \(hnswMisses.lines)")
        for exact in [true, false] {
            let last = try search.search(collection: "c", query: .id(ids[0]), options: SearchOptions(k: 5, exact: exact))
            XCTAssertEqual(last.searched, 300, "exact: \(exact)")
        }
    }
}

/// Lines collected from several threads.
private final class Reports: @unchecked Sendable {
    private let lock = NSLock()
    private var collected: [String] = []
    func append(_ line: String) {
        lock.lock()
        collected.append(line)
        lock.unlock()
    }
    var lines: [String] {
        lock.lock()
        defer { lock.unlock() }
        return collected
    }
}

