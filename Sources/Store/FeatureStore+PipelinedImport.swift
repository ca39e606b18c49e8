import Foundation
import GRDB

/// Where the time of an import's batch loop went, in seconds of each step (they overlap
/// when pipelined, so they may add up to more than the wall time).
public struct ImportTimings: Sendable {
    /// `registerImages` plus gathering the batch's codes (when pipelined, with the previous
    /// batch's done marks in the same catalog transaction).
    public var register: Double = 0
    /// CPU seconds of the calling thread within `register` (the rest of `register` is the
    /// thread waiting: for a core on a loaded machine, or for I/O).
    public var registerCPU: Double = 0
    /// LMDB write transactions, durable commit included.
    public var commit: Double = 0
    /// CPU seconds of the commit thread within `commit` (the rest: fdatasync, page writes,
    /// waiting for a core).
    public var commitCPU: Double = 0
    /// Done marks in transactions of their own (catalog): the last batch's, or every batch's
    /// when not pipelined.
    public var markDone: Double = 0
    public init() {}
}

/// The batch loop of `importCodes`, pipelined: a batch's durable LMDB commit (bound by
/// fdatasync and page writes) runs on a background thread while the calling thread does the
/// catalog steps of its neighbours — the done marks of the previous batch and the
/// registration of the next:
///
///     background:  commit(k)                     commit(k+1)
///     caller:      marks(k-1), register(k+1)     marks(k), register(k+2)
///
/// marks(k-1) and register(k+1) are one catalog transaction (the marks' statements first):
/// one commit per batch instead of two. A crash or an error in it loses both, which is a
/// state the serial protocol has too (batch k-1 committed without done marks, adopted by
/// `reconcile()`; batch k+1 not registered).
/// Each batch still goes register → commit → done marks (the write protocol in
/// `FeatureStore+Codes.swift`), so a done mark never precedes its code, and every crash
/// leaves one of the serial protocol's states: registered rows still pending (re-imported by
/// a re-run), or committed codes without done marks (adopted by `reconcile()`). Commits stay
/// one batch each and in order, so a reader's snapshot holds whole batches.
///
/// Registering batch k+1 before batch k is marked done is only safe when no (source, path)
/// occurs in two batches: a later row of the same path would find the earlier one still
/// pending (or, with another digest, delete it under its in-flight commit). Imports with
/// repeated paths therefore run the steps serially.
extension FeatureStore {
    /// One registered batch, ready for its commit: the rows not stored yet.
    struct PreparedImportBatch {
        var codes: CodeBatch
        /// The codes' rows when `codes.matrix` is empty: a contiguous range of the import's
        /// input, which outlives the import (see `writeCodes(borrowedRows:)`).
        var borrowedRows: UnsafeBufferPointer<Float>? = nil
        /// Rows of the batch whose code was stored already.
        var skipped: Int
        /// One past the batch's last row in the import.
        var end: Int
    }

    /// Runs the write protocol over `count` rows in batches of `batchSize`.
    /// `register(start, end, earlier)` registers rows start..<end, running `earlier` (when
    /// not nil) first in the same catalog transaction, and returns the batch to commit.
    func pipelinedImport(count: Int, batchSize: Int, pipelined: Bool,
                         register: (Int, Int, ((Database) throws -> Void)?) throws -> PreparedImportBatch,
                         finished: (PreparedImportBatch) -> Void) throws -> ImportTimings {
        // Held for the whole import: no other thread of this process interleaves protocol steps.
        writeProtocolLock.lock()
        defer { writeProtocolLock.unlock() }
        var timings = ImportTimings()
        let starts = Array(stride(from: 0, to: count, by: batchSize))
        func prepare(_ index: Int, earlier: ((Database) throws -> Void)? = nil) throws -> PreparedImportBatch {
            let started = Date()
            let startedCPU = threadCPUSeconds()
            defer {
                timings.register += Date().timeIntervalSince(started)
                timings.registerCPU += threadCPUSeconds() - startedCPU
            }
            return try register(starts[index], min(count, starts[index] + batchSize), earlier)
        }
        func markDone(_ batch: PreparedImportBatch, _ records: [CollectionRecord]?) throws {
            if let records {
                let started = Date()
                try self.markDone([batch.codes], records: records)
                timings.markDone += Date().timeIntervalSince(started)
                FaultInjection.shared.reached(.afterMarkedDone)
            }
            finished(batch)
        }
        var next: PreparedImportBatch?
        var committed: (batch: PreparedImportBatch, records: [CollectionRecord]?)?
        for index in starts.indices {
            let batch = try next ?? prepare(index)
            next = nil
            let commit = batch.codes.ids.isEmpty ? nil : BackgroundCommit { [self] in
                let records = try writeCodes([batch.codes], registeredByCaller: true, borrowedRows: batch.borrowedRows)
                FaultInjection.shared.reached(.afterCodesCommitted)
                return records
            }
            // The catalog steps overlapping the commit (only when pipelined).
            let overlapped = Result<Void, Error> {
                let previous = committed
                committed = nil
                if pipelined, index + 1 < starts.count {
                    // The previous batch's done marks ride in the next registration's transaction.
                    var marks: ((Database) throws -> Void)?
                    if let previous, let records = previous.records {
                        let codes = previous.batch.codes
                        marks = { db in try FeatureStore.markDone(db, [codes], records: records) }
                    }
                    next = try prepare(index + 1, earlier: marks)
                    if let previous {
                        if previous.records != nil { FaultInjection.shared.reached(.afterMarkedDone) }
                        finished(previous.batch)
                    }
                } else if let previous {
                    try markDone(previous.batch, previous.records)
                }
            }
            // Always wait for the commit before going on or throwing.
            let records = try commit?.wait()
            if let commit {
                timings.commit += commit.seconds
                timings.commitCPU += commit.cpuSeconds
            }
            try overlapped.get()
            if pipelined {
                committed = (batch, records)
            } else {
                try markDone(batch, records)
            }
        }
        if let previous = committed { try markDone(previous.batch, previous.records) }
        return timings
    }
}

/// Runs one closure on a background thread at once; `wait()` returns its result (or rethrows).
private final class BackgroundCommit: @unchecked Sendable {
    private let group = DispatchGroup()
    private var result: Result<[CollectionRecord], Error>?
    /// Wall time of the closure, readable after `wait()`.
    private(set) var seconds: Double = 0
    /// CPU time of the closure's thread, readable after `wait()`.
    private(set) var cpuSeconds: Double = 0

    init(_ body: @escaping () throws -> [CollectionRecord]) {
        group.enter()
        DispatchQueue.global(qos: .userInitiated).async { [self] in
            let started = Date()
            let startedCPU = threadCPUSeconds()
            result = Result { try body() }
            seconds = Date().timeIntervalSince(started)
            cpuSeconds = threadCPUSeconds() - startedCPU
            group.leave()
        }
    }

    func wait() throws -> [CollectionRecord] {
        group.wait()  // the group's leave/wait orders the writes above before the reads below
        guard let result else {
            throw StoreError.invalidArgument("background commit finished without a result")
        }
        return try result.get()
    }
}

/// CPU seconds the calling thread has used (CLOCK_THREAD_CPUTIME_ID).
private func threadCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}
