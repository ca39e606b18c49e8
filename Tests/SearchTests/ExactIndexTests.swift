import XCTest
@testable import Search

final class ExactIndexTests: XCTestCase {
    /// Scores agree with the Double reference to float32 rounding of a dim-term sum.
    let scoreTolerance: Float = 1e-4

    func assertHits(_ got: [[SearchHit]], _ expected: [[SearchHit]], _ context: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, expected.count, context, file: file, line: line)
        for (q, (g, e)) in zip(got, expected).enumerated() {
            XCTAssertEqual(g.map(\.id), e.map(\.id), "\(context), query \(q)", file: file, line: line)
            for (a, b) in zip(g, e) {
                XCTAssertEqual(a.score, b.score, accuracy: scoreTolerance * max(1, abs(b.score)), "\(context), query \(q), id \(a.id)", file: file, line: line)
            }
        }
    }

    /// Ids deliberately not in row order (and not contiguous) so a row/id mix-up shows.
    func shuffledIDs(_ n: Int, seed: UInt64) -> [Int64] {
        var g = SeededGenerator(seed: seed)
        return (0..<n).map { Int64($0 * 7 + 1000) }.shuffled(using: &g)
    }

    func testEveryMetricAndPathMatchesBruteForce() throws {
        let n = 700, dim = 37, k = 10
        let base = SyntheticData.gaussian(n, dim, seed: 1)
        let ids = shuffledIDs(n, seed: 2)
        let filters: [(String, SearchFilter?, ((Int64) -> Bool)?)] = [
            ("no filter", nil, nil),
            ("predicate keeping ~half (masked)", .predicate { $0 % 2 == 0 }, { $0 % 2 == 0 }),
            ("id set keeping ~10% (gathered)", .ids(ids.filter { $0 % 10 == 3 }), { $0 % 10 == 3 }),
        ]
        for metric in Metric.allCases {
            let index = try ExactIndex(dim: dim, metric: metric)
            index.blockSizeOverride = (rows: 128, queries: 8)  // several code and query blocks
            try index.add(ids: ids, vectors: base)
            // Scan path (< 4), batched with OpenBLAS-threaded sgemm (21), batched with one sgemm
            // per worker (70: ≥ minQueriesPerWorker per worker at 2 threads).
            for queryCount in [1, 3, 21, 70] {
                let queries = SyntheticData.gaussian(queryCount, dim, seed: 3)
                for (name, filter, allowed) in filters {
                    let got = try index.search(queries: queries, count: queryCount, k: k, filter: filter)
                    let expected = BruteForce.search(base: base, ids: ids, queries: queries, dim: dim, metric: metric, k: k, allowed: allowed)
                    assertHits(got, expected, "\(metric), \(queryCount) queries, \(name)")
                }
            }
        }
    }

    func testTiesAreBrokenBySmallerIDInBothPaths() throws {
        // Integer data: exact arithmetic, many equal scores; rows duplicated under other ids.
        let dim = 8
        let distinct = SyntheticData.integers(60, dim, seed: 5)
        let base = distinct + distinct + distinct
        let ids: [Int64] = (0..<180).map { Int64(($0 * 37) % 180) }  // a permutation of 0..<180
        let queries = SyntheticData.integers(9, dim, seed: 6)
        for metric in [Metric.innerProduct, .l2] {
            let index = try ExactIndex(dim: dim, metric: metric)
            index.blockSizeOverride = (rows: 64, queries: 4)
            try index.add(ids: ids, vectors: base)
            let expected = BruteForce.search(base: base, ids: ids, queries: queries, dim: dim, metric: metric, k: 25)
            let batched = try index.search(queries: queries, count: 9, k: 25)
            let single = try (0..<9).map { try index.search(query: Array(queries[($0 * dim)..<(($0 + 1) * dim)]), k: 25) }
            XCTAssertEqual(batched, expected, "\(metric) batched")  // exact: scores are integers
            XCTAssertEqual(single, expected, "\(metric) one at a time")

            // Per-worker sgemm path (70 queries), where ties meet the vectorized threshold scan.
            let manyQueries = SyntheticData.integers(70, dim, seed: 7)
            XCTAssertEqual(
                try index.search(queries: manyQueries, count: 70, k: 25),
                BruteForce.search(base: base, ids: ids, queries: manyQueries, dim: dim, metric: metric, k: 25),
                "\(metric) batched, one sgemm per worker")
        }
    }

    func testIncrementalAddsEqualOneAdd() throws {
        let n = 500, dim = 24
        let base = SyntheticData.gaussian(n, dim, seed: 7)
        let ids = (0..<n).map { Int64($0) }
        let queries = SyntheticData.gaussian(6, dim, seed: 8)
        let once = try ExactIndex(dim: dim, metric: .l2)
        try once.add(ids: ids, vectors: base)
        let incremental = try ExactIndex(dim: dim, metric: .l2)
        for start in stride(from: 0, to: n, by: 77) {
            let end = min(n, start + 77)
            try incremental.add(ids: Array(ids[start..<end]), vectors: Array(base[(start * dim)..<(end * dim)]))
        }
        XCTAssertEqual(incremental.count, n)
        XCTAssertEqual(try incremental.search(queries: queries, count: 6, k: 7), try once.search(queries: queries, count: 6, k: 7))
    }

    func testFloat16StorageMatchesBruteForceOnRoundedVectors() throws {
        let n = 600, dim = 50, k = 10
        let base = SyntheticData.gaussian(n, dim, seed: 9)
        let rounded = base.map { Float(Float16($0)) }
        let ids = shuffledIDs(n, seed: 10)
        for metric in [Metric.innerProduct, .l2] {
            let index = try ExactIndex(dim: dim, metric: metric, scalarType: .float16)
            index.blockSizeOverride = (rows: 128, queries: 8)
            try index.add(ids: ids, vectors: base)
            for queryCount in [1, 12] {
                let queries = SyntheticData.gaussian(queryCount, dim, seed: 11)
                for (filter, allowed) in [(nil, nil), (SearchFilter.ids(ids.prefix(50)), { (id: Int64) in ids.prefix(50).contains(id) })] {
                    let got = try index.search(queries: queries, count: queryCount, k: k, filter: filter)
                    let expected = BruteForce.search(base: rounded, ids: ids, queries: queries, dim: dim, metric: metric, k: k, allowed: allowed)
                    assertHits(got, expected, "float16 \(metric), \(queryCount) queries, filter \(filter != nil)")
                }
            }
        }
    }

    func testRemovedIDsAreNeverReturned() throws {
        let n = 300, dim = 16
        let base = SyntheticData.gaussian(n, dim, seed: 12)
        let ids = (0..<n).map { Int64($0) }
        let index = try ExactIndex(dim: dim, metric: .cosine)
        try index.add(ids: ids, vectors: base)
        let removed = Set(ids.filter { $0 % 3 == 0 })
        for id in removed { try index.remove(id: id) }
        XCTAssertEqual(index.count, n - removed.count)
        let queries = Array(base.prefix(10 * dim))  // the removed rows 0, 3, 6, 9 are among them
        let got = try index.search(queries: queries, count: 10, k: 20)
        let expected = BruteForce.search(base: base, ids: ids, queries: queries, dim: dim, metric: .cosine, k: 20, allowed: { !removed.contains($0) })
        assertHits(got, expected, "after remove")
        XCTAssertThrowsError(try index.remove(id: 0)) { XCTAssertEqual($0 as? SearchError, .unknownID(0)) }
    }

    func testFewerRowsThanKAndEmptyFilter() throws {
        let index = try ExactIndex(dim: 4, metric: .innerProduct)
        try index.add(ids: [5, 3], vectors: [1, 0, 0, 0, 2, 0, 0, 0])
        XCTAssertEqual(try index.search(query: [1, 0, 0, 0], k: 10), [SearchHit(id: 3, score: 2), SearchHit(id: 5, score: 1)])
        XCTAssertEqual(try index.search(query: [1, 0, 0, 0], k: 10, filter: .ids([99])), [])
        XCTAssertEqual(try ExactIndex(dim: 4, metric: .l2).search(query: [1, 0, 0, 0], k: 3), [])
    }

    func testInvalidInputThrowsNamingTheProblem() throws {
        XCTAssertThrowsError(try ExactIndex(dim: 0, metric: .l2))
        let index = try ExactIndex(dim: 3, metric: .l2)
        XCTAssertThrowsError(try index.add(ids: [1, 2], vectors: [0, 0, 0])) {
            XCTAssertEqual($0 as? SearchError, .dimensionMismatch(expected: 6, got: 3))
        }
        try index.add(ids: [1], vectors: [0, 0, 0])
        XCTAssertThrowsError(try index.add(ids: [2, 1], vectors: [Float](repeating: 0, count: 6))) {
            XCTAssertEqual($0 as? SearchError, .duplicateID(1))
        }
        XCTAssertEqual(index.count, 1, "a failed add adds nothing")
        XCTAssertThrowsError(try index.search(query: [0, 0], k: 1))
        XCTAssertThrowsError(try index.search(query: [0, 0, 0], k: 0))
    }

    func testHalfWideningIsExactForEveryBitPattern() {
        let bits = (0...UInt16.max).map { $0 }
        var widened = [Float](repeating: 0, count: bits.count)
        bits.withUnsafeBufferPointer { b in
            widened.withUnsafeMutableBufferPointer { w in
                VectorKernels.widen(b.baseAddress!, into: w.baseAddress!, count: bits.count)
            }
        }
        for (b, w) in zip(bits, widened) {
            let reference = Float(Float16(bitPattern: b))
            if reference.isNaN { XCTAssertTrue(w.isNaN, "bits \(b)") } else { XCTAssertEqual(w.bitPattern, reference.bitPattern, "bits \(b)") }
        }
    }
}
