import Foundation
import GRDB

extension FeatureStore {
    /// Stores a trained classifier under `name` (unique in the store). The model and metrics
    /// are opaque JSON to the store (the Learning module's `Codable` types, encoded by the
    /// caller); SQLite checks they are valid JSON. Replaces an existing one when `replace`.
    public func saveClassifier(name: String, collection: String, kind: String, modelJSON: String,
                               metricsJSON: String = "{}", replace: Bool = false) throws {
        let record = try requireCollection(collection)
        try catalogWrite("save classifier \(name)") { db in
            if replace { try db.execute(sql: "DELETE FROM classifiers WHERE name = ?", arguments: [name]) }
            try db.execute(sql: """
                INSERT INTO classifiers (name, collection_id, kind, model, metrics) VALUES (?, ?, ?, ?, ?)
                """, arguments: [name, record.id, kind, modelJSON, metricsJSON])
        }
    }

    /// The classifier named `name`, or `StoreError.unknownClassifier`.
    public func classifier(named name: String) throws -> ClassifierRecord {
        guard let record = try classifiers().first(where: { $0.name == name }) else {
            throw StoreError.unknownClassifier(name)
        }
        return record
    }

    /// All stored classifiers, by name.
    public func classifiers() throws -> [ClassifierRecord] {
        try catalogRead("list classifiers") { db in
            try Row.fetchAll(db, sql: """
                SELECT k.*, c.name AS collection FROM classifiers k JOIN collections c ON c.id = k.collection_id
                ORDER BY k.name
                """).map { row in
                ClassifierRecord(name: row["name"], collection: row["collection"], kind: row["kind"],
                                 modelJSON: row["model"], metricsJSON: row["metrics"], created: row["created"])
            }
        }
    }

    /// Deletes classifier `name`; returns whether it existed.
    @discardableResult
    public func deleteClassifier(named name: String) throws -> Bool {
        try catalogWrite("delete classifier \(name)") { db in
            try db.execute(sql: "DELETE FROM classifiers WHERE name = ?", arguments: [name])
            return db.changesCount > 0
        }
    }
}
