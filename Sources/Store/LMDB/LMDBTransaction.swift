import CLMDB
import Foundation

/// A live LMDB transaction, valid only inside the `read`/`write` closure that received it.
///
/// Keys are image ids as 8-byte big-endian integers, so LMDB's bytewise key order is id
/// order and a cursor scan returns codes sorted by id.
struct LMDBTransaction {
    let handle: OpaquePointer
    unowned let environment: LMDBEnvironment

    /// Whether it was begun with `MDB_RDONLY`.
    let isReadOnly: Bool

    /// The value stored under `id`, as raw bytes valid until the transaction ends, or nil.
    func get(_ dbi: MDB_dbi, id: Int64) throws -> UnsafeRawBufferPointer? {
        var keyBytes = id.bigEndian
        return try withUnsafeMutableBytes(of: &keyBytes) { key in
            var keyVal = MDB_val(mv_size: 8, mv_data: key.baseAddress)
            var dataVal = MDB_val()
            let rc = mdb_get(handle, dbi, &keyVal, &dataVal)
            if rc == MDB_NOTFOUND { return nil }
            try LMDBEnvironment.check(rc, "mdb_get", environment.path)
            return UnsafeRawBufferPointer(start: dataVal.mv_data, count: dataVal.mv_size)
        }
    }

    /// Reserves `byteCount` bytes under `id` (replacing any old value) and lets `fill` write
    /// them in place (`MDB_RESERVE`: no intermediate copy of the code).
    ///
    /// `append`: the caller guarantees `id` is greater than every key in the database
    /// (`MDB_APPEND`): LMDB then fills leaf pages completely instead of splitting them in
    /// half, which keeps sequential imports ~2× smaller on disk for small codes.
    func put(_ dbi: MDB_dbi, id: Int64, byteCount: Int, append: Bool = false,
             fill: (UnsafeMutableRawBufferPointer) -> Void) throws {
        var keyBytes = id.bigEndian
        try withUnsafeMutableBytes(of: &keyBytes) { key in
            var keyVal = MDB_val(mv_size: 8, mv_data: key.baseAddress)
            var dataVal = MDB_val(mv_size: byteCount, mv_data: nil)
            let flags = UInt32(MDB_RESERVE) | (append ? UInt32(MDB_APPEND) : 0)
            try LMDBEnvironment.check(
                mdb_put(handle, dbi, &keyVal, &dataVal, flags), "mdb_put", environment.path)
            fill(UnsafeMutableRawBufferPointer(start: dataVal.mv_data, count: byteCount))
        }
    }

    /// The largest id in the database, or nil when it is empty.
    func lastID(_ dbi: MDB_dbi) throws -> Int64? {
        var cursor: OpaquePointer?
        try LMDBEnvironment.check(mdb_cursor_open(handle, dbi, &cursor), "mdb_cursor_open", environment.path)
        defer { mdb_cursor_close(cursor) }
        var keyVal = MDB_val()
        var dataVal = MDB_val()
        let rc = mdb_cursor_get(cursor, &keyVal, &dataVal, MDB_LAST)
        if rc == MDB_NOTFOUND { return nil }
        try LMDBEnvironment.check(rc, "mdb_cursor_get", environment.path)
        guard keyVal.mv_size == 8, let keyPointer = keyVal.mv_data else { return nil }
        return Int64(bigEndian: keyPointer.loadUnaligned(as: Int64.self))
    }

    /// Deletes the value under `id`; returns whether there was one.
    @discardableResult
    func delete(_ dbi: MDB_dbi, id: Int64) throws -> Bool {
        var keyBytes = id.bigEndian
        return try withUnsafeMutableBytes(of: &keyBytes) { key in
            var keyVal = MDB_val(mv_size: 8, mv_data: key.baseAddress)
            let rc = mdb_del(handle, dbi, &keyVal, nil)
            if rc == MDB_NOTFOUND { return false }
            try LMDBEnvironment.check(rc, "mdb_del", environment.path)
            return true
        }
    }

    /// Empties a named database (keeps it open).
    func clear(_ dbi: MDB_dbi) throws {
        try LMDBEnvironment.check(mdb_drop(handle, dbi, 0), "mdb_drop", environment.path)
    }

    /// Entries and pages of a named database.
    func stat(_ dbi: MDB_dbi) throws -> MDB_stat {
        var stat = MDB_stat()
        try LMDBEnvironment.check(mdb_stat(handle, dbi, &stat), "mdb_stat", environment.path)
        return stat
    }

    /// Calls `body` for every (id, value) in id order. Values are valid only during the call.
    func forEach(_ dbi: MDB_dbi, _ body: (Int64, UnsafeRawBufferPointer) throws -> Void) throws {
        var cursor: OpaquePointer?
        try LMDBEnvironment.check(mdb_cursor_open(handle, dbi, &cursor), "mdb_cursor_open", environment.path)
        defer { mdb_cursor_close(cursor) }
        var keyVal = MDB_val()
        var dataVal = MDB_val()
        var op = MDB_FIRST
        while true {
            let rc = mdb_cursor_get(cursor, &keyVal, &dataVal, op)
            if rc == MDB_NOTFOUND { return }
            try LMDBEnvironment.check(rc, "mdb_cursor_get", environment.path)
            op = MDB_NEXT
            guard keyVal.mv_size == 8, let keyPointer = keyVal.mv_data else {
                throw StoreError.lmdb(operation: "mdb_cursor_get", code: -1,
                                      message: "key of \(keyVal.mv_size) bytes (expected an 8-byte image id)",
                                      path: environment.path)
            }
            let id = Int64(bigEndian: keyPointer.loadUnaligned(as: Int64.self))
            try body(id, UnsafeRawBufferPointer(start: dataVal.mv_data, count: dataVal.mv_size))
        }
    }
}
