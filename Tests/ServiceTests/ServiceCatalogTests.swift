import Foundation
import Hummingbird
import HummingbirdTesting
@testable import Service
import Store
import TestSupport
import XCTest

/// Health, collections, images and thumbnails over HTTP.
final class ServiceCatalogTests: ServiceTestCase {
    func testHealthAndCollectionList() async throws {
        let fixture = try ServiceFixture(testCase: self)
        try await withServer(StoreBackend(store: fixture.store)) { client in
            let health = try await client.execute(uri: "/v1/health", method: .get).decode(HealthResponse.self)
            XCTAssertEqual(health.status, "ok")
            XCTAssertEqual(health.collections, 1)
            XCTAssertFalse(health.readOnly)

            struct List: Decodable { var collections: [CollectionSummary] }
            let list = try await client.execute(uri: "/v1/collections", method: .get).decode(List.self)
            XCTAssertEqual(list.collections.map(\.name), ["colors"])
            XCTAssertEqual(list.collections[0].count, 60)
            XCTAssertEqual(list.collections[0].dim, ServiceFixture.dim)
            XCTAssertEqual(list.collections[0].provenance.modelDigest, "sha256:test")
            XCTAssertEqual(list.collections[0].provenance.layer, "pool")
            XCTAssertEqual(list.collections[0].hnswIndex, [])
        }
    }

    func testCollectionDetailAndUnknownCollection() async throws {
        let fixture = try ServiceFixture(testCase: self)
        try await withServer(StoreBackend(store: fixture.store)) { client in
            let detail = try await client.execute(uri: "/v1/collections/colors", method: .get).decode(CollectionDetail.self)
            XCTAssertEqual(detail.count, 60)
            XCTAssertEqual(detail.labels, ["red": 20, "green": 20, "blue": 20])
            XCTAssertEqual(detail.splits, ["train": 45, "test": 15])
            XCTAssertEqual(detail.classifiers, ["colors-softmax"])
            XCTAssertEqual(detail.pending, 0)
            XCTAssertFalse(detail.acceptsImages)
            XCTAssertEqual(detail.provenance.pooling, "avg")

            let message = try await client.execute(uri: "/v1/collections/nope", method: .get).errorMessage(404)
            XCTAssertTrue(message.contains("nope"), message)
            _ = try await client.execute(uri: "/v1/collections/nope/images", method: .get).errorMessage(404)
            _ = try await client.execute(uri: "/v1/no/such/route", method: .get).errorMessage(404)
        }
    }

    func testImageListPages() async throws {
        let fixture = try ServiceFixture(testCase: self)
        try await withServer(StoreBackend(store: fixture.store)) { client in
            let page = try await client.execute(uri: "/v1/collections/colors/images?offset=10&limit=5", method: .get)
                .decode(ImageListResponse.self)
            XCTAssertEqual(page.total, 60)
            XCTAssertEqual(page.images.map(\.id), Array(fixture.ids.sorted()[10..<15]))
            let blue = try await client.execute(uri: "/v1/collections/colors/images?label=blue&split=test&limit=100", method: .get)
                .decode(ImageListResponse.self)
            XCTAssertEqual(blue.total, 5)
            XCTAssertTrue(blue.images.allSatisfy { $0.label == "blue" && $0.split == "test" })
            _ = try await client.execute(uri: "/v1/collections/colors/images?limit=0", method: .get).errorMessage(400)
            _ = try await client.execute(uri: "/v1/collections/colors/images?limit=x", method: .get).errorMessage(400)
        }
    }

    func testImageMetadataAndFile() async throws {
        let fixture = try ServiceFixture(testCase: self)
        let id = fixture.ids[0]  // red-0.png
        try await withServer(StoreBackend(store: fixture.store)) { client in
            let info = try await client.execute(uri: "/v1/images/\(id)", method: .get).decode(ImageInfo.self)
            XCTAssertEqual(info.id, id)
            XCTAssertEqual(info.label, "red")
            XCTAssertEqual(info.path, "red-0.png")
            XCTAssertEqual(info.collections, ["colors"])

            let file = try await client.execute(uri: "/v1/images/\(id)/file", method: .get)
            XCTAssertEqual(file.status, .ok)
            XCTAssertEqual(file.headers[.contentType], "image/png")
            let expected = try Data(contentsOf: TestPaths.committedFixtures.appendingPathComponent("service/red.png"))
            XCTAssertEqual(file.data, expected)

            let jpeg = try await client.execute(uri: "/v1/images/\(fixture.ids[40])/file", method: .get)
            XCTAssertEqual(jpeg.headers[.contentType], "image/jpeg")

            _ = try await client.execute(uri: "/v1/images/999999", method: .get).errorMessage(404)
            _ = try await client.execute(uri: "/v1/images/999999/file", method: .get).errorMessage(404)
            _ = try await client.execute(uri: "/v1/images/abc", method: .get).errorMessage(400)
            let gone = try await client.execute(uri: "/v1/images/\(fixture.missingFileID)/file", method: .get).errorMessage(404)
            XCTAssertTrue(gone.contains("gone.png"), gone)
            // A path in the URL is never resolved: only ids name files.
            _ = try await client.execute(uri: "/v1/images/..%2F..%2Fetc%2Fpasswd/file", method: .get).errorMessage(400)
        }
    }
}
