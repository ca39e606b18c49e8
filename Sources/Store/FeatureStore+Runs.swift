import Foundation
import GRDB

extension FeatureStore {
    /// Records the start of an extraction or import run into `collections`; returns its id
    /// (pass it to `recordFailure` and `finishRun`). A run killed before `finishRun` keeps
    /// `finished` NULL.
    public func beginRun(command: String, collections names: [String]) throws -> Int64 {
        let ids = try names.map { try requireCollection($0).id }
        return try catalogWrite("begin run") { db in
            try db.execute(sql: "INSERT INTO runs (command) VALUES (?)", arguments: [command])
            let runID = db.lastInsertedRowID
            for id in Set(ids) {
                try db.execute(sql: "INSERT INTO run_collections (run_id, collection_id) VALUES (?, ?)",
                               arguments: [runID, id])
            }
            return runID
        }
    }

    /// Records the end of run `id` with its counts.
    public func finishRun(_ id: Int64, counts: RunCounts) throws {
        try catalogWrite("finish run") { db in
            try db.execute(sql: """
                UPDATE runs SET finished = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), done = ?, skipped = ?, failed = ?
                WHERE id = ?
                """, arguments: [counts.done, counts.skipped, counts.failed, id])
        }
    }

    /// Runs, newest first.
    public func runs() throws -> [RunRecord] {
        try catalogRead("list runs") { db in
            try Row.fetchAll(db, sql: """
                SELECT r.*, (SELECT group_concat(c.name, char(10)) FROM run_collections rc
                             JOIN collections c ON c.id = rc.collection_id WHERE rc.run_id = r.id) AS names
                FROM runs r ORDER BY r.id DESC
                """).map { row in
                let names: String? = row["names"]
                return RunRecord(
                    id: row["id"], command: row["command"],
                    collections: (names ?? "").split(separator: "\n").map(String.init).sorted(),
                    started: row["started"], finished: row["finished"],
                    counts: RunCounts(done: row["done"], skipped: row["skipped"], failed: row["failed"]))
            }
        }
    }

    /// Records that `path` (relative to `source`) could not be extracted, and why.
    public func recordFailure(source: String, path: String, reason: String, run: Int64?) throws {
        try catalogWrite("record failure") { db in
            try db.execute(sql: "INSERT INTO failures (run_id, source, path, reason) VALUES (?, ?, ?, ?)",
                           arguments: [run, source, path, reason])
        }
    }

    /// Recorded failures, oldest first; only run `run`'s when given.
    public func failures(run: Int64? = nil) throws -> [FailureRecord] {
        try catalogRead("list failures") { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM failures WHERE (? IS NULL OR run_id = ?) ORDER BY id
                """, arguments: [run, run]).map { row in
                FailureRecord(id: row["id"], runID: row["run_id"], source: row["source"], path: row["path"],
                              reason: row["reason"], time: row["time"])
            }
        }
    }
}
