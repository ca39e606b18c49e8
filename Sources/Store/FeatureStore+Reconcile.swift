import CLMDB
import Foundation
import GRDB

extension FeatureStore {
    /// Brings the catalog's marks in line with LMDB, the truth about which codes exist.
    /// Runs when a store opens for writing (the writer lock is held, so no writer is mid-batch).
    ///
    /// Per collection, merging LMDB's keys with the catalog's marks (both in id order):
    /// - a code whose mark is pending or missing (crash between the LMDB commit and the done
    ///   marks) is adopted: marked done;
    /// - a code whose image row is gone (a changed file's old code; crash before its codes
    ///   were deleted) is deleted;
    /// - a done mark without a code is set back to pending, so the next run re-extracts it;
    /// - `count` is set to the number of done marks.
    /// Cost: one key scan per collection (`cnncodes verify`, i.e. reconcile + verify, takes
    /// ~1 s on 100,000 1280-d codes).
    @discardableResult
    public func reconcile() throws -> ReconcileReport {
        writeProtocolLock.lock()
        defer { writeProtocolLock.unlock() }
        var report = ReconcileReport()
        for record in try collections() {
            let dbi = try database(of: record.name)
            let stored = try codes.read { txn -> [Int64] in
                var ids: [Int64] = []
                ids.reserveCapacity(Int(try txn.stat(dbi).ms_entries))
                try txn.forEach(dbi) { id, _ in ids.append(id) }
                return ids
            }
            let marks = try catalogRead("read marks of \(record.name)") { db -> [Int64: Bool] in
                var marks: [Int64: Bool] = [:]
                let rows = try Row.fetchCursor(db, sql: "SELECT image_id, state FROM code_status WHERE collection_id = ?",
                                               arguments: [record.id])
                while let row = try rows.next() { marks[row["image_id"]] = (row["state"] as String) == "done" }
                return marks
            }
            var adopt: [Int64] = []
            var unmarked: [Int64] = []  // codes without any mark: adopt if the image exists
            let storedSet = Set(stored)
            for id in stored {
                switch marks[id] {
                case .some(true): continue
                case .some(false): adopt.append(id)
                case .none: unmarked.append(id)
                }
            }
            let requeue = marks.compactMap { id, done in done && !storedSet.contains(id) ? id : nil }
            var orphans: [Int64] = []
            if !unmarked.isEmpty {
                let existing = try catalogRead("check images") { db -> Set<Int64> in
                    let exists = try db.cachedStatement(sql: "SELECT 1 FROM images WHERE id = ?")
                    return Set(try unmarked.filter { try Int.fetchOne(exists, arguments: [$0]) != nil })
                }
                for id in unmarked {
                    if existing.contains(id) { adopt.append(id) } else { orphans.append(id) }
                }
            }
            if !orphans.isEmpty {
                do {
                    try codes.write { txn in for id in orphans { try txn.delete(dbi, id: id) } }
                } catch {
                    throw explain(error)
                }
            }
            let fixedCount = try catalogWrite("reconcile \(record.name)") { db -> Bool in
                let mark = try db.cachedStatement(sql: """
                    INSERT INTO code_status (image_id, collection_id, state) VALUES (?, ?, 'done')
                    ON CONFLICT (collection_id, image_id) DO UPDATE SET state = 'done'
                    """)
                for id in adopt { try mark.execute(arguments: [id, record.id]) }
                let unmark = try db.cachedStatement(sql: """
                    UPDATE code_status SET state = 'pending' WHERE collection_id = ? AND image_id = ?
                    """)
                for id in requeue { try unmark.execute(arguments: [record.id, id]) }
                let done = try Int.fetchOne(db, sql: """
                    SELECT COUNT(*) FROM code_status WHERE collection_id = ? AND state = 'done'
                    """, arguments: [record.id]) ?? 0
                let current = try Int.fetchOne(db, sql: "SELECT count FROM collections WHERE id = ?", arguments: [record.id])
                guard current != done else { return false }
                try db.execute(sql: "UPDATE collections SET count = ? WHERE id = ?", arguments: [done, record.id])
                return true
            }
            report.adopted += adopt.count
            report.requeued += requeue.count
            report.orphansDeleted += orphans.count
            report.countsFixed += fixedCount ? 1 : 0
        }
        return report
    }
}
