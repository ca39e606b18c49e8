import CLMDB
import Foundation
import GRDB

/// Codes of one collection for a batch of images: `ids.count` rows of `dim` floats, row-major.
public struct CodeBatch: Sendable {
    public var collection: String
    public var ids: [Int64]
    public var matrix: [Float]
    public init(collection: String, ids: [Int64], matrix: [Float]) {
        self.collection = collection
        self.ids = ids
        self.matrix = matrix
    }
}

/// The write protocol (DESIGN.md, Invariants), one batch at a time:
///
/// 1. `registerImages` — image rows and 'pending' marks, one catalog transaction.
/// 2. `putCodes` — (a) every code of the batch, for every collection, in ONE durable LMDB
///    write transaction; (b) then the marks set to 'done' and counts bumped, one catalog
///    transaction.
///
/// Crash windows: before 2a commits, nothing of the batch is in LMDB (LMDB commits are
/// atomic: a code is wholly there or not at all) and the rows stay pending → re-extracted.
/// Between 2a and 2b the codes exist without done marks → `reconcile()` adopts them. A done
/// mark never precedes its code, so a done mark without a code only comes from outside
/// damage; reconcile re-queues it. At most the batch in flight is lost.
extension FeatureStore {
    /// Stores one batch of codes durably and marks them done (steps 2a + 2b above).
    /// Images must be registered (step 1). Existing codes of the same ids are replaced.
    public func putCodes(collection: String, ids: [Int64], matrix: [Float]) throws {
        try putCodes([CodeBatch(collection: collection, ids: ids, matrix: matrix)])
    }

    /// Convenience: one code per image.
    public func putCodes(collection: String, codes: [(id: Int64, code: [Float])]) throws {
        try putCodes(collection: collection, ids: codes.map(\.id), matrix: codes.flatMap(\.code))
    }

    /// Stores the codes of several collections (e.g. several layers of one forward pass) in
    /// one LMDB transaction, then marks them all done in one catalog transaction.
    public func putCodes(_ batches: [CodeBatch]) throws {
        writeProtocolLock.lock()
        defer { writeProtocolLock.unlock() }
        let records = try writeCodes(batches)
        FaultInjection.shared.reached(.afterCodesCommitted)
        try markDone(batches, records: records)
        FaultInjection.shared.reached(.afterMarkedDone)
    }

    /// Step 2a: validates the batches and commits every code in one LMDB write transaction.
    /// Returns the collections' records (for step 2b).
    ///
    /// `registeredByCaller`: the caller registered these ids itself under `writeProtocolLock`,
    /// still held (a pipelined import), so nothing can have removed them: the catalog check
    /// that every id has an image row is skipped (it was a read transaction and an index
    /// probe per code on the commit thread, the import's critical path).
    ///
    /// `borrowedRows`: for a single batch whose `matrix` is empty, its rows in memory the
    /// caller keeps alive for the call (an import's rows straight from codes.npy: no copy).
    @discardableResult
    func writeCodes(_ batches: [CodeBatch], registeredByCaller: Bool = false,
                    borrowedRows: UnsafeBufferPointer<Float>? = nil) throws -> [CollectionRecord] {
        precondition(borrowedRows == nil || (batches.count == 1 && batches[0].matrix.isEmpty), "borrowed rows replace one batch's matrix")
        let records = try batches.map { batch -> CollectionRecord in
            let record = try requireCollection(batch.collection)
            let values = borrowedRows?.count ?? batch.matrix.count
            guard values == batch.ids.count * record.dim else {
                throw StoreError.dimensionMismatch(
                    collection: batch.collection, expected: record.dim,
                    got: batch.ids.isEmpty ? values : values / batch.ids.count, imageID: nil)
            }
            return record
        }
        if !registeredByCaller { try requireImagesExist(Set(batches.flatMap(\.ids))) }
        // Handles are resolved before the write transaction (see `existingDatabase`).
        let dbis = try records.map { try database(of: $0.name) }
        do {
            try codes.write { txn in
                for (batch, (record, dbi)) in zip(batches, zip(records, dbis)) {
                    // New images have ids above every stored one: append (see `put`).
                    let increasing = zip(batch.ids, batch.ids.dropFirst()).allSatisfy { $0 < $1 }
                    let last = try txn.lastID(dbi) ?? Int64.min
                    let append = increasing && (batch.ids.first ?? Int64.min) > last
                    // Each code is encoded into `scratch` first (its length decides the
                    // format), then copied into the reserved LMDB value.
                    let encoding = record.encoding
                    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: encoding.scratchBytes, alignment: 16)
                    defer { scratch.deallocate() }
                    func put(_ matrix: UnsafeBufferPointer<Float>) throws {
                        for (row, id) in batch.ids.enumerated() {
                            let code = UnsafeBufferPointer(rebasing: matrix[(row * record.dim)..<((row + 1) * record.dim)])
                            let used = encoding.encode(code, into: scratch)
                            try txn.put(dbi, id: id, byteCount: used, append: append) { destination in
                                destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: scratch[0..<used]))
                            }
                        }
                    }
                    if let borrowedRows {
                        try put(borrowedRows)
                    } else {
                        try batch.matrix.withUnsafeBufferPointer { try put($0) }
                    }
                }
            }
        } catch {
            throw explain(error)
        }
        return records
    }

    /// The LMDB database of collection `name`, created if missing (a crash between a
    /// collection's catalog row and its database).
    func database(of name: String) throws -> MDB_dbi {
        if let dbi = try codes.existingDatabase(name) { return dbi }
        do {
            return try codes.write { txn in try codes.createDatabase(name, in: txn) }
        } catch {
            throw explain(error)
        }
    }

    /// Step 2b: marks the batches' images done and bumps the collections' counts, in one
    /// catalog transaction.
    func markDone(_ batches: [CodeBatch], records: [CollectionRecord]) throws {
        try catalogWrite("mark codes done") { db in try FeatureStore.markDone(db, batches, records: records) }
    }

    /// Step 2b's statements, inside the caller's catalog transaction (a pipelined import runs
    /// them in the same transaction as the next registration: see `pipelinedImport`).
    static func markDone(_ db: Database, _ batches: [CodeBatch], records: [CollectionRecord]) throws {
        // Set-based, one statement per step with the batch's ids as a JSON array: ~10×
        // faster than a statement per image. Pending → done, then marks for ids that had
        // none (codes put without registering for this collection); already-done rows
        // are left alone, so `count` grows by exactly the newly done.
        let markPending = try db.cachedStatement(sql: """
            UPDATE code_status SET state = 'done'
            WHERE collection_id = ? AND state = 'pending' AND image_id IN (SELECT value FROM json_each(?))
            """)
        let markMissing = try db.cachedStatement(sql: """
            INSERT INTO code_status (image_id, collection_id, state)
            SELECT value, ?, 'done' FROM json_each(?) WHERE true
            ON CONFLICT (collection_id, image_id) DO NOTHING
            """)
        let bumpCount = try db.cachedStatement(sql: "UPDATE collections SET count = count + ? WHERE id = ?")
        for (batch, record) in zip(batches, records) {
            let ids = FeatureStore.jsonArray(batch.ids)
            try markPending.execute(arguments: [record.id, ids])
            var newlyDone = db.changesCount
            // As many rows went pending → done as the batch has ids (an import's case): every
            // id had a mark, so the INSERT of missing ones (an index probe per id) is skipped.
            if newlyDone < batch.ids.count {
                try markMissing.execute(arguments: [record.id, ids])
                newlyDone += db.changesCount
            }
            try bumpCount.execute(arguments: [newlyDone, record.id])
        }
    }

    /// Throws `unknownImage` for the first id without a catalog row: a code must never be
    /// written for an unregistered image (it would be an orphan).
    private func requireImagesExist(_ ids: Set<Int64>) throws {
        try catalogRead("check images") { db in
            let found = try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM images WHERE id IN (SELECT value FROM json_each(?))
                """, arguments: [FeatureStore.jsonArray(Array(ids))]) ?? 0
            guard found < ids.count else { return }
            let exists = try db.cachedStatement(sql: "SELECT 1 FROM images WHERE id = ?")
            for id in ids.sorted() where try Int.fetchOne(exists, arguments: [id]) == nil {
                throw StoreError.unknownImage(id)
            }
        }
    }

    /// `[1,2,3]`: ids for `json_each` in set-based statements.
    static func jsonArray(_ ids: [Int64]) -> String {
        "[" + ids.map(String.init).joined(separator: ",") + "]"
    }

    /// Deletes the codes of `ids` from every collection's database (one LMDB transaction).
    func deleteCodes(ofImages ids: [Int64]) throws {
        let names = try collections().map(\.name)
        let dbis = try names.compactMap { try codes.existingDatabase($0) }
        do {
            try codes.write { txn in
                for dbi in dbis {
                    for id in ids { try txn.delete(dbi, id: id) }
                }
            }
        } catch {
            throw explain(error)
        }
    }

    // MARK: Reading

    /// Every code of `collection` (or those of images matching `filter`) as one row-major
    /// f32 matrix, rows in ascending id order, read from one LMDB snapshot (a cursor scan for
    /// the whole collection). f16 codes are widened to f32.
    ///
    /// LMDB is the truth: a code committed but not yet marked done is included.
    public func codes(_ collection: String, filter: ImageFilter = .all) throws -> CodeMatrix {
        let record = try requireCollection(collection)
        guard let dbi = try codes.existingDatabase(collection) else {
            return CodeMatrix(ids: [], values: [], dim: record.dim)
        }
        let wanted: [Int64]? = filter.isAll ? nil : try imageIDs(collection: collection, filter: filter)
        return try codes.read { txn in
            let capacity = try wanted?.count ?? Int(txn.stat(dbi).ms_entries)
            var ids: [Int64] = []
            ids.reserveCapacity(capacity)
            // Not zero-filled first: `decode` writes every element of a row (for 100,000
            // 1280-d codes, a 512 MB memset saved). Only decoded rows
            // count as initialized.
            let values = try [Float](unsafeUninitializedCapacity: capacity * record.dim) { output, initialized in
                defer { initialized = ids.count * record.dim }
                let encoding = record.encoding
                func append(_ id: Int64, _ bytes: UnsafeRawBufferPointer) throws {
                    let row = ids.count
                    guard row < capacity else {
                        throw StoreError.invalidArgument("collection '\(collection)' holds more codes than its snapshot counted")
                    }
                    try FeatureStore.decode(bytes, encoding, collection: collection, id: id,
                                            into: UnsafeMutableBufferPointer(rebasing: output[(row * record.dim)..<((row + 1) * record.dim)]))
                    ids.append(id)
                }
                if let wanted {
                    for id in wanted {
                        if let bytes = try txn.get(dbi, id: id) { try append(id, bytes) }
                    }
                } else {
                    try txn.forEach(dbi) { id, bytes in try append(id, bytes) }
                }
            }
            return CodeMatrix(ids: ids, values: values, dim: record.dim)
        }
    }

    /// The code of image `id` in `collection`, or nil when it has none.
    public func code(_ collection: String, id: Int64) throws -> [Float]? {
        let record = try requireCollection(collection)
        guard let dbi = try codes.existingDatabase(collection) else { return nil }
        return try codes.read { txn -> [Float]? in
            guard let bytes = try txn.get(dbi, id: id) else { return nil }
            var values = [Float](repeating: 0, count: record.dim)
            try values.withUnsafeMutableBufferPointer {
                try FeatureStore.decode(bytes, record.encoding, collection: collection, id: id, into: $0)
            }
            return values
        }
    }

    /// Decodes one stored value (dense or packed, `CodeEncoding`) into `output`, or throws
    /// `corruptCode` saying what is wrong with it. Every reader of codes goes through here.
    static func decode(_ bytes: UnsafeRawBufferPointer, _ encoding: CodeEncoding, collection: String, id: Int64,
                       into output: UnsafeMutableBufferPointer<Float>) throws {
        guard encoding.decode(bytes, into: output) else {
            throw StoreError.corruptCode(collection: collection, imageID: id,
                                         reason: encoding.problem(with: bytes) ?? "undecodable \(bytes.count)-byte value")
        }
    }
}
