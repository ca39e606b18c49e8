import Foundation
import Hummingbird
import HummingbirdTesting
import Search
@testable import Service
import Store
import TestSupport
import Workflows
import XCTest

/// Search by id and by vector over HTTP, checked against brute force computed in the test.
final class ServiceSearchTests: ServiceTestCase {
    func testSearchByIDMatchesBruteForce() async throws {
        let fixture = try ServiceFixture(testCase: self)
        let id = fixture.ids[25]
        let expected = fixture.bruteForceCosine(fixture.codeOf[id]!, k: 7)
        try await withServer(StoreBackend(store: fixture.store)) { client in
            let response = try await client.execute(
                uri: "/v1/collections/colors/search", method: .post, headers: jsonHeaders(),
                body: .json(#"{"id": \#(id), "k": 7}"#)).decode(SearchResponse.self)
            XCTAssertEqual(response.method, "exact")
            XCTAssertEqual(response.metric, "cosine")
            XCTAssertEqual(response.queryID, id)
            XCTAssertEqual(response.searched, 60)
            XCTAssertEqual(response.hits.map(\.id), expected.map(\.id))
            for (hit, reference) in zip(response.hits, expected) {
                XCTAssertEqual(hit.score, reference.score, accuracy: 1e-5)
                XCTAssertEqual(hit.label, fixture.labelOf[hit.id])
                XCTAssertEqual(hit.split, fixture.splitOf[hit.id])
            }
            XCTAssertEqual(response.hits.first?.id, id)
        }
    }

    func testSearchByVectorWithFilters() async throws {
        let fixture = try ServiceFixture(testCase: self)
        let query = ServiceFixture.prototype(0).map { $0 + 0.05 }
        let expected = fixture.bruteForceCosine(query, k: 4) { fixture.labelOf[$0] == "red" && fixture.splitOf[$0] == "test" }
        XCTAssertEqual(expected.count, 4)
        let vector = "[" + query.map { "\($0)" }.joined(separator: ",") + "]"
        try await withServer(StoreBackend(store: fixture.store)) { client in
            let response = try await client.execute(
                uri: "/v1/collections/colors/search", method: .post, headers: jsonHeaders(),
                body: .json(#"{"vector": \#(vector), "k": 10, "filter": {"label": "red", "split": "test"}}"#))
                .decode(SearchResponse.self)
            // Only 5 red test images exist: k = 10 returns those 5, best first.
            XCTAssertEqual(response.searched, 5)
            XCTAssertEqual(response.hits.count, 5)
            XCTAssertEqual(Array(response.hits.prefix(4).map(\.id)), expected.map(\.id))
            XCTAssertTrue(response.hits.allSatisfy { $0.label == "red" && $0.split == "test" })

            let none = try await client.execute(
                uri: "/v1/collections/colors/search", method: .post, headers: jsonHeaders(),
                body: .json(#"{"vector": \#(vector), "filter": {"label": "purple"}}"#)).decode(SearchResponse.self)
            XCTAssertEqual(none.hits, [])
        }
    }

    func testOtherMetrics() async throws {
        let fixture = try ServiceFixture(testCase: self)
        let id = fixture.ids[3]
        let query = fixture.codeOf[id]!
        // Reference squared L2 distances and inner products, in plain loops.
        var l2: [Int64: Float] = [:]
        var ip: [Int64: Float] = [:]
        for other in fixture.ids {
            l2[other] = zip(fixture.codeOf[other]!, query).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
            ip[other] = zip(fixture.codeOf[other]!, query).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let l2Expected = fixture.ids.sorted { l2[$0]! != l2[$1]! ? l2[$0]! < l2[$1]! : $0 < $1 }.prefix(5)
        let ipExpected = fixture.ids.sorted { ip[$0]! != ip[$1]! ? ip[$0]! > ip[$1]! : $0 < $1 }.prefix(5)
        let (l2Of, ipOf) = (l2, ip)
        try await withServer(StoreBackend(store: fixture.store)) { client in
            let byL2 = try await client.execute(
                uri: "/v1/collections/colors/search", method: .post, headers: jsonHeaders(),
                body: .json(#"{"id": \#(id), "k": 5, "metric": "l2"}"#)).decode(SearchResponse.self)
            XCTAssertEqual(byL2.hits.map(\.id), Array(l2Expected))
            XCTAssertEqual(byL2.hits[0].score, 0, accuracy: 1e-5)
            for hit in byL2.hits { XCTAssertEqual(hit.score, l2Of[hit.id]!, accuracy: 1e-4) }
            let byIP = try await client.execute(
                uri: "/v1/collections/colors/search", method: .post, headers: jsonHeaders(),
                body: .json(#"{"id": \#(id), "k": 5, "metric": "ip"}"#)).decode(SearchResponse.self)
            XCTAssertEqual(byIP.hits.map(\.id), Array(ipExpected))
            for hit in byIP.hits { XCTAssertEqual(hit.score, ipOf[hit.id]!, accuracy: 1e-4) }
        }
    }

    func testSearchErrors() async throws {
        let fixture = try ServiceFixture(testCase: self)
        try await withServer(StoreBackend(store: fixture.store)) { client in
            func post(_ body: String, collection: String = "colors") async throws -> TestResponse {
                try await client.execute(uri: "/v1/collections/\(collection)/search", method: .post,
                                         headers: jsonHeaders(), body: .json(body))
            }
            var message = try await post(#"{"vector": [1, 2, 3]}"#).errorMessage(400)
            XCTAssertTrue(message.contains("3 values") && message.contains("8-d"), message)
            message = try await post(#"{"id": 1, "k": "#).errorMessage(400)
            XCTAssertTrue(message.contains("malformed JSON"), message)
            message = try await post(#"{"id": "one"}"#).errorMessage(400)
            XCTAssertTrue(message.contains("id"), message)
            _ = try await post(#"{"k": 3}"#).errorMessage(400)
            _ = try await post(#"{"id": 1, "vector": [1]}"#).errorMessage(400)
            _ = try await post("").errorMessage(400)
            _ = try await post(#"{"id": \#(fixture.ids[0]), "k": 0}"#).errorMessage(400)
            _ = try await post(#"{"id": \#(fixture.ids[0]), "ef": -1}"#).errorMessage(400)
            message = try await post(#"{"id": \#(fixture.ids[0]), "metric": "manhattan"}"#).errorMessage(400)
            XCTAssertTrue(message.contains("manhattan"), message)
            message = try await post(#"{"id": 424242}"#).errorMessage(404)
            XCTAssertTrue(message.contains("424242"), message)
            // An image without a code in this collection.
            message = try await post(#"{"id": \#(fixture.missingFileID)}"#).errorMessage(404)
            XCTAssertTrue(message.contains("no code"), message)
            message = try await post(#"{"id": 1}"#, collection: "nope").errorMessage(404)
            XCTAssertTrue(message.contains("nope"), message)
        }
    }

    /// The server searches codes committed after it started (an extraction writing while it
    /// serves): the next request after the commit finds them.
    func testSeesCodesCommittedWhileServing() async throws {
        let fixture = try ServiceFixture(testCase: self)
        let store = fixture.store
        let odd: [Float] = [0, 0, 0, 1, 0, 0, 0, 0]  // unlike every fixture code
        let vector = "[" + odd.map { "\($0)" }.joined(separator: ",") + "]"
        try await withServer(StoreBackend(store: store)) { client in
            let before = try await client.execute(
                uri: "/v1/collections/colors/search", method: .post, headers: jsonHeaders(),
                body: .json(#"{"vector": \#(vector), "k": 1}"#)).decode(SearchResponse.self)
            XCTAssertEqual(before.searched, 60)
            let registered = try store.registerImages(
                [NewImage(source: "/elsewhere", path: "late.png", digest: "sha256:late", label: "late")], collections: ["colors"])
            try store.putCodes(collection: "colors", ids: [registered[0].id], matrix: odd)
            let after = try await client.execute(
                uri: "/v1/collections/colors/search", method: .post, headers: jsonHeaders(),
                body: .json(#"{"vector": \#(vector), "k": 1}"#)).decode(SearchResponse.self)
            XCTAssertEqual(after.searched, 61)
            XCTAssertEqual(after.hits.first?.id, registered[0].id)
            XCTAssertEqual(after.hits.first?.label, "late")
            XCTAssertEqual(after.hits.first?.score ?? 0, 1, accuracy: 1e-6)
        }
    }

    /// An HNSW file beside the store is used for its metric; `exact` and other metrics search exactly.
    func testHNSWIndexFileIsUsed() async throws {
        let fixture = try ServiceFixture(testCase: self)
        let graph = try HNSWIndex(dim: ServiceFixture.dim, metric: .cosine, m: 8, efConstruction: 100)
        try graph.add(ids: fixture.ids, vectors: fixture.ids.flatMap { fixture.codeOf[$0]! })
        // Where `cnncodes index` writes it (the backend's default).
        let indexFile = CollectionSearch.indexURL(store: fixture.store, collection: "colors", metric: .cosine)
        try FileManager.default.createDirectory(at: indexFile.deletingLastPathComponent(), withIntermediateDirectories: true)
        try graph.save(to: indexFile)
        let backend = StoreBackend(store: fixture.store)
        let id = fixture.ids[50]
        let expected = fixture.bruteForceCosine(fixture.codeOf[id]!, k: 5)
        try await withServer(backend) { client in
            func search(_ options: String) async throws -> SearchResponse {
                try await client.execute(
                    uri: "/v1/collections/colors/search", method: .post, headers: jsonHeaders(),
                    body: .json(#"{"id": \#(id), "k": 5\#(options)}"#)).decode(SearchResponse.self)
            }
            let approximate = try await search(#", "ef": 60"#)
            XCTAssertEqual(approximate.method, "hnsw")
            // 60 elements and ef = 60: the graph search visits everything, so it is exact here.
            XCTAssertEqual(approximate.hits.map(\.id), expected.map(\.id))
            let exact = try await search(#", "exact": true"#)
            XCTAssertEqual(exact.method, "exact")
            XCTAssertEqual(exact.hits.map(\.id), expected.map(\.id))
            let l2 = try await search(#", "metric": "l2""#)
            XCTAssertEqual(l2.method, "exact")
            struct List: Decodable { var collections: [CollectionSummary] }
            let list = try await client.execute(uri: "/v1/collections", method: .get).decode(List.self)
            XCTAssertEqual(list.collections[0].hnswIndex, ["cosine"])
        }
    }
}
