import Foundation
import GRDB

extension FeatureStore {
    /// Step 1 of the write protocol: registers images and marks them pending in
    /// `collections`, in one catalog transaction. Answers, per image and in order, its id
    /// and which collections already hold its code (skip those — this is how a re-run
    /// resumes) and which are pending.
    ///
    /// An image is identified by (source, path). Same path with another digest (a changed
    /// file): the old row, its marks and its codes are removed and the image gets a new id
    /// (ids are never reused, so an old code can never be taken for the new file's).
    /// Label and split are updated when given.
    public func registerImages(_ images: [NewImage], collections names: [String]) throws -> [RegisteredImage] {
        try registerImages(images, collections: names, after: nil)
    }

    /// `registerImages`, running `earlier` (statements of an earlier protocol step, e.g. the
    /// previous batch's done marks) first in the same catalog transaction: one commit instead
    /// of two, and the index pages both touch go to the WAL once.
    func registerImages(_ images: [NewImage], collections names: [String],
                        after earlier: ((Database) throws -> Void)?) throws -> [RegisteredImage] {
        writeProtocolLock.lock()
        defer { writeProtocolLock.unlock() }
        var replacedIDs: [Int64] = []
        let collectionIDs = try names.map { try requireCollection($0).id }
        let batchJSON = try FeatureStore.imagesJSON(images)
        let registered = try catalogWrite(earlier == nil ? "register images" : "mark codes done and register images") { db -> [RegisteredImage] in
            try earlier?(db)
            // Set-based: the batch goes to SQLite once as a JSON array of
            // [source, path, digest, label, split]; one statement inserts the new rows (in
            // input order), one reads back every row's id and stored digest. Ids from the
            // sequence on are rows inserted here: no marks yet, so their pending marks go in
            // one statement per collection. Only rows that existed before (a re-run, a changed
            // file) are handled one by one.
            let firstNewID = (try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'images'") ?? 0) + 1
            try db.execute(sql: """
                INSERT INTO images (source, path, digest, label, split)
                SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
                       json_extract(value, '$[3]'), json_extract(value, '$[4]')
                FROM json_each(?) WHERE true ORDER BY key
                ON CONFLICT (source, path) DO NOTHING
                """, arguments: [batchJSON])
            // All new (a fresh import's usual case): the rows were inserted in input order
            // (ORDER BY key) with consecutive AUTOINCREMENT ids from `firstNewID`, which the
            // last inserted id confirms — no need to read the ids back.
            if db.changesCount == images.count, db.lastInsertedRowID == firstNewID + Int64(images.count) - 1 {
                let ids = Array(firstNewID..<(firstNewID + Int64(images.count)))
                try markNewPending(db, ids: ids, collectionIDs: collectionIDs)
                let pending = Set(names)  // one storage shared by every row (copy-on-write)
                return ids.map { RegisteredImage(id: $0, done: [], pending: pending, replacedChangedFile: false) }
            }
            let rows = try Row.fetchAll(db, sql: """
                SELECT j.key AS position, i.id AS id, i.digest AS digest
                FROM json_each(?) j JOIN images i
                  ON i.source = json_extract(j.value, '$[0]') AND i.path = json_extract(j.value, '$[1]')
                ORDER BY j.key
                """, arguments: [batchJSON])
            guard rows.count == images.count else {
                throw StoreError.catalog(operation: "register images", message: "\(rows.count) rows for \(images.count) images",
                                         path: catalogPath)
            }
            let insert = try db.cachedStatement(sql: """
                INSERT INTO images (source, path, digest, label, split) VALUES (?, ?, ?, ?, ?)
                """)
            let update = try db.cachedStatement(sql: """
                UPDATE images SET digest = coalesce(digest, ?), label = coalesce(?, label), split = coalesce(?, split)
                WHERE id = ?
                """)
            let state = try db.cachedStatement(sql: "SELECT state FROM code_status WHERE collection_id = ? AND image_id = ?")
            let markPending = try db.cachedStatement(sql: """
                INSERT INTO code_status (image_id, collection_id, state) VALUES (?, ?, 'pending')
                """)
            var result: [RegisteredImage] = []
            result.reserveCapacity(images.count)
            var newIDs: [Int64] = []
            for (image, row) in zip(images, rows) {
                var id: Int64 = row["id"]
                let storedDigest: String? = row["digest"]
                var replaced = false
                if id < firstNewID, let storedDigest, let newDigest = image.digest, storedDigest != newDigest {
                    // A changed file: the old row (and its marks) go, its codes after commit.
                    try FeatureStore.deleteImage(db, id: id)
                    replacedIDs.append(id)
                    try insert.execute(arguments: [image.source, image.path, image.digest, image.label, image.split])
                    id = db.lastInsertedRowID
                    replaced = true
                }
                if id >= firstNewID {
                    newIDs.append(id)
                    result.append(RegisteredImage(id: id, done: [], pending: Set(names), replacedChangedFile: replaced))
                    continue
                }
                if image.digest != nil || image.label != nil || image.split != nil {
                    try update.execute(arguments: [image.digest, image.label, image.split, id])
                }
                var done = Set<String>()
                var pending = Set<String>()
                for (name, collectionID) in zip(names, collectionIDs) {
                    let current = try String.fetchOne(state, arguments: [collectionID, id])
                    if current == "done" {
                        done.insert(name)
                    } else {
                        if current == nil { try markPending.execute(arguments: [id, collectionID]) }
                        pending.insert(name)
                    }
                }
                result.append(RegisteredImage(id: id, done: done, pending: pending, replacedChangedFile: false))
            }
            try markNewPending(db, ids: newIDs, collectionIDs: collectionIDs)
            return result
        }
        if !replacedIDs.isEmpty {
            // A crash before this leaves orphan codes, which reconciliation deletes.
            try deleteCodes(ofImages: replacedIDs)
        }
        return registered
    }

    /// Pending marks for rows inserted by this registration (they have no marks yet): one
    /// statement per collection.
    private func markNewPending(_ db: Database, ids: [Int64], collectionIDs: [Int64]) throws {
        guard !ids.isEmpty else { return }
        let markNew = try db.cachedStatement(sql: """
            INSERT INTO code_status (image_id, collection_id, state)
            SELECT value, ?, 'pending' FROM json_each(?) WHERE true
            ON CONFLICT (collection_id, image_id) DO NOTHING
            """)
        let json = FeatureStore.jsonArray(ids)
        for collectionID in collectionIDs { try markNew.execute(arguments: [collectionID, json]) }
    }

    /// `[[source, path, digest, label, split], …]` (nil → null) for `registerImages`.
    static func imagesJSON(_ images: [NewImage]) throws -> String {
        JSONText.rows(images.map { [$0.source, $0.path, $0.digest, $0.label, $0.split] })
    }

    /// Records width and height (known only after decoding) of registered images.
    public func setImageSizes(_ sizes: [(id: Int64, width: Int, height: Int)]) throws {
        guard !sizes.isEmpty else { return }
        try catalogWrite("set image sizes") { db in
            let update = try db.cachedStatement(sql: "UPDATE images SET width = ?, height = ? WHERE id = ?")
            for size in sizes { try update.execute(arguments: [size.width, size.height, size.id]) }
        }
    }

    /// The image at `path` under `source`, or nil (for resume: compare its digest).
    public func lookup(source: String, path: String) throws -> ImageRecord? {
        try catalogRead("look up image") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM images WHERE source = ? AND path = ?",
                             arguments: [source, path]).map(FeatureStore.imageRecord)
        }
    }

    /// Images with content digest `digest` (several paths may hold the same file).
    public func lookup(digest: String) throws -> [ImageRecord] {
        try catalogRead("look up digest") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM images WHERE digest = ? ORDER BY id",
                             arguments: [digest]).map(FeatureStore.imageRecord)
        }
    }

    /// Whether image `id` has a code in `collection` (a done mark).
    public func isDone(imageID id: Int64, collection: String) throws -> Bool {
        try catalogRead("read code status") { db in
            try String.fetchOne(db, sql: """
                SELECT s.state FROM code_status s JOIN collections c ON c.id = s.collection_id
                WHERE c.name = ? AND s.image_id = ?
                """, arguments: [collection, id]) == "done"
        }
    }

    /// The image rows with these ids, in id order (unknown ids are left out).
    public func images(ids: [Int64]) throws -> [ImageRecord] {
        try catalogRead("read images") { db in
            // Chunks of ids as JSON arrays: one statement per 10,000 ids, not one per id.
            let statement = try db.cachedStatement(sql: """
                SELECT * FROM images WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id
                """)
            let sorted = ids.sorted()
            var records: [ImageRecord] = []
            records.reserveCapacity(sorted.count)
            for start in stride(from: 0, to: sorted.count, by: 10_000) {
                let chunk = Array(sorted[start..<min(sorted.count, start + 10_000)])
                let rows = try Row.fetchCursor(statement, arguments: [FeatureStore.jsonArray(chunk)])
                while let row = try rows.next() { records.append(FeatureStore.imageRecord(row)) }
            }
            return records
        }
    }

    /// The image row `id`, or nil.
    public func image(id: Int64) throws -> ImageRecord? { try images(ids: [id]).first }

    /// Ids of images with a code (done) in `collection` matching `filter`, ascending.
    public func imageIDs(collection: String, filter: ImageFilter = .all) throws -> [Int64] {
        let record = try requireCollection(collection)
        return try catalogRead("filter images") { db in
            try Int64.fetchAll(db, sql: """
                SELECT i.id FROM images i JOIN code_status s ON s.image_id = i.id
                WHERE s.collection_id = ? AND s.state = 'done'
                  AND (? IS NULL OR i.label = ?) AND (? IS NULL OR i.split = ?)
                ORDER BY i.id
                """, arguments: [record.id, filter.label, filter.label, filter.split, filter.split])
        }
    }

    /// Distinct labels of the images with a code in `collection`, sorted.
    public func labels(collection: String) throws -> [String] {
        let record = try requireCollection(collection)
        return try catalogRead("list labels") { db in
            try String.fetchAll(db, sql: """
                SELECT DISTINCT i.label FROM images i JOIN code_status s ON s.image_id = i.id
                WHERE s.collection_id = ? AND s.state = 'done' AND i.label IS NOT NULL ORDER BY i.label
                """, arguments: [record.id])
        }
    }

    /// Number of image rows.
    public func imageCount() throws -> Int {
        try catalogRead("count images") { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM images") ?? 0 }
    }

    // MARK: Rows

    /// Deletes image `id` and its marks, keeping each collection's count right. Its codes
    /// must be deleted from LMDB after the transaction commits.
    static func deleteImage(_ db: Database, id: Int64) throws {
        try db.execute(sql: """
            UPDATE collections SET count = count - 1
            WHERE id IN (SELECT collection_id FROM code_status WHERE image_id = ? AND state = 'done')
            """, arguments: [id])
        try db.execute(sql: "DELETE FROM images WHERE id = ?", arguments: [id])
    }

    static func imageRecord(_ row: Row) -> ImageRecord {
        ImageRecord(id: row["id"], source: row["source"], path: row["path"], digest: row["digest"],
                    width: row["width"], height: row["height"], label: row["label"], split: row["split"],
                    added: row["added"])
    }
}
