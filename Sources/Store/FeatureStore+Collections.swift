import Foundation
import GRDB

extension FeatureStore {
    /// Creates collection `name` with `provenance` and `dim`, or opens it when it exists with
    /// the same provenance and dim.
    ///
    /// Throws `StoreError.provenanceMismatch` naming the collection and the first differing
    /// field (model digest, layer, preprocessing, pooling, relu, dtype), or
    /// `.dimensionMismatch` — codes of different provenance never mix.
    @discardableResult
    public func ensureCollection(_ name: String, provenance: Provenance, dim: Int) throws -> CollectionRecord {
        try FeatureStore.validateCollectionName(name)
        guard dim > 0 else { throw StoreError.invalidArgument("collection '\(name)': dimension must be positive, got \(dim)") }
        writeProtocolLock.lock()
        defer { writeProtocolLock.unlock() }
        let (record, created) = try catalogWrite("create collection \(name)") { db -> (CollectionRecord, Bool) in
            if let existing = try FeatureStore.fetchCollection(db, name: name) {
                if let difference = existing.provenance.firstDifference(from: provenance) {
                    throw StoreError.provenanceMismatch(
                        collection: name, field: difference.field, stored: difference.stored, requested: difference.requested)
                }
                guard existing.dim == dim else {
                    throw StoreError.dimensionMismatch(collection: name, expected: existing.dim, got: dim, imageID: nil)
                }
                return (existing, false)
            }
            try db.execute(
                sql: """
                    INSERT INTO collections (name, model_digest, model_path, layer, preprocessing, pooling, relu, dtype, dim)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [name, provenance.modelDigest, provenance.modelPath, provenance.layer,
                            provenance.preprocessingJSON, provenance.pooling, provenance.relu,
                            provenance.dtype.rawValue, dim])
            guard let record = try FeatureStore.fetchCollection(db, name: name) else {
                throw StoreError.unknownCollection(name)
            }
            return (record, true)
        }
        // The catalog row comes first, then the LMDB database. A database left over under
        // this name (a collection whose row vanished) is emptied when the row is new.
        do {
            try codes.write { txn in
                let dbi = try codes.createDatabase(name, in: txn)
                if created { try txn.clear(dbi) }
            }
        } catch {
            throw explain(error)
        }
        return record
    }

    /// The collection named `name`, or nil.
    public func collection(named name: String) throws -> CollectionRecord? {
        try catalogRead("read collection \(name)") { db in try FeatureStore.fetchCollection(db, name: name) }
    }

    /// The collection named `name`, or `StoreError.unknownCollection`.
    public func requireCollection(_ name: String) throws -> CollectionRecord {
        guard let record = try collection(named: name) else { throw StoreError.unknownCollection(name) }
        return record
    }

    /// All collections, by name.
    public func collections() throws -> [CollectionRecord] {
        try catalogRead("list collections") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM collections ORDER BY name").map(FeatureStore.collectionRecord)
        }
    }

    // MARK: Rows

    static func fetchCollection(_ db: Database, name: String) throws -> CollectionRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM collections WHERE name = ?", arguments: [name]).map(collectionRecord)
    }

    static func collectionRecord(_ row: Row) -> CollectionRecord {
        let dtype = CodeDType(rawValue: row["dtype"]) ?? .f32  // the schema's CHECK allows only f32/f16
        return CollectionRecord(
            id: row["id"], name: row["name"],
            provenance: Provenance(
                modelDigest: row["model_digest"], modelPath: row["model_path"], layer: row["layer"],
                preprocessingJSON: row["preprocessing"], pooling: row["pooling"], relu: row["relu"],
                dtype: dtype),
            dim: row["dim"], count: row["count"], created: row["created"])
    }

    /// Collection names become LMDB database names and file-system-safe export names.
    static func validateCollectionName(_ name: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard (1...100).contains(name.count), name.allSatisfy({ allowed.contains($0) }) else {
            throw StoreError.invalidCollectionName(name)
        }
    }
}
