import Foundation
@testable import Store
import Tensor
import TestSupport
import XCTest

/// Real crashes: the debug `cnncodes import` is SIGKILLed while importing (after a given
/// batch line on stdout, and at exact protocol points via `CNNCODES_STORE_KILL_AT`), and run
/// under a file-size limit (disk full). After each, the store must open cleanly, verify
/// consistent, hold only bit-exact codes, and a re-run must complete it.
final class KillTests: XCTestCase {
    let count = 4000
    let dim = 256
    let batch = 200

    private var binary: URL!
    private var source: URL!
    private var storeURL: URL!
    /// Source code bytes by path.
    private var expected: [String: [UInt32]] = [:]

    override func setUpWithError() throws {
        binary = try TestPaths.requireExecutable()
        let directory = try TestPaths.temporaryDirectory(self)
        source = directory.appendingPathComponent("source")
        storeURL = directory.appendingPathComponent("store")
        try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
        var values = [Float](repeating: 0, count: count * dim)
        var meta = "id,path,label,split\n"
        for row in 0..<count {
            let code = StoreFixtures.code(for: Int64(row), dim: dim, salt: 7)
            values.replaceSubrange((row * dim)..<((row + 1) * dim), with: code)
            let path = "class\(row % 4)/image\(row).jpg"
            meta += "\(row),\(path),class\(row % 4),\(row % 5 == 0 ? "val" : "train")\n"
            expected[path] = code.map(\.bitPattern)
        }
        try NPY.write(Tensor(shape: [count, dim], data: values), to: source.appendingPathComponent("codes.npy"))
        try Data(meta.utf8).write(to: source.appendingPathComponent("meta.csv"))
        let exported = ExportedCollection(collection: "k", dim: dim, count: count, provenance: StoreFixtures.provenance())
        try JSONEncoder().encode(exported).write(to: source.appendingPathComponent("provenance.json"))
    }

    private func importProcess(environment: [String: String] = [:], shellPrefix: String? = nil) -> (Process, Pipe) {
        let process = Process()
        let arguments = ["import", "--store", storeURL.path, "--collection", "k", "--from", source.path, "--batch", String(batch)]
        if let shellPrefix {
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = ["-c", shellPrefix + " exec \"$0\" \"$@\"", binary.path] + arguments
        } else {
            process.executableURL = binary
            process.arguments = arguments
        }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        return (process, output)
    }

    /// Starts an import and SIGKILLs it `delayMicroseconds` after its `lines`-th batch line.
    private func killImport(afterLines lines: Int, delayMicroseconds: UInt32) throws {
        let (process, output) = importProcess()
        try process.run()
        var seen = 0
        var buffer = ""
        let handle = output.fileHandleForReading
        while seen < lines {
            let data = handle.availableData
            if data.isEmpty { break }  // the import finished before reaching that line
            buffer += String(decoding: data, as: UTF8.self)
            seen = buffer.components(separatedBy: "\n").filter { $0.hasPrefix("imported ") }.count
        }
        usleep(delayMicroseconds)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Runs an import to its end; returns its exit status and output.
    @discardableResult
    private func runImport(environment: [String: String] = [:], shellPrefix: String? = nil) throws -> (Int32, String) {
        let (process, output) = importProcess(environment: environment, shellPrefix: shellPrefix)
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Opens the store (reconciling), checks the invariants and every code; returns the count.
    @discardableResult
    private func checkStore(_ context: String, file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        let store = try FeatureStore(at: storeURL)
        let report = try store.verify()
        XCTAssertTrue(report.isConsistent, "\(context): \(report.problems)", file: file, line: line)
        guard let collection = try store.collection(named: "k") else { return 0 }
        let codes = try store.codes("k")
        XCTAssertEqual(codes.count, collection.count, context, file: file, line: line)
        let images = try store.images(ids: codes.ids)
        XCTAssertEqual(images.map(\.id), codes.ids, context, file: file, line: line)
        for (row, image) in images.enumerated() {
            let stored = codes.row(row).map(\.bitPattern)
            XCTAssertEqual(stored, expected[image.path], "\(context): code of \(image.path)", file: file, line: line)
        }
        return codes.count
    }

    func testKilledImportsLeaveAConsistentStoreAndAReRunCompletesIt() throws {
        var previous = 0
        // Timed kills: after the 1st, 4th and 9th batch lines, at varied offsets into the next batch.
        for (lines, delay) in [(1, 0), (4, 3_000), (9, 11_000)] as [(Int, UInt32)] {
            try killImport(afterLines: lines, delayMicroseconds: delay)
            let stored = try checkStore("kill after \(lines) batches + \(delay) µs")
            XCTAssertGreaterThanOrEqual(stored, previous, "nothing committed is lost")
            XCTAssertLessThan(stored, count, "the kill landed before the end")
            previous = stored
        }
        // Exact kills: right after a batch's LMDB commit (before its done marks: the window
        // reconciliation must adopt) and right after the done marks.
        for point in ["after-codes:2", "after-marks:3"] {
            let (status, _) = try runImport(environment: ["CNNCODES_STORE_KILL_AT": point])
            XCTAssertNotEqual(status, 0, "\(point): the import must have been killed")
            let stored = try checkStore("kill at \(point)")
            XCTAssertGreaterThan(stored, previous, "\(point): the killed batch's codes are kept")
            previous = stored
        }
        let (status, output) = try runImport()
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("\(count - previous) imported, \(previous) already stored"), output)
        XCTAssertEqual(try checkStore("final run"), count)
    }

    func testDiskFullIsAClearErrorAndTheStoreStaysConsistent() throws {
        // `ulimit -f` (in 1024-byte blocks) makes writes beyond 3 MB fail with EFBIG — a disk
        // that fills up mid-import (SIGXFSZ ignored so the write returns the error). Whichever
        // file crosses the limit first (codes.lmdb, or the catalog's WAL now that packed codes
        // are ~half the size) must fail with the same clear message.
        let (status, output) = try runImport(shellPrefix: "trap '' XFSZ; ulimit -f 3000;")
        XCTAssertNotEqual(status, 0, output)
        XCTAssertTrue(output.contains("disk full"), output)
        XCTAssertEqual(output.split(separator: "\n").filter { $0.contains("disk full") }.count, 1, "one clear line: \(output)")
        let stored = try checkStore("after disk full")
        XCTAssertGreaterThan(stored, 0)
        XCTAssertLessThan(stored, count)
        let (rerun, rerunOutput) = try runImport()
        XCTAssertEqual(rerun, 0, rerunOutput)
        XCTAssertEqual(try checkStore("after freeing space"), count)
    }
}

extension KillTests {
    /// A read-only process (info, export — as the service would) works while an import
    /// writes; a second writer is refused with a clear message instead of waiting or corrupting.
    func testReadersWorkAndASecondWriterIsRefusedWhileAnImportRuns() throws {
        let (writer, output) = importProcess()
        try writer.run()
        var buffer = ""
        while !buffer.contains("imported \(2 * batch)/") {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { break }
            buffer += String(decoding: data, as: UTF8.self)
        }
        // Freeze the writer where it is (possibly inside a write transaction, holding LMDB's
        // writer mutex and the store lock), so the checks below run while it "writes".
        kill(writer.processIdentifier, SIGSTOP)
        defer {
            kill(writer.processIdentifier, SIGKILL)
            writer.waitUntilExit()
        }
        func run(_ arguments: [String]) throws -> (Int32, String) {
            let process = Process()
            process.executableURL = binary
            process.arguments = arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
        let (infoStatus, info) = try run(["info", "--store", storeURL.path])
        XCTAssertEqual(infoStatus, 0, info)
        XCTAssertTrue(info.contains("collection k:"), info)
        let exportDirectory = storeURL.deletingLastPathComponent().appendingPathComponent("during")
        let (exportStatus, exported) = try run(["export", "--store", storeURL.path, "--collection", "k", "--out", exportDirectory.path])
        XCTAssertEqual(exportStatus, 0, exported)
        let snapshot = try NPY.read(exportDirectory.appendingPathComponent("codes.npy"))
        XCTAssertGreaterThanOrEqual(snapshot.shape[0], 2 * batch)
        XCTAssertEqual(snapshot.shape[0] % batch, 0, "a snapshot holds whole batches")
        let (secondStatus, second) = try run(["import", "--store", storeURL.path, "--collection", "k", "--from", source.path])
        XCTAssertNotEqual(secondStatus, 0)
        XCTAssertTrue(second.contains("being written by another process"), second)
    }
}
