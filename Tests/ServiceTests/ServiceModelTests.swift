import Extraction
import Foundation
import Hummingbird
import HummingbirdTesting
import Imaging
@testable import Service
import Store
import TestSupport
import XCTest

/// Uploads coded by the real model (EfficientNet-Lite0 from ../shared) through
/// `StoreCodeExtractors`: a photo uploaded to a collection extracted from the same photos
/// finds itself with cosine ≈ 1, so the service reproduces the collection's provenance.
final class ServiceModelTests: ServiceTestCase {
    func testUploadedPhotosFindThemselvesWithTheCollectionsModel() async throws {
        let modelURL = try TestPaths.requireShared("models/efficientnet_lite0.onnx")
        let folder = try TestPaths.requireShared("data/hymenoptera/val/bees")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".jpg") }.sorted()
        let photos = Array(files.prefix(6))
        let layer = "/_avg_pooling/GlobalAveragePool_output_0"

        // The collection, extracted with Extraction's CodeExtractor as `cnncodes extract` does.
        let directory = try TestPaths.temporaryDirectory(self)
        let store = try FeatureStore(at: directory.appendingPathComponent("store"), options: .init(initialMapSize: 64 << 20))
        let extractor = try CodeExtractor(modelURL: modelURL, layers: [layer], preprocessing: try Preprocessing.named("efficientnet-lite"),
                                          reducer: CodeReducer(relu: true, pooling: .avg))
        let record = try store.ensureCollection("bees", provenance: extractor.provenance(layer: layer, dtype: .f32), dim: 1280)
        let registered = try store.registerImages(
            photos.map { NewImage(source: folder.path, path: $0, digest: nil, label: "bees", split: "val") }, collections: ["bees"])
        let tensors = try photos.map { try extractor.preprocessing.load(folder.appendingPathComponent($0)).tensor }
        let codes = try extractor.codes(for: tensors, batchSize: 4)[layer]!
        try store.putCodes(collection: "bees", ids: registered.map(\.id), matrix: codes.flatMap { $0 })
        XCTAssertEqual(record.dim, codes[0].count)

        let backend = StoreBackend(store: store, extractor: StoreCodeExtractors())
        let uploads = try photos.prefix(4).map { try Data(contentsOf: folder.appendingPathComponent($0)) }
        try await withServer(backend) { client in
            // Four uploads at once: the batcher shares forward passes between them.
            let answers = try await withThrowingTaskGroup(of: (Int, SearchResponse).self) { group in
                for (i, data) in uploads.enumerated() {
                    group.addTask {
                        let response = try await client.execute(uri: "/v1/collections/bees/search/image?k=2", method: .post,
                                                                body: ByteBuffer(bytes: data))
                        return (i, try response.decode(SearchResponse.self))
                    }
                }
                var answers = [SearchResponse?](repeating: nil, count: uploads.count)
                for try await (i, answer) in group { answers[i] = answer }
                return answers
            }
            for (i, answer) in answers.enumerated() {
                XCTAssertEqual(answer?.hits.first?.id, registered[i].id, "upload \(photos[i])")
                XCTAssertEqual(answer?.hits.first?.score ?? 0, 1, accuracy: 1e-4, "upload \(photos[i])")
            }
            let detail = try await client.execute(uri: "/v1/collections/bees", method: .get).decode(CollectionDetail.self)
            XCTAssertTrue(detail.acceptsImages)
        }

        // A collection whose model file is gone: uploads are 501 naming the file.
        let moved = try FeatureStore(at: directory.appendingPathComponent("other"), options: .init(initialMapSize: 16 << 20))
        var provenance = extractor.provenance(layer: layer, dtype: .f32)
        provenance.modelPath = directory.appendingPathComponent("missing.onnx").path
        try moved.ensureCollection("lost", provenance: provenance, dim: 1280)
        try await withServer(StoreBackend(store: moved, extractor: StoreCodeExtractors())) { client in
            let message = try await client.execute(uri: "/v1/collections/lost/search/image", method: .post,
                                                   body: ByteBuffer(bytes: uploads[0])).errorMessage(501)
            XCTAssertTrue(message.contains("missing.onnx"), message)
        }
    }
}
