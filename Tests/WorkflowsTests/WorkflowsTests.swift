import Foundation
import Learning
import Search
import Store
import TestSupport
import Workflows
import XCTest

/// The use cases on a real store in a temporary directory with synthetic, clustered codes:
/// two classes whose codes sit around two different non-negative centres.
final class WorkflowsTests: XCTestCase {
    let dim = 32
    private var store: FeatureStore!
    private var ids: [Int64] = []
    private var vectors: [Int64: [Float]] = [:]

    override func setUpWithError() throws {
        store = try FeatureStore(at: try TestPaths.temporaryDirectory(self).appendingPathComponent("store"))
        let provenance = Provenance(modelDigest: "d", modelPath: "/m.onnx", layer: "/pool", preprocessingJSON: "{}",
                                    pooling: "avg", relu: true, dtype: .f32)
        _ = try store.ensureCollection("c", provenance: provenance, dim: dim)
        var generator = SystemRandomNumberGenerator()
        var images: [NewImage] = []
        for i in 0..<120 {
            images.append(NewImage(source: "/data", path: "img\(i).jpg", digest: "h\(i)",
                                   label: i % 2 == 0 ? "ants" : "bees", split: i % 4 == 0 ? "val" : "train"))
        }
        ids = try store.registerImages(images, collections: ["c"]).map(\.id)
        var matrix: [Float] = []
        for (i, id) in ids.enumerated() {
            let centre: Float = i % 2 == 0 ? 0 : 1
            let v = (0..<dim).map { d in max(0, (d % 2 == 0 ? centre : 1 - centre) + Float.random(in: -0.4...0.4, using: &generator)) }
            vectors[id] = v
            matrix += v
        }
        try store.putCodes(collection: "c", ids: ids, matrix: matrix)
    }

    func testTrainEvaluatePredictAndPersist() throws {
        for kind in ClassifierKind.allCases {
            let outcome = try ClassifierWorkflow.train(
                TrainingRequest(collection: "c", name: "clf-\(kind.rawValue)", kind: kind, crossValidationFolds: 3), store: store)
            XCTAssertEqual(outcome.rows, 90, "train split only")
            XCTAssertEqual(outcome.classifier.classes, ["ants", "bees"])
            XCTAssertNotNil(outcome.crossValidation)
            let metrics = try ClassifierWorkflow.evaluate("clf-\(kind.rawValue)", split: "val", store: store)
            XCTAssertEqual(metrics.count, 30)
            XCTAssertEqual(metrics.accuracy, 1.0, "separable clusters")
            let (loaded, record, stored) = try ClassifierWorkflow.load("clf-\(kind.rawValue)", store: store)
            XCTAssertEqual(record.collection, "c")
            XCTAssertEqual(stored?.evaluations["val"]?.accuracy, 1.0, "metrics are stored with the classifier")
            XCTAssertEqual(loaded, outcome.classifier)
            let bee = ids[1]
            let prediction = try ClassifierWorkflow.predict(loaded, codes: vectors[bee]!, rows: 1)[0]
            XCTAssertEqual(prediction.label, "bees")
            XCTAssertEqual(prediction.scores.count, 2)
            XCTAssertGreaterThan(prediction.scores[1], prediction.scores[0])
        }
        XCTAssertThrowsError(try ClassifierWorkflow.train(TrainingRequest(collection: "c", name: "clf-svm"), store: store),
                             "a name is unique unless --replace")
        XCTAssertThrowsError(try ClassifierWorkflow.train(TrainingRequest(collection: "c", name: "x", trainSplit: "test"), store: store)) {
            XCTAssertTrue("\($0)".contains("split 'test'"), "\($0)")
        }
    }

    func testExactSearchEqualsBruteForceWithMetadataAndFilters() throws {
        let search = CollectionSearch(store: store)
        let query = ids[7]
        let answer = try search.search(collection: "c", query: .id(query), options: SearchOptions(k: 5, metric: .cosine, excludeQuery: true))
        XCTAssertEqual(answer.method, .exact)
        XCTAssertEqual(answer.queryID, query)
        XCTAssertEqual(answer.searched, 119, "every code but the excluded query")
        let results = answer.results
        // Brute force: cosine to every other code, best first, ties by id.
        var scored: [(id: Int64, score: Float)] = []
        for id in ids where id != query { scored.append((id, Self.cosine(vectors[query]!, vectors[id]!))) }
        scored.sort { a, b in a.score != b.score ? a.score > b.score : a.id < b.id }
        let expected = Array(scored.prefix(5))
        XCTAssertEqual(results.map { $0.id }, expected.map { $0.id })
        for (r, e) in zip(results, expected) { XCTAssertEqual(r.score, e.score, accuracy: 1e-5) }
        XCTAssertEqual(results.map(\.rank), [1, 2, 3, 4, 5])
        XCTAssertEqual(results[0].path, "img\(ids.firstIndex(of: results[0].id)!).jpg")

        let val = try search.search(collection: "c", query: .vector(vectors[query]!),
                                    options: SearchOptions(k: 50, filter: ImageFilter(split: "val")))
        XCTAssertEqual(val.results.count, 30)
        XCTAssertEqual(val.searched, 30)
        XCTAssertTrue(val.results.allSatisfy { $0.split == "val" })
        // Excluding the query under a filter: the query (a val image) leaves the allowed set.
        let valOthers = try search.search(collection: "c", query: .id(ids[0]),
                                          options: SearchOptions(k: 50, filter: ImageFilter(split: "val"), excludeQuery: true))
        XCTAssertEqual(valOthers.searched, 29)
        XCTAssertEqual(Set(valOthers.results.map(\.id)), Set(val.results.map(\.id)).subtracting([ids[0]]))
        XCTAssertThrowsError(try search.search(collection: "c", query: .vector([1, 2]), options: SearchOptions())) {
            XCTAssertTrue("\($0)".contains("32-d"), "\($0)")
        }
        XCTAssertThrowsError(try search.search(collection: "c", query: .id(999_999), options: SearchOptions())) {
            XCTAssertEqual($0 as? WorkflowError, .unknownImage(collection: "c", id: 999_999))
        }
        XCTAssertThrowsError(try search.search(collection: "nope", query: .id(ids[0]), options: SearchOptions()))
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Float {
        var dot: Float = 0, na: Float = 0, nb: Float = 0
        for i in a.indices {
            dot += a[i] * b[i]
            na += a[i] * a[i]
            nb += b[i] * b[i]
        }
        return dot / (na.squareRoot() * nb.squareRoot())
    }

    func testHNSWIndexIsUsedAndPicksUpCodesAddedAfterItWasBuilt() throws {
        let (index, url) = try CollectionSearch.buildIndex(store: store, collection: "c", metric: .cosine)
        XCTAssertEqual(index.count, 120)
        XCTAssertTrue(FileManager.default.fileExists(atPath: url.path))
        // A new code after the index was built: far from everything but one direction.
        let newID = try store.registerImages([NewImage(source: "/data", path: "new.jpg", digest: "n", label: "ants", split: "train")],
                                             collections: ["c"])[0].id
        var odd = [Float](repeating: 0, count: dim)
        odd[3] = 5
        try store.putCodes(collection: "c", ids: [newID], matrix: odd)
        let search = CollectionSearch(store: store)
        XCTAssertEqual(search.hnswMetrics(collection: "c"), [.cosine])
        let hits = try search.search(collection: "c", query: .vector(odd), options: SearchOptions(k: 1))
        XCTAssertEqual(hits.method, .hnsw)
        XCTAssertEqual(hits.searched, 121)
        XCTAssertEqual(hits.results.first?.id, newID)
        XCTAssertEqual(hits.results.first?.path, "new.jpg")
        let exact = try search.search(collection: "c", query: .id(ids[0]), options: SearchOptions(k: 10, exact: true))
        let approximate = try search.search(collection: "c", query: .id(ids[0]), options: SearchOptions(k: 10, ef: 200))
        XCTAssertEqual(exact.method, .exact)
        XCTAssertEqual(approximate.method, .hnsw)
        XCTAssertGreaterThanOrEqual(Set(exact.results.map(\.id)).intersection(approximate.results.map(\.id)).count, 9)
        // Another metric has no index file: exact search answers.
        XCTAssertEqual(try search.search(collection: "c", query: .id(ids[0]), options: SearchOptions(metric: .l2)).method, .exact)
    }
}
