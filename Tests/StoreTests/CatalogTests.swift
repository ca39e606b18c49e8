import Foundation
import GRDB
@testable import Store
import TestSupport
import XCTest

final class CatalogTests: XCTestCase {
    func testFreshStoreIsMigratedAndEmpty() throws {
        let directory = try TestPaths.temporaryDirectory(self).appendingPathComponent("s")
        let store = try FeatureStore(at: directory)
        let tables = try store.catalog.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        }
        for table in ["classifiers", "code_status", "collections", "failures", "images", "run_collections", "runs"] {
            XCTAssertTrue(tables.contains(table), "missing table \(table) in \(tables)")
        }
        let applied = try store.catalog.read { db in try CatalogMigrations.migrator.appliedMigrations(db) }
        XCTAssertEqual(applied, ["v1"])
        let journal = try store.catalog.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        XCTAssertEqual(journal, "wal")
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent("codes.lmdb/data.mdb").path))
        XCTAssertEqual(try store.collections(), [])
        XCTAssertEqual(try store.imageCount(), 0)
        XCTAssertTrue(store.openingReconciliation.isClean)
    }

    func testReopeningKeepsDataAndDoesNotRemigrate() throws {
        let directory = try TestPaths.temporaryDirectory(self)
        do {
            let store = try FeatureStore(at: directory)
            try store.ensureCollection("c", provenance: StoreFixtures.provenance(), dim: 4)
            try StoreFixtures.fill(store, collection: "c", images: StoreFixtures.images(3), dim: 4)
        }
        let store = try FeatureStore(at: directory)
        XCTAssertEqual(try store.requireCollection("c").count, 3)
        XCTAssertTrue(store.openingReconciliation.isClean)
    }

    func testSchemaConstraintsRejectBadRows() throws {
        let store = try FeatureStore(at: try TestPaths.temporaryDirectory(self))
        XCTAssertThrowsError(try store.catalog.write { db in
            try db.execute(sql: """
                INSERT INTO collections (name, model_digest, model_path, layer, preprocessing, pooling, relu, dtype, dim)
                VALUES ('x', 'd', '', 'l', '{}', 'avg', 1, 'f64', 3)
                """)
        })
        XCTAssertThrowsError(try store.catalog.write { db in
            try db.execute(sql: "INSERT INTO code_status (image_id, collection_id, state) VALUES (99, 99, 'done')")
        }, "foreign keys must be enforced")
    }

    func testSecondInstanceInOneProcessIsRefused() throws {
        let directory = try TestPaths.temporaryDirectory(self)
        let store = try FeatureStore(at: directory)
        XCTAssertThrowsError(try FeatureStore(at: directory)) { error in
            XCTAssertEqual(error as? StoreError, .alreadyOpen(path: directory.resolvingSymlinksInPath().path))
        }
        withExtendedLifetime(store) {}
    }

    func testUnwritableLocationIsAClearError() throws {
        let directory = try TestPaths.temporaryDirectory(self)
        let blocker = directory.appendingPathComponent("file")
        try Data("x".utf8).write(to: blocker)
        XCTAssertThrowsError(try FeatureStore(at: blocker.appendingPathComponent("store"))) { error in
            guard case .unwritable(let path, _) = error as? StoreError else { return XCTFail("\(error)") }
            XCTAssertTrue(path.hasSuffix("file/store"), path)
            XCTAssertTrue("\(error)".contains("not writable"), "\(error)")
        }
        // A read-only directory (skipped as root, who may write anywhere).
        if getuid() != 0 {
            let readOnly = directory.appendingPathComponent("ro")
            try FileManager.default.createDirectory(at: readOnly, withIntermediateDirectories: true)
            chmod(readOnly.path, 0o555)
            defer { chmod(readOnly.path, 0o755) }
            XCTAssertThrowsError(try FeatureStore(at: readOnly.appendingPathComponent("store")))
        }
    }

    func testReadOnlyOpenOfMissingStore() throws {
        let directory = try TestPaths.temporaryDirectory(self).appendingPathComponent("nothing")
        XCTAssertThrowsError(try FeatureStore(at: directory, mode: .readOnly)) { error in
            XCTAssertEqual(error as? StoreError, .missing(path: directory.standardizedFileURL.path))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.path))
    }

    func testRunsFailuresAndClassifiers() throws {
        let store = try FeatureStore(at: try TestPaths.temporaryDirectory(self))
        try store.ensureCollection("c", provenance: StoreFixtures.provenance(), dim: 2)
        let run = try store.beginRun(command: "cnncodes extract", collections: ["c"])
        try store.recordFailure(source: "/data", path: "bad-truncated.jpg", reason: "truncated JPEG", run: run)
        try store.finishRun(run, counts: RunCounts(done: 5, skipped: 1, failed: 1))
        let failures = try store.failures()
        XCTAssertEqual(failures.map(\.path), ["bad-truncated.jpg"])
        XCTAssertEqual(failures.first?.reason, "truncated JPEG")
        XCTAssertEqual(failures.first?.runID, run)
        let runs = try store.runs()
        XCTAssertEqual(runs.first?.collections, ["c"])
        XCTAssertEqual(runs.first?.counts, RunCounts(done: 5, skipped: 1, failed: 1))
        XCTAssertNotNil(runs.first?.finished)

        try store.saveClassifier(name: "svm", collection: "c", kind: "linear-svm", modelJSON: #"{"w":[1,2]}"#,
                                 metricsJSON: #"{"accuracy":0.9}"#)
        XCTAssertEqual(try store.classifier(named: "svm").modelJSON, #"{"w":[1,2]}"#)
        XCTAssertThrowsError(try store.saveClassifier(name: "svm", collection: "c", kind: "k", modelJSON: "{}"),
                             "names are unique")
        XCTAssertThrowsError(try store.saveClassifier(name: "bad", collection: "c", kind: "k", modelJSON: "not json"))
        try store.saveClassifier(name: "svm", collection: "c", kind: "softmax", modelJSON: "{}", replace: true)
        XCTAssertEqual(try store.classifier(named: "svm").kind, "softmax")
        XCTAssertThrowsError(try store.classifier(named: "none")) { error in
            XCTAssertEqual(error as? StoreError, .unknownClassifier("none"))
        }
    }
}
