import Extraction
import Foundation
import Imaging
import Store
import Tensor
import TestSupport
import XCTest

/// The whole pipeline on the real data set: our decode + preprocess + engine against PIL +
/// ONNX Runtime codes (tools/fixtures/pil_ort_codes.py), then a resumed re-run.
final class HymenopteraExtractionTests: XCTestCase {
    static let layer = "/_avg_pooling/GlobalAveragePool_output_0"

    func testCodesMatchPILPlusONNXRuntimeAndReRunSkipsEverything() throws {
        let model = try TestPaths.requireShared("models/efficientnet_lite0.onnx")
        let data = try TestPaths.requireShared("data/hymenoptera")
        let referenceCodes = try NPY.read(try TestPaths.requireGenerated("pil_ort_codes/codes.npy"))
        let manifest = try JSONSerialization.jsonObject(
            with: Data(contentsOf: try TestPaths.requireGenerated("pil_ort_codes/manifest.json"))) as! [String: Any]
        let referencePaths = (manifest["images"] as! [[String: Any]]).map {
            // "hymenoptera/train/ants/x.jpg" → "train/ants/x.jpg"
            String(($0["path"] as! String).split(separator: "/", maxSplits: 1)[1])
        }

        let storeURL = try TestPaths.temporaryDirectory(self).appendingPathComponent("store")
        let store = try FeatureStore(at: storeURL)
        let extractor = try CodeExtractor(
            modelURL: model, layers: [Self.layer], preprocessing: try Preprocessing.named("efficientnet-lite"),
            reducer: CodeReducer())
        let images = try DatasetScanner.scan(folder: data)
        let job = ExtractionJob(images: images, source: data.path, collections: ["lite0"], batchSize: 16)
        let summary = try ExtractionPipeline.run(job, extractor: extractor, store: store)

        // 397 JPEGs stored; the GIF refused with its reason (GIF is a documented refusal).
        XCTAssertEqual(summary.total, 398)
        XCTAssertEqual(summary.extracted, 397)
        XCTAssertEqual(summary.failed, 1)
        XCTAssertTrue(summary.failures[0].path.hasSuffix("imageNotFound.gif"))
        XCTAssertTrue(summary.failures[0].reason.contains("GIF"), summary.failures[0].reason)
        XCTAssertEqual(try store.failures().count, 1)

        let codes = try store.codes("lite0")
        XCTAssertEqual(codes.count, 397)
        XCTAssertEqual(codes.dim, 1280)
        let pathOf = Dictionary(uniqueKeysWithValues: try store.images(ids: codes.ids).map { ($0.path, $0.id) })
        let rowOf = Dictionary(uniqueKeysWithValues: codes.ids.enumerated().map { ($1, $0) })
        XCTAssertEqual(referencePaths.count, 397)
        var worst: Float = 1
        for (refRow, path) in referencePaths.enumerated() {
            guard let id = pathOf[path], let row = rowOf[id] else { XCTFail("no code for \(path)"); continue }
            let ours = codes.row(row)
            let theirs = Array(referenceCodes.data[(refRow * 1280)..<((refRow + 1) * 1280)])
            XCTAssertTrue(ours.allSatisfy { $0 >= 0 }, "codes are ReLU'd")
            let cosine = dot(ours, theirs) / (dot(ours, ours).squareRoot() * dot(theirs, theirs).squareRoot())
            worst = min(worst, cosine)
            XCTAssertGreaterThanOrEqual(cosine, 0.999, path)
        }
        print("hymenoptera: worst cosine to PIL + ONNX Runtime codes \(worst) over 397 images")

        // Labels and splits from the folders.
        XCTAssertEqual(try store.imageIDs(collection: "lite0", filter: ImageFilter(label: "bees", split: "val")).count, 83)

        // Same command again: everything is skipped, nothing re-extracted.
        let again = try ExtractionPipeline.run(job, extractor: extractor, store: store)
        XCTAssertEqual(again.extracted, 0)
        XCTAssertEqual(again.skipped, 397)
        XCTAssertEqual(try store.codes("lite0").count, 397)
    }

    func testAnotherProvenanceIsRefused() throws {
        let model = try TestPaths.requireShared("models/efficientnet_lite0.onnx")
        let data = try TestPaths.requireShared("data/bad-inputs")
        let store = try FeatureStore(at: try TestPaths.temporaryDirectory(self).appendingPathComponent("store"))
        let images = try DatasetScanner.scan(folder: data).filter { $0.relativePath == "ok-1x1.png" }
        let job = ExtractionJob(images: images, source: data.path, collections: ["c"], batchSize: 2)
        _ = try ExtractionPipeline.run(job, extractor: try CodeExtractor(
            modelURL: model, layers: [Self.layer], preprocessing: try Preprocessing.named("efficientnet-lite"),
            reducer: CodeReducer()), store: store)
        let other = try CodeExtractor(
            modelURL: model, layers: [Self.layer], preprocessing: try Preprocessing.named("torchvision"), reducer: CodeReducer())
        XCTAssertThrowsError(try ExtractionPipeline.run(job, extractor: other, store: store)) { error in
            XCTAssertTrue("\(error)".contains("'c'"), "\(error)")
            XCTAssertTrue("\(error)".lowercased().contains("preprocessing"), "\(error)")
        }
    }

    func testBadInputsAreRecordedAndTheRestExtracted() throws {
        let model = try TestPaths.requireShared("models/efficientnet_lite0.onnx")
        let data = try TestPaths.requireShared("data/bad-inputs")
        let store = try FeatureStore(at: try TestPaths.temporaryDirectory(self).appendingPathComponent("store"))
        let images = try DatasetScanner.scan(folder: data)
        let job = ExtractionJob(images: images, source: data.path, collections: ["c"], batchSize: 4)
        let summary = try ExtractionPipeline.run(job, extractor: try CodeExtractor(
            modelURL: model, layers: [Self.layer], preprocessing: try Preprocessing.named("efficientnet-lite"),
            reducer: CodeReducer()), store: store)
        let failed = Set(summary.failures.map(\.path))
        for image in images {
            let name = image.relativePath
            if name.hasPrefix("ok") {
                XCTAssertFalse(failed.contains(name), "\(name) must decode")
            } else if name.hasPrefix("bad-") {
                XCTAssertTrue(failed.contains(name), "\(name) must be refused")
            }
        }
        for failure in summary.failures {
            XCTAssertTrue(failure.reason.contains(failure.path) || failure.reason.contains(data.path), "reason names the file: \(failure.reason)")
            XCTAssertFalse(failure.reason.contains("\n"), "one-line reason")
        }
        XCTAssertEqual(summary.extracted + summary.failed, images.count)
    }

    private func dot(_ a: [Float], _ b: [Float]) -> Float {
        var s: Float = 0
        for i in a.indices { s += a[i] * b[i] }
        return s
    }
}
