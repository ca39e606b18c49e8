import Foundation
import Hummingbird
import HummingbirdTesting
@testable import Service
import Store
import TestSupport
import XCTest

/// Image uploads: search, classify and ingest; the limit, bad bytes, and no extractor.
final class ServiceUploadTests: ServiceTestCase {
    func fixtureImage(_ name: String) throws -> ByteBuffer {
        ByteBuffer(bytes: try Data(contentsOf: TestPaths.committedFixtures.appendingPathComponent("service/\(name)")))
    }

    func testUploadsWithoutAnExtractorAre501AfterValidation() async throws {
        let fixture = try ServiceFixture(testCase: self)
        let png = try fixtureImage("red.png")
        try await withServer(StoreBackend(store: fixture.store)) { client in
            for uri in ["/v1/collections/colors/search/image", "/v1/classifiers/colors-softmax/classify",
                        "/v1/collections/colors/images"] {
                let message = try await client.execute(uri: uri, method: .post, body: png).errorMessage(501)
                XCTAssertTrue(message.contains("extractor"), message)
                // Bytes that are not an image are a 400 naming the reason, extractor or not.
                let bad = try await client.execute(uri: uri + "?filename=notes.txt", method: .post,
                                                   body: ByteBuffer(string: "hello, this is not an image")).errorMessage(400)
                XCTAssertTrue(bad.contains("notes.txt") && bad.contains("not a supported image"), bad)
                _ = try await client.execute(uri: uri, method: .post).errorMessage(400)
            }
            // A truncated PNG: the signature is right, the data is not.
            let truncated = ByteBuffer(bytes: Array(png.readableBytesView.prefix(40)))
            let message = try await client.execute(uri: "/v1/collections/colors/search/image", method: .post, body: truncated)
                .errorMessage(400)
            XCTAssertTrue(message.contains("corrupt") || message.contains("truncated"), message)
        }
    }

    func testUploadLimitIs413AndTheConnectionStaysUsable() async throws {
        let fixture = try ServiceFixture(testCase: self)
        let limit = 4096
        try await withServer(StoreBackend(store: fixture.store, extractor: MeanColorExtractor()), maxUploadBytes: limit) { client in
            let big = ByteBuffer(bytes: [UInt8](repeating: 0xFF, count: limit + 1))
            for uri in ["/v1/collections/colors/search/image", "/v1/classifiers/colors-softmax/classify",
                        "/v1/collections/colors/images", "/v1/collections/colors/search"] {
                let message = try await client.execute(uri: uri, method: .post, body: big).errorMessage(413)
                XCTAssertTrue(message.contains("4096"), message)
            }
            // Exactly at the limit is accepted (then judged on content).
            let atLimit = ByteBuffer(bytes: [UInt8](repeating: 0x20, count: limit))
            _ = try await client.execute(uri: "/v1/collections/colors/search/image", method: .post, body: atLimit).errorMessage(400)
            let health = try await client.execute(uri: "/v1/health", method: .get)
            XCTAssertEqual(health.status, .ok)
        }
    }

    func testSearchClassifyAndIngestUploadedImages() async throws {
        let fixture = try ServiceFixture(testCase: self)
        let backend = StoreBackend(store: fixture.store, extractor: MeanColorExtractor())
        try await withServer(backend) { client in
            let search = try await client.execute(uri: "/v1/collections/colors/search/image?k=5&split=train",
                                                  method: .post, body: try self.fixtureImage("green.png"))
                .decode(SearchResponse.self)
            XCTAssertEqual(search.hits.count, 5)
            XCTAssertTrue(search.hits.allSatisfy { $0.label == "green" && $0.split == "train" }, "\(search.hits)")
            XCTAssertNil(search.queryID)

            let classified = try await client.execute(uri: "/v1/classifiers/colors-softmax/classify", method: .post,
                                                      body: try self.fixtureImage("blue.jpg")).decode(ClassificationResponse.self)
            XCTAssertEqual(classified.label, "blue")
            XCTAssertNil(classified.imageID)

            _ = try await client.execute(uri: "/v1/collections/colors/search/image?k=abc", method: .post,
                                         body: try self.fixtureImage("red.png")).errorMessage(400)
            _ = try await client.execute(uri: "/v1/collections/nope/search/image", method: .post,
                                         body: try self.fixtureImage("red.png")).errorMessage(404)
            _ = try await client.execute(uri: "/v1/classifiers/nope/classify", method: .post,
                                         body: try self.fixtureImage("red.png")).errorMessage(404)

            // Ingest: stored once (201), the second time recognised (200, nothing written).
            let first = try await client.execute(uri: "/v1/collections/colors/images?label=red&split=new&filename=mine.png",
                                                 method: .post, body: try self.fixtureImage("red.png"))
            XCTAssertEqual(first.status, .created, first.text)
            let ingested = try first.decode(IngestResponse.self)
            XCTAssertTrue(ingested.stored)
            XCTAssertEqual(ingested.label, "red")
            XCTAssertEqual(ingested.split, "new")
            XCTAssertEqual(ingested.width, 16)
            XCTAssertEqual(ingested.height, 12)
            // The digest is Extraction's (SHA-256, hex), so an extraction run recognises the file.
            XCTAssertEqual(ingested.digest.count, 64)
            XCTAssertEqual(ingested.path, ingested.digest + ".png")
            let again = try await client.execute(uri: "/v1/collections/colors/images?label=red&split=new",
                                                 method: .post, body: try self.fixtureImage("red.png"))
            XCTAssertEqual(again.status, .ok)
            XCTAssertFalse(try again.decode(IngestResponse.self).stored)

            // The ingested image is in the store: searchable by id, its file served, counted.
            let byID = try await client.execute(
                uri: "/v1/collections/colors/search", method: .post, headers: jsonHeaders(),
                body: .json(#"{"id": \#(ingested.id), "k": 3, "filter": {"split": "new"}}"#)).decode(SearchResponse.self)
            XCTAssertEqual(byID.hits.map(\.id), [ingested.id])
            XCTAssertEqual(byID.hits[0].score, 1, accuracy: 1e-6)
            let file = try await client.execute(uri: "/v1/images/\(ingested.id)/file", method: .get)
            XCTAssertEqual(file.data, Data(try self.fixtureImage("red.png").readableBytesView))
            let detail = try await client.execute(uri: "/v1/collections/colors", method: .get).decode(CollectionDetail.self)
            XCTAssertEqual(detail.count, 61)
            XCTAssertTrue(detail.acceptsImages)
            XCTAssertEqual(try fixture.store.code("colors", id: ingested.id)?.count, ServiceFixture.dim)

            let bad = try await client.execute(uri: "/v1/collections/colors/images", method: .post,
                                               body: ByteBuffer(string: "GIF89a....")).errorMessage(400)
            XCTAssertTrue(bad.contains("GIF"), bad)
        }
    }

    func testMultipartFormUploads() async throws {
        let fixture = try ServiceFixture(testCase: self)
        let backend = StoreBackend(store: fixture.store, extractor: MeanColorExtractor())
        let png = Data(try fixtureImage("green.png").readableBytesView)
        // An HTML form with a text field before the file, as browsers and curl -F send it.
        let boundary = "----cnncodes-test-7f3a"
        var body = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n".utf8)
        body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"leaf.png\"\r\n".utf8)
        body += Data("Content-Type: image/png\r\n\r\n".utf8) + png + Data("\r\n--\(boundary)--\r\n".utf8)
        let form = body
        let headers: HTTPFields = [.contentType: "multipart/form-data; boundary=\(boundary)"]
        try await withServer(backend) { client in
            let search = try await client.execute(uri: "/v1/collections/colors/search/image?k=3", method: .post,
                                                  headers: headers, body: ByteBuffer(bytes: form)).decode(SearchResponse.self)
            XCTAssertEqual(search.hits.map(\.label), ["green", "green", "green"])
            let ingested = try await client.execute(uri: "/v1/collections/colors/images", method: .post,
                                                    headers: headers, body: ByteBuffer(bytes: form)).decode(IngestResponse.self)
            XCTAssertEqual(ingested.path, ingested.digest + ".png")
            XCTAssertEqual(try fixture.store.image(id: ingested.id)?.width, 16)
            let noFile = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--\(boundary)--\r\n".utf8)
            let message = try await client.execute(uri: "/v1/classifiers/colors-softmax/classify", method: .post,
                                                   headers: headers, body: ByteBuffer(bytes: noFile)).errorMessage(400)
            XCTAssertTrue(message.contains("no file part"), message)
            let truncated = form.prefix(form.count - 30)
            _ = try await client.execute(uri: "/v1/classifiers/colors-softmax/classify", method: .post,
                                         headers: headers, body: ByteBuffer(bytes: truncated)).errorMessage(400)
        }
    }

    func testIngestIntoAReadOnlyStoreIs409() async throws {
        // The read-write instance is closed when the closure returns (one instance per process).
        let directory = try { () throws -> URL in try ServiceFixture(testCase: self).store.directory }()
        let readOnly = try FeatureStore(at: directory, mode: .readOnly)
        try await withServer(StoreBackend(store: readOnly, extractor: MeanColorExtractor())) { client in
            let message = try await client.execute(uri: "/v1/collections/colors/images", method: .post,
                                                   body: try self.fixtureImage("red.png")).errorMessage(409)
            XCTAssertTrue(message.contains("read-only"), message)
            let health = try await client.execute(uri: "/v1/health", method: .get).decode(HealthResponse.self)
            XCTAssertTrue(health.readOnly)
        }
    }
}
