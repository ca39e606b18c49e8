import Foundation
@testable import Store
import Tensor
import TestSupport
import XCTest

final class ExportImportTests: XCTestCase {
    func testExportThenImportIsBitExactWithMetadata() throws {
        let directory = try TestPaths.temporaryDirectory(self)
        let dim = 33
        var images = StoreFixtures.images(250)
        images[3].path = "odd, \"quoted\"\nname.jpg"  // CSV quoting
        images[4].label = nil
        images[5].split = nil
        let exportDirectory = directory.appendingPathComponent("export")
        var original: CodeMatrix
        do {
            let store = try FeatureStore(at: directory.appendingPathComponent("a"))
            try store.ensureCollection("c", provenance: StoreFixtures.provenance(), dim: dim)
            try StoreFixtures.fill(store, collection: "c", images: images, dim: dim)
            original = try store.codes("c")
            let summary = try store.export(collection: "c", to: exportDirectory)
            XCTAssertEqual(summary, ExportSummary(count: 250, dim: dim, skippedOrphans: 0))
        }
        let npy = try NPY.read(exportDirectory.appendingPathComponent("codes.npy"))
        XCTAssertEqual(npy.shape, [250, dim])
        XCTAssertEqual(npy.data.map(\.bitPattern), original.values.map(\.bitPattern))
        let meta = try CSV.parse(String(contentsOf: exportDirectory.appendingPathComponent("meta.csv"), encoding: .utf8))
        XCTAssertEqual(meta[0], ["id", "path", "label", "split", "source", "digest"])
        XCTAssertEqual(meta[4], [String(original.ids[3]), "odd, \"quoted\"\nname.jpg", "bees", "val", "/data", "sha256:3"])
        XCTAssertEqual(meta[5][2], "")

        let store = try FeatureStore(at: directory.appendingPathComponent("b"))
        let summary = try store.importCodes(collection: "copy", from: exportDirectory, batchSize: 64)
        XCTAssertEqual(summary, ImportSummary(imported: 250, skipped: 0, total: 250))
        XCTAssertEqual(try store.requireCollection("copy").provenance, StoreFixtures.provenance())
        let copied = try store.codes("copy")
        XCTAssertEqual(copied.values.map(\.bitPattern), original.values.map(\.bitPattern))
        let copiedImages = try store.images(ids: copied.ids)
        XCTAssertEqual(copiedImages.map(\.path), images.map(\.path))
        XCTAssertEqual(copiedImages.map(\.label), images.map(\.label))
        XCTAssertEqual(copiedImages.map(\.split), images.map(\.split))
        XCTAssertEqual(copiedImages.map(\.digest), images.map(\.digest))
        // Importing again is a no-op; into a different provenance it is refused.
        XCTAssertEqual(try store.importCodes(collection: "copy", from: exportDirectory),
                       ImportSummary(imported: 0, skipped: 250, total: 250))
        var other = StoreFixtures.provenance()
        other.layer = "/different"
        XCTAssertThrowsError(try store.importCodes(collection: "copy", from: exportDirectory, provenance: other)) { error in
            guard case .provenanceMismatch("copy", "layer", _, _) = error as? StoreError else { return XCTFail("\(error)") }
        }
    }

    func testFloat16CollectionExportsWidenedAndReimportsExactly() throws {
        let directory = try TestPaths.temporaryDirectory(self)
        let store = try FeatureStore(at: directory.appendingPathComponent("s"))
        try store.ensureCollection("h", provenance: StoreFixtures.provenance(.f16), dim: 10)
        try StoreFixtures.fill(store, collection: "h", images: StoreFixtures.images(30), dim: 10)
        let stored = try store.codes("h")
        try store.export(collection: "h", to: directory.appendingPathComponent("e"))
        _ = try store.importCodes(collection: "h2", from: directory.appendingPathComponent("e"))
        XCTAssertEqual(try store.requireCollection("h2").provenance.dtype, .f16)
        // Same images (same source/path/digest): the ids are shared, the codes identical.
        let copied = try store.codes("h2")
        XCTAssertEqual(copied.ids, stored.ids)
        XCTAssertEqual(copied.values.map(\.bitPattern), stored.values.map(\.bitPattern))
        XCTAssertEqual(try store.imageCount(), 30)
    }

    func testImportRejectsMismatchedFilesWithTheirPath() throws {
        let directory = try TestPaths.temporaryDirectory(self)
        try NPY.write(Tensor(shape: [3, 2], data: [1, 2, 3, 4, 5, 6]), to: directory.appendingPathComponent("codes.npy"))
        try Data("path\na.jpg\nb.jpg\n".utf8).write(to: directory.appendingPathComponent("meta.csv"))
        let store = try FeatureStore(at: directory.appendingPathComponent("s"))
        XCTAssertThrowsError(try store.importCodes(collection: "c", from: directory)) { error in
            XCTAssertTrue("\(error)".contains("meta.csv: 2 rows for 3 codes"), "\(error)")
        }
        try Data("path\na.jpg\nb.jpg\nc.jpg\n".utf8).write(to: directory.appendingPathComponent("meta.csv"))
        XCTAssertThrowsError(try store.importCodes(collection: "c", from: directory)) { error in
            XCTAssertTrue("\(error)".contains("provenance.json"), "\(error)")
        }
        let summary = try store.importCodes(collection: "c", from: directory, provenance: StoreFixtures.provenance())
        XCTAssertEqual(summary.imported, 3)
        XCTAssertEqual(try store.codes("c").values, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(try store.lookup(source: directory.standardizedFileURL.path, path: "b.jpg")?.digest, nil)
    }
}
