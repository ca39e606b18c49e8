import Foundation
@testable import Store
import TestSupport
import XCTest

final class CodeStorageTests: XCTestCase {
    func testFloat16RoundTripIsWithinHalfPrecision() throws {
        let store = try FeatureStore(at: try TestPaths.temporaryDirectory(self))
        let dim = 64
        try store.ensureCollection("h", provenance: StoreFixtures.provenance(.f16), dim: dim)
        let ids = try StoreFixtures.fill(store, collection: "h", images: StoreFixtures.images(20), dim: dim)
        let codes = try store.codes("h")
        XCTAssertEqual(codes.ids, ids)
        var maxRelative: Float = 0
        for (row, id) in ids.enumerated() {
            let original = StoreFixtures.code(for: id, dim: dim)
            let stored = codes.row(row)
            for (a, b) in zip(original, stored) {
                XCTAssertEqual(b, Float(Float16(a)), "round to nearest binary16")
                if a != 0 { maxRelative = max(maxRelative, abs(a - b) / abs(a)) }
            }
        }
        // binary16 has an 11-bit significand: relative rounding error <= 2^-11 (normal range;
        // the codes here are >= 2^-14 or exactly 0).
        XCTAssertLessThanOrEqual(maxRelative, 1.0 / 2048)
        XCTAssertGreaterThan(maxRelative, 0, "f16 must actually round")
        // 2 bytes per element in LMDB: zero-bitmap packed (these codes are about half zeros),
        // header + 8-byte bitmap + 2 bytes per nonzero.
        let dbi = try store.database(of: "h")
        let bytes = try store.codes.read { txn in try txn.get(dbi, id: ids[0])?.count }
        let nonzeros = StoreFixtures.code(for: ids[0], dim: dim).filter { Float16($0).bitPattern != 0 }.count
        XCTAssertEqual(bytes, 4 + dim / 8 + 2 * nonzeros)
    }

    func testFloat32IsStoredBitExactLittleEndian() throws {
        let store = try FeatureStore(at: try TestPaths.temporaryDirectory(self))
        try store.ensureCollection("f", provenance: StoreFixtures.provenance(), dim: 4)
        let id = try store.registerImages(StoreFixtures.images(1), collections: ["f"])[0].id
        let values: [Float] = [.leastNonzeroMagnitude, -0.0, 1e30, .pi]
        try store.putCodes(collection: "f", ids: [id], matrix: values)
        let dbi = try store.database(of: "f")
        let raw = try store.codes.read { txn in try txn.get(dbi, id: id).map { Array($0) } }
        XCTAssertEqual(raw, values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } })
        XCTAssertEqual(try store.code("f", id: id)?.map(\.bitPattern), values.map(\.bitPattern))
    }

    func testMapFullGrowsTheMapAndKeepsEveryCode() throws {
        let directory = try TestPaths.temporaryDirectory(self)
        let dim = 512  // 2 KB codes: 3 MB for 1,500 codes, far above the 256 KB initial map
        do {
            let store = try FeatureStore(at: directory, options: .init(initialMapSize: 256 << 10))
            try store.ensureCollection("g", provenance: StoreFixtures.provenance(), dim: dim)
            for start in stride(from: 0, to: 1500, by: 300) {
                try StoreFixtures.fill(store, collection: "g", images: StoreFixtures.images(300, from: start), dim: dim)
            }
            XCTAssertGreaterThanOrEqual(store.mapGrowths, 3, "MDB_MAP_FULL must have been hit and handled")
            XCTAssertGreaterThanOrEqual(try store.info().mapSize, 3 << 20)
        }
        // Reopening with the small initial size adopts the grown size recorded in the file.
        let store = try FeatureStore(at: directory, options: .init(initialMapSize: 256 << 10))
        let codes = try store.codes("g")
        XCTAssertEqual(codes.count, 1500)
        XCTAssertEqual(try store.requireCollection("g").count, 1500)
        for (row, id) in codes.ids.enumerated() where row % 97 == 0 {
            XCTAssertEqual(codes.row(row), StoreFixtures.code(for: id, dim: dim))
        }
    }

    func testReaderSeesConsistentSnapshotsWhileAWriterRuns() throws {
        // 256 KB: the 2,000 packed codes (~280 B each) outgrow it while the reader runs.
        let store = try FeatureStore(at: try TestPaths.temporaryDirectory(self), options: .init(initialMapSize: 256 << 10))
        let dim = 128
        try store.ensureCollection("r", provenance: StoreFixtures.provenance(), dim: dim)
        let batches = 40
        let batchSize = 50
        let writerDone = DispatchSemaphore(value: 0)
        final class ErrorBox: @unchecked Sendable { var error: Error? }  // written before the signal, read after
        let writerError = ErrorBox()
        DispatchQueue.global().async {
            do {
                for batch in 0..<batches {
                    try StoreFixtures.fill(store, collection: "r", images: StoreFixtures.images(batchSize, from: batch * batchSize), dim: dim)
                }
            } catch {
                writerError.error = error
            }
            writerDone.signal()
        }
        var snapshots = 0
        var sizes = Set<Int>()
        var finished = false
        while !finished {
            finished = writerDone.wait(timeout: .now()) == .success
            let codes = try store.codes("r")
            // Whole batches only: a reader never sees part of a committed transaction.
            XCTAssertEqual(codes.count % batchSize, 0, "snapshot of \(codes.count) codes")
            for (row, id) in codes.ids.enumerated() where row % 37 == 0 {
                XCTAssertEqual(codes.row(row), StoreFixtures.code(for: id, dim: dim))
            }
            sizes.insert(codes.count)
            snapshots += 1
        }
        XCTAssertNil(writerError.error)
        XCTAssertEqual(try store.codes("r").count, batches * batchSize)
        XCTAssertGreaterThan(sizes.count, 2, "the reader ran during the writes (\(snapshots) snapshots)")
        XCTAssertGreaterThan(store.mapGrowths, 0, "map growth happened with a reader active")
    }
}
