import Foundation
@testable import Store
import Tensor
import TestSupport
import XCTest

/// `importCodes` overlaps each batch's LMDB commit with the catalog steps of its neighbours
/// (`pipelinedImport`); these check it keeps the serial protocol's results.
final class PipelinedImportTests: XCTestCase {
    let dim = 24

    /// Writes an import directory: row i has path `paths[i]`, digest `digests[i]` and the
    /// deterministic code of i.
    private func writeImport(_ directory: URL, paths: [String], digests: [String]) throws -> [[Float]] {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let codes = paths.indices.map { StoreFixtures.code(for: Int64($0), dim: dim, salt: 3) }
        try NPY.write(Tensor(shape: [paths.count, dim], data: codes.flatMap { $0 }),
                      to: directory.appendingPathComponent("codes.npy"))
        var meta = "path,label,digest,source\n"
        for (path, digest) in zip(paths, digests) { meta += "\(path),l,\(digest),/src\n" }
        try Data(meta.utf8).write(to: directory.appendingPathComponent("meta.csv"))
        return codes
    }

    private func storedCodes(_ store: FeatureStore) throws -> [String: [UInt32]] {
        let codes = try store.codes("c")
        let images = try store.images(ids: codes.ids)
        XCTAssertEqual(images.map(\.id), codes.ids)
        return Dictionary(uniqueKeysWithValues: images.enumerated().map { ($1.path, codes.row($0).map(\.bitPattern)) })
    }

    func testPipelinedImportResumesBitExactAndConsistent() throws {
        let directory = try TestPaths.temporaryDirectory(self)
        let paths = (0..<1000).map { "img\($0).jpg" }
        let digests = paths.indices.map { "sha256:\($0)" }
        let codes = try writeImport(directory.appendingPathComponent("all"), paths: paths, digests: digests)
        // A first, partial import of 300 rows (as if interrupted), then the whole directory.
        _ = try writeImport(directory.appendingPathComponent("part"), paths: Array(paths[..<300]), digests: Array(digests[..<300]))
        let store = try FeatureStore(at: directory.appendingPathComponent("s"))
        var progress: [Int] = []
        let first = try store.importCodes(collection: "c", from: directory.appendingPathComponent("part"),
                                          provenance: StoreFixtures.provenance(), batchSize: 64)
        XCTAssertEqual(first, ImportSummary(imported: 300, skipped: 0, total: 300))
        let second = try store.importCodes(collection: "c", from: directory.appendingPathComponent("all"),
                                           provenance: StoreFixtures.provenance(), batchSize: 64) { done, _ in progress.append(done) }
        XCTAssertEqual(second, ImportSummary(imported: 700, skipped: 300, total: 1000))
        XCTAssertEqual(progress, Array(stride(from: 64, to: 1000, by: 64)) + [1000], "one progress call per batch, in order")
        XCTAssertGreaterThan(second.timings.commit, 0)
        XCTAssertEqual(try store.requireCollection("c").count, 1000)
        XCTAssertTrue(try store.verify().isConsistent)
        let stored = try storedCodes(store)
        for (row, path) in paths.enumerated() {
            XCTAssertEqual(stored[path], codes[row].map(\.bitPattern), path)
        }
    }

    func testRepeatedPathInALaterBatchReplacesTheEarlierRow() throws {
        // Row 10 and row 70 (batches 0 and 2 of 32 rows) are one path with two digests: a
        // changed file. The later row must replace the earlier one — the import runs its
        // steps serially, as registering row 70 while row 10's batch is in flight would not.
        let directory = try TestPaths.temporaryDirectory(self)
        var paths = (0..<100).map { "img\($0).jpg" }
        var digests = paths.indices.map { "sha256:\($0)" }
        paths[70] = paths[10]
        digests[70] = "sha256:changed"
        let codes = try writeImport(directory.appendingPathComponent("in"), paths: paths, digests: digests)
        let store = try FeatureStore(at: directory.appendingPathComponent("s"))
        let summary = try store.importCodes(collection: "c", from: directory.appendingPathComponent("in"),
                                            provenance: StoreFixtures.provenance(), batchSize: 32)
        XCTAssertEqual(summary.imported, 100)
        XCTAssertEqual(try store.requireCollection("c").count, 99)
        XCTAssertEqual(try store.imageCount(), 99)
        XCTAssertTrue(try store.verify().isConsistent)
        XCTAssertEqual(try store.lookup(source: "/src", path: paths[10])?.digest, "sha256:changed")
        let stored = try storedCodes(store)
        XCTAssertEqual(stored.count, 99)
        XCTAssertEqual(stored[paths[10]], codes[70].map(\.bitPattern), "the later row's code")
        XCTAssertEqual(stored["img11.jpg"], codes[11].map(\.bitPattern))
    }
}
