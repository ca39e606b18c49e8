import CLMDB
import Foundation
import GRDB

/// Problems `verify` found; empty when the store is consistent.
public struct VerifyReport: Equatable, Sendable {
    public var problems: [String] = []
    public var collectionsChecked = 0
    public var codesChecked = 0
    public var isConsistent: Bool { problems.isEmpty }
}

extension FeatureStore {
    /// Checks the invariants, per collection: every LMDB value is a well-formed code (dense or packed, `CodeEncoding`)
    /// and an image row with a done mark; every done mark has a code; `count` equals both.
    /// Run after `reconcile()` (a read-write open) it must find nothing; the crash tests and
    /// the soak script rely on it.
    public func verify() throws -> VerifyReport {
        var report = VerifyReport()
        for record in try collections() {
            report.collectionsChecked += 1
            let dbi = try codes.existingDatabase(record.name)
            var stored: [Int64] = []
            if let dbi {
                try codes.read { txn in
                    try txn.forEach(dbi) { id, bytes in
                        if let problem = record.encoding.problem(with: bytes) {
                            report.problems.append("\(record.name): code of image \(id) is corrupt: \(problem)")
                        }
                        stored.append(id)
                    }
                }
            }
            report.codesChecked += stored.count
            let (done, existing) = try catalogRead("verify \(record.name)") { db -> (Set<Int64>, Set<Int64>) in
                let done = Set(try Int64.fetchAll(db, sql: """
                    SELECT image_id FROM code_status WHERE collection_id = ? AND state = 'done'
                    """, arguments: [record.id]))
                let exists = try db.cachedStatement(sql: "SELECT 1 FROM images WHERE id = ?")
                let existing = Set(try stored.filter { try Int.fetchOne(exists, arguments: [$0]) != nil })
                return (done, existing)
            }
            let storedSet = Set(stored)
            let orphans = storedSet.subtracting(existing)
            let unmarked = existing.subtracting(done)
            let missing = done.subtracting(storedSet)
            if !orphans.isEmpty { report.problems.append("\(record.name): \(orphans.count) codes without an image row, e.g. \(orphans.min() ?? 0)") }
            if !unmarked.isEmpty { report.problems.append("\(record.name): \(unmarked.count) codes not marked done, e.g. \(unmarked.min() ?? 0)") }
            if !missing.isEmpty { report.problems.append("\(record.name): \(missing.count) done marks without a code, e.g. \(missing.min() ?? 0)") }
            if record.count != done.count || record.count != stored.count {
                report.problems.append("\(record.name): count \(record.count), done marks \(done.count), codes \(stored.count)")
            }
        }
        return report
    }
}
