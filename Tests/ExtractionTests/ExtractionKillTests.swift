import Foundation
import Store
import TestSupport
import XCTest

/// A real `cnncodes extract` killed with SIGKILL at exact points of the write protocol
/// (`CNNCODES_STORE_KILL_AT`, the store's test hook) and at timed moments: afterwards the
/// store opens cleanly, verifies consistent, and a re-run completes it with the same codes as
/// an uninterrupted run.
final class ExtractionKillTests: XCTestCase {
    static let layer = "/_avg_pooling/GlobalAveragePool_output_0"

    private func extract(store: URL, images: URL, model: URL, environment: [String: String] = [:], killAfter seconds: Double? = nil) throws -> Int32 {
        let process = Process()
        process.executableURL = try TestPaths.requireExecutable()
        process.arguments = ["extract", "--model", model.path, "--layer", Self.layer, "--profile", "efficientnet-lite",
                             "--images", images.path, "--store", store.path, "--collection", "c", "--batch", "4", "--quiet"]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        if let seconds {
            Thread.sleep(forTimeInterval: seconds)
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    func testKilledExtractionsResumeToTheSameCodes() throws {
        let model = try TestPaths.requireShared("models/efficientnet_lite0.onnx")
        let data = try TestPaths.requireShared("data/hymenoptera/val/bees")
        let root = try TestPaths.temporaryDirectory(self)
        // A 24-image folder (links to real photos) keeps the test short.
        let images = root.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: data.path).sorted().prefix(24) {
            try FileManager.default.createSymbolicLink(at: images.appendingPathComponent(name), withDestinationURL: data.appendingPathComponent(name))
        }

        let reference = root.appendingPathComponent("reference")
        XCTAssertEqual(try extract(store: reference, images: images, model: model), 0)
        let expected = try codesByPath(reference)
        XCTAssertEqual(expected.count, 24)

        let store = root.appendingPathComponent("store")
        var previous = 0
        // Exact protocol points: after the 2nd batch's LMDB commit (before its done marks),
        // after the 3rd batch's done marks; then a timed kill somewhere in a later batch.
        for environment in [["CNNCODES_STORE_KILL_AT": "after-codes:2"], ["CNNCODES_STORE_KILL_AT": "after-marks:1"]] {
            let status = try extract(store: store, images: images, model: model, environment: environment)
            XCTAssertNotEqual(status, 0, "the process was killed (\(environment))")
            let stored = try check(store, against: expected, context: "\(environment)")
            XCTAssertGreaterThan(stored, previous, "each killed run still committed batches")
            previous = stored
        }
        _ = try extract(store: store, images: images, model: model, killAfter: 1.5)
        previous = max(previous, try check(store, against: expected, context: "timed kill"))

        XCTAssertEqual(try extract(store: store, images: images, model: model), 0)
        XCTAssertEqual(try check(store, against: expected, context: "final re-run"), 24)
    }

    /// Opens (reconciling), verifies, compares every stored code with the uninterrupted run's.
    private func check(_ url: URL, against expected: [String: [Float]], context: String) throws -> Int {
        let store = try FeatureStore(at: url)
        let report = try store.verify()
        XCTAssertTrue(report.isConsistent, "\(context): \(report.problems)")
        let codes = try codesByPath(url, store: store)
        for (path, code) in codes {
            guard let reference = expected[path] else { XCTFail("\(context): unexpected \(path)"); continue }
            // Batches differ between runs (padding neighbours), which may change the last bits.
            let worst = zip(code, reference).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 1e-4 * (reference.max() ?? 1) + 1e-6, "\(context): \(path)")
        }
        return codes.count
    }

    private func codesByPath(_ url: URL, store existing: FeatureStore? = nil) throws -> [String: [Float]] {
        let store = try existing ?? FeatureStore(at: url, mode: .readOnly)
        guard try store.collection(named: "c") != nil else { return [:] }
        let codes = try store.codes("c")
        let records = try store.images(ids: codes.ids)
        var result: [String: [Float]] = [:]
        for (row, record) in records.enumerated() { result[record.path] = codes.row(row) }
        return result
    }
}
