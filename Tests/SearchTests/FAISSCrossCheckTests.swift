import Foundation
import Tensor
import TestSupport
import XCTest
@testable import Search

/// Exact search against FAISS IndexFlatIP / IndexFlatL2 on the seeded data of
/// tools/fixtures/faiss_reference.py (run tools/make-fixtures first; skips when absent).
final class FAISSCrossCheckTests: XCTestCase {
    func load(_ name: String) throws -> Tensor {
        try NPY.read(try TestPaths.requireGenerated("faiss_reference/\(name).npy"))
    }

    func testExactSearchMatchesFAISSTop10() throws {
        let base = try load("base")
        let queries = try load("queries")
        let (n, dim, queryCount) = (base.shape[0], base.shape[1], queries.shape[0])
        let ids = (0..<n).map { Int64($0) }
        for (name, metric) in [("ip", Metric.innerProduct), ("l2", .l2), ("cosine", .cosine)] {
            let faissIDs = try load("\(name)_ids")
            let faissScores = try load("\(name)_scores")
            let k = faissIDs.shape[1]
            do {
                let index = try ExactIndex(dim: dim, metric: metric)
                try index.add(ids: ids, vectors: base.data)
                let batched = try index.search(queries: queries.data, count: queryCount, k: k)
                let single = try (0..<queryCount).map { try index.search(query: Array(queries.data[($0 * dim)..<(($0 + 1) * dim)]), k: k) }
                for (path, results) in [("batched", batched), ("one at a time", single)] {
                    for q in 0..<queryCount {
                        XCTAssertEqual(results[q].map(\.id), (0..<k).map { Int64(faissIDs[q, $0]) }, "\(name) \(path) query \(q)")
                        for j in 0..<k {
                            // float32 sums of 48 terms computed in different orders: ~1e-5 relative.
                            XCTAssertEqual(results[q][j].score, faissScores[q, j], accuracy: 1e-4 * max(1, abs(faissScores[q, j])), "\(name) \(path) query \(q) rank \(j)")
                        }
                    }
                }
            }
        }
    }
}
