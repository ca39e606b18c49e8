import CLMDB
import Foundation
import GRDB

extension FeatureStore {
    /// Collections with counts, sizes and provenance, for `cnncodes info`.
    public func info() throws -> StoreInfo {
        let records = try collections()
        var collectionInfos: [CollectionInfo] = []
        let pageSize = codes.pageSize
        for record in records {
            let pending = try catalogRead("count pending") { db in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM code_status WHERE collection_id = ? AND state = 'pending'",
                                 arguments: [record.id]) ?? 0
            }
            var stored = 0
            var bytes = 0
            if let dbi = try codes.existingDatabase(record.name) {
                let stat = try codes.read { txn in try txn.stat(dbi) }
                stored = Int(stat.ms_entries)
                bytes = (Int(stat.ms_branch_pages) + Int(stat.ms_leaf_pages) + Int(stat.ms_overflow_pages)) * pageSize
            }
            collectionInfos.append(CollectionInfo(record: record, storedCodes: stored, pending: pending, bytesOnDisk: bytes))
        }
        let (images, failures) = try catalogRead("count images") { db in
            (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM images") ?? 0,
             try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM failures") ?? 0)
        }
        func size(_ name: String) -> Int {
            let attributes = try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(name).path)
            return (attributes?[.size] as? NSNumber)?.intValue ?? 0
        }
        return StoreInfo(
            path: directory.path, images: images, failures: failures, collections: collectionInfos,
            catalogBytes: size(FeatureStore.catalogFileName) + size(FeatureStore.catalogFileName + "-wal"),
            codesFileBytes: size(FeatureStore.codesDirectoryName + "/data.mdb"),
            mapSize: codes.mapSize)
    }

    /// Number of times this instance grew the LMDB map (MDB_MAP_FULL handled).
    public var mapGrowths: Int { codes.growthCount }
}
