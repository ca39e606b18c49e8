import Foundation
import GRDB
@testable import Store
import TestSupport
import XCTest

/// The write protocol and reconciliation, one crash window at a time: each test performs the
/// protocol's steps only partially (as a process killed at that point would), drops the
/// store and reopens it.
final class WriteProtocolTests: XCTestCase {
    let dim = 16

    private func makeStore(_ directory: URL) throws -> FeatureStore {
        let store = try FeatureStore(at: directory)
        try store.ensureCollection("c", provenance: StoreFixtures.provenance(), dim: dim)
        return store
    }

    /// Every stored code equals the deterministic code of its id, bit for bit, and the
    /// catalog agrees with LMDB: count == done marks == stored codes.
    private func assertConsistent(_ store: FeatureStore, expectedCount: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let codes = try store.codes("c")
        XCTAssertEqual(codes.count, expectedCount, "stored codes", file: file, line: line)
        XCTAssertEqual(try store.requireCollection("c").count, expectedCount, "collection count", file: file, line: line)
        XCTAssertEqual(try store.imageIDs(collection: "c"), codes.ids, "done marks", file: file, line: line)
        for (row, id) in codes.ids.enumerated() {
            XCTAssertEqual(codes.row(row), StoreFixtures.code(for: id, dim: dim), "code of \(id)", file: file, line: line)
        }
    }

    func testCompleteProtocolStoresBitExactCodesAndResumeSkipsThem() throws {
        let store = try makeStore(try TestPaths.temporaryDirectory(self))
        let ids = try StoreFixtures.fill(store, collection: "c", images: StoreFixtures.images(10), dim: dim)
        try assertConsistent(store, expectedCount: 10)
        XCTAssertEqual(ids, ids.sorted())
        // Re-registering (a re-run) answers done for all of them: nothing to extract again.
        let again = try store.registerImages(StoreFixtures.images(10), collections: ["c"])
        XCTAssertEqual(again.map(\.id), ids)
        XCTAssertTrue(again.allSatisfy { $0.done == ["c"] && $0.pending.isEmpty })
        XCTAssertEqual(try store.code("c", id: ids[3]), StoreFixtures.code(for: ids[3], dim: dim))
        XCTAssertNil(try store.code("c", id: 12345))
    }

    func testCrashAfterRegisteringLeavesPendingRowsThatTheNextRunExtracts() throws {
        let directory = try TestPaths.temporaryDirectory(self)
        do {
            let store = try makeStore(directory)
            try StoreFixtures.fill(store, collection: "c", images: StoreFixtures.images(5), dim: dim)
            _ = try store.registerImages(StoreFixtures.images(5, from: 5), collections: ["c"])  // killed here
        }
        let store = try FeatureStore(at: directory)
        XCTAssertTrue(store.openingReconciliation.isClean, "\(store.openingReconciliation)")
        try assertConsistent(store, expectedCount: 5)
        let rerun = try store.registerImages(StoreFixtures.images(10), collections: ["c"])
        XCTAssertEqual(rerun.filter { $0.pending == ["c"] }.count, 5)
        let pending = rerun.filter { !$0.pending.isEmpty }.map(\.id)
        try store.putCodes(collection: "c", ids: pending, matrix: pending.flatMap { StoreFixtures.code(for: $0, dim: dim) })
        try assertConsistent(store, expectedCount: 10)
    }

    func testCrashBetweenLMDBCommitAndDoneMarksIsAdoptedOnOpen() throws {
        let directory = try TestPaths.temporaryDirectory(self)
        do {
            let store = try makeStore(directory)
            try StoreFixtures.fill(store, collection: "c", images: StoreFixtures.images(5), dim: dim)
            let ids = try store.registerImages(StoreFixtures.images(7, from: 5), collections: ["c"]).map(\.id)
            // Step 2a only: the codes are committed, the marks never written.
            try store.writeCodes([CodeBatch(collection: "c", ids: ids, matrix: ids.flatMap { StoreFixtures.code(for: $0, dim: dim) })])
            XCTAssertEqual(try store.requireCollection("c").count, 5)
        }
        let store = try FeatureStore(at: directory)
        XCTAssertEqual(store.openingReconciliation.adopted, 7)
        XCTAssertEqual(store.openingReconciliation.requeued, 0)
        try assertConsistent(store, expectedCount: 12)
        XCTAssertTrue(try store.registerImages(StoreFixtures.images(12), collections: ["c"]).allSatisfy { $0.pending.isEmpty })
        // A second open finds nothing left to do.
        let store2Directory = directory
        withExtendedLifetime(store) {}
        _ = store2Directory
    }

    func testDoneMarkWithoutCodeIsRequeued() throws {
        let directory = try TestPaths.temporaryDirectory(self)
        var lost: Int64 = 0
        do {
            let store = try makeStore(directory)
            let ids = try StoreFixtures.fill(store, collection: "c", images: StoreFixtures.images(6), dim: dim)
            lost = ids[2]
            // Outside damage (e.g. an LMDB file restored from an older backup): a code vanishes.
            let dbi = try store.database(of: "c")
            try store.codes.write { txn in XCTAssertTrue(try txn.delete(dbi, id: lost)) }
        }
        let store = try FeatureStore(at: directory)
        XCTAssertEqual(store.openingReconciliation.requeued, 1)
        XCTAssertEqual(store.openingReconciliation.countsFixed, 1)
        try assertConsistent(store, expectedCount: 5)
        let rerun = try store.registerImages(StoreFixtures.images(6), collections: ["c"])
        XCTAssertEqual(rerun.filter { !$0.pending.isEmpty }.map(\.id), [lost])
    }

    func testCodeWithoutImageRowIsDeleted() throws {
        let directory = try TestPaths.temporaryDirectory(self)
        do {
            let store = try makeStore(directory)
            let ids = try StoreFixtures.fill(store, collection: "c", images: StoreFixtures.images(4), dim: dim)
            // Killed between deleting a changed file's row and deleting its codes.
            try store.catalog.write { db in try FeatureStore.deleteImage(db, id: ids[0]) }
        }
        let store = try FeatureStore(at: directory)
        XCTAssertEqual(store.openingReconciliation.orphansDeleted, 1)
        try assertConsistent(store, expectedCount: 3)
    }

    func testCodeWithImageRowButNoMarkIsAdopted() throws {
        let directory = try TestPaths.temporaryDirectory(self)
        do {
            let store = try makeStore(directory)
            let ids = try StoreFixtures.fill(store, collection: "c", images: StoreFixtures.images(4), dim: dim)
            try store.catalog.write { db in
                try db.execute(sql: "DELETE FROM code_status WHERE image_id = ?", arguments: [ids[1]])
            }
        }
        let store = try FeatureStore(at: directory)
        XCTAssertEqual(store.openingReconciliation.adopted, 1)
        try assertConsistent(store, expectedCount: 4)
    }

    func testChangedFileGetsANewIdAndItsOldCodeIsRemoved() throws {
        let store = try makeStore(try TestPaths.temporaryDirectory(self))
        let ids = try StoreFixtures.fill(store, collection: "c", images: StoreFixtures.images(3), dim: dim)
        var changed = StoreFixtures.images(3)
        changed[1].digest = "sha256:new-content"
        let rerun = try store.registerImages(changed, collections: ["c"])
        XCTAssertEqual(rerun[0].id, ids[0])
        XCTAssertTrue(rerun[1].replacedChangedFile)
        XCTAssertGreaterThan(rerun[1].id, ids[2], "ids are never reused")
        XCTAssertEqual(rerun[1].pending, ["c"])
        XCTAssertNil(try store.code("c", id: ids[1]))
        XCTAssertEqual(try store.requireCollection("c").count, 2)
        XCTAssertEqual(try store.lookup(source: "/data", path: "img1.jpg")?.digest, "sha256:new-content")
        try store.putCodes(collection: "c", ids: [rerun[1].id], matrix: StoreFixtures.code(for: rerun[1].id, dim: dim))
        try assertConsistent(store, expectedCount: 3)
    }

    func testSeveralCollectionsShareImageRowsAndOneBatch() throws {
        let store = try makeStore(try TestPaths.temporaryDirectory(self))
        try store.ensureCollection("c2", provenance: StoreFixtures.provenance(.f16, layer: "/other"), dim: 3)
        let registered = try store.registerImages(StoreFixtures.images(4), collections: ["c", "c2"])
        XCTAssertTrue(registered.allSatisfy { $0.pending == ["c", "c2"] })
        let ids = registered.map(\.id)
        try store.putCodes([
            CodeBatch(collection: "c", ids: ids, matrix: ids.flatMap { StoreFixtures.code(for: $0, dim: dim) }),
            CodeBatch(collection: "c2", ids: ids, matrix: ids.flatMap { _ in [0.5, 1, 2] }),
        ])
        XCTAssertEqual(try store.imageCount(), 4)
        XCTAssertEqual(try store.requireCollection("c2").count, 4)
        XCTAssertEqual(try store.codes("c2").values, ids.flatMap { _ in [Float(0.5), 1, 2] })
        try assertConsistent(store, expectedCount: 4)
    }

    func testFiltersByLabelAndSplit() throws {
        let store = try makeStore(try TestPaths.temporaryDirectory(self))
        try StoreFixtures.fill(store, collection: "c", images: StoreFixtures.images(12), dim: dim)
        let ants = try store.codes("c", filter: ImageFilter(label: "ants"))
        XCTAssertEqual(ants.count, 6)
        let antsVal = try store.codes("c", filter: ImageFilter(label: "ants", split: "val"))
        let expected = try store.images(ids: ants.ids).filter { $0.split == "val" }.map(\.id)
        XCTAssertEqual(antsVal.ids, expected)
        XCTAssertEqual(antsVal.count, 2)  // indices 0 and 6
        for (row, id) in antsVal.ids.enumerated() {
            XCTAssertEqual(antsVal.row(row), StoreFixtures.code(for: id, dim: dim))
        }
        XCTAssertEqual(try store.labels(collection: "c"), ["ants", "bees"])
    }
}

extension WriteProtocolTests {
    func testPuttingAnExistingCodeReplacesItWithoutChangingTheCount() throws {
        let store = try makeStore(try TestPaths.temporaryDirectory(self))
        let ids = try StoreFixtures.fill(store, collection: "c", images: StoreFixtures.images(3), dim: dim)
        let replacement = [Float](repeating: 0.25, count: dim)
        try store.putCodes(collection: "c", ids: [ids[1]], matrix: replacement)  // not above the last id: no append
        XCTAssertEqual(try store.code("c", id: ids[1]), replacement)
        XCTAssertEqual(try store.requireCollection("c").count, 3)
        XCTAssertEqual(try store.codes("c").ids, ids)
        // Out-of-order ids in one batch are stored too.
        let more = try store.registerImages(StoreFixtures.images(2, from: 3), collections: ["c"]).map(\.id)
        let reversed = Array(more.reversed())
        try store.putCodes(collection: "c", ids: reversed, matrix: reversed.flatMap { StoreFixtures.code(for: $0, dim: dim) })
        XCTAssertEqual(try store.requireCollection("c").count, 5)
        XCTAssertEqual(try store.code("c", id: more[0]), StoreFixtures.code(for: more[0], dim: dim))
        XCTAssertTrue(try store.verify().isConsistent)
    }
}

extension WriteProtocolTests {
    func testRegisteringTheSamePathTwiceInOneBatchGivesOneRow() throws {
        let store = try makeStore(try TestPaths.temporaryDirectory(self))
        var batch = StoreFixtures.images(3)
        batch.append(batch[1])
        batch.append(NewImage(source: "/other", path: "img1.jpg", digest: "sha256:1", label: "x"))  // another root
        let registered = try store.registerImages(batch, collections: ["c"])
        XCTAssertEqual(registered.count, 5)
        XCTAssertEqual(registered[3].id, registered[1].id)
        XCTAssertNotEqual(registered[4].id, registered[1].id)
        XCTAssertEqual(try store.imageCount(), 4)
        XCTAssertEqual(Set(registered.map(\.id)).count, 4)
        XCTAssertTrue(registered.allSatisfy { $0.pending == ["c"] })
        // Label/split given later update the row; nil leaves them.
        var relabeled = StoreFixtures.images(1)
        relabeled[0].label = "wasps"
        relabeled[0].split = nil
        _ = try store.registerImages(relabeled, collections: ["c"])
        XCTAssertEqual(try store.image(id: registered[0].id)?.label, "wasps")
        XCTAssertEqual(try store.image(id: registered[0].id)?.split, "val")
    }
}
