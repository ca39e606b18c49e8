import Foundation
@testable import Store
import TestSupport
import XCTest

final class ProvenanceTests: XCTestCase {
    func testSameProvenanceReopensAndDifferentOneIsRefusedNamingTheField() throws {
        let store = try FeatureStore(at: try TestPaths.temporaryDirectory(self))
        let base = StoreFixtures.provenance()
        let created = try store.ensureCollection("effnet", provenance: base, dim: 8)
        var moved = base
        moved.modelPath = "/elsewhere/m.onnx"  // the path is informational, not identity
        XCTAssertEqual(try store.ensureCollection("effnet", provenance: moved, dim: 8).id, created.id)

        let variants: [(String, (inout Provenance) -> Void)] = [
            ("model digest", { $0.modelDigest = "sha256:other" }),
            ("layer", { $0.layer = "/other" }),
            ("preprocessing", { $0.preprocessingJSON = "{}" }),
            ("pooling", { $0.pooling = "max" }),
            ("relu", { $0.relu = false }),
            ("dtype", { $0.dtype = .f16 }),
        ]
        for (field, change) in variants {
            var other = base
            change(&other)
            XCTAssertThrowsError(try store.ensureCollection("effnet", provenance: other, dim: 8)) { error in
                guard case .provenanceMismatch(let collection, let named, _, _) = error as? StoreError else {
                    return XCTFail("\(error)")
                }
                XCTAssertEqual(collection, "effnet")
                XCTAssertEqual(named, field)
                XCTAssertTrue("\(error)".contains("collection 'effnet'") && "\(error)".contains(field), "\(error)")
            }
        }
        XCTAssertThrowsError(try store.ensureCollection("effnet", provenance: base, dim: 9)) { error in
            XCTAssertEqual(error as? StoreError, .dimensionMismatch(collection: "effnet", expected: 8, got: 9, imageID: nil))
        }
        XCTAssertThrowsError(try store.ensureCollection("bad name", provenance: base, dim: 8)) { error in
            XCTAssertEqual(error as? StoreError, .invalidCollectionName("bad name"))
        }
        XCTAssertEqual(try store.collections().count, 1)
    }

    func testPuttingCodesOfTheWrongDimensionIsRefusedAndStoresNothing() throws {
        let store = try FeatureStore(at: try TestPaths.temporaryDirectory(self))
        try store.ensureCollection("c", provenance: StoreFixtures.provenance(), dim: 4)
        let ids = try store.registerImages(StoreFixtures.images(2), collections: ["c"]).map(\.id)
        XCTAssertThrowsError(try store.putCodes(collection: "c", ids: ids, matrix: [Float](repeating: 1, count: 6)))
        XCTAssertThrowsError(try store.putCodes(collection: "c", ids: [999], matrix: [1, 2, 3, 4])) { error in
            XCTAssertEqual(error as? StoreError, .unknownImage(999))
        }
        XCTAssertEqual(try store.codes("c").count, 0)
        XCTAssertEqual(try store.requireCollection("c").count, 0)
    }
}
