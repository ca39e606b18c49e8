import CLMDB
import Foundation

/// One LMDB environment (`codes.lmdb/data.mdb` + `lock.mdb`) with named databases.
///
/// Concurrency:
/// - Opened with `MDB_NOTLS`, so a read transaction is not tied to its thread and readers
///   never block the writer (MVCC: a reader sees the snapshot of its `begin`).
/// - `writeLock` serialises write transactions of this process (LMDB also serialises writers
///   across processes with its own mutex in lock.mdb).
/// - `mapLock` guards the memory map: every transaction holds it shared; growing the map
///   (`mdb_env_set_mapsize`, allowed only while this process has no transaction) takes it
///   exclusively. A long read transaction therefore delays a growth, never corrupts it.
///
/// Durability: no `MDB_NOSYNC`/`MDB_NOMETASYNC`, so `mdb_txn_commit` returns only after the
/// data pages and the new meta page are on disk (fdatasync). A process killed at any point
/// leaves either the previous or the new snapshot — never a half-written value.
final class LMDBEnvironment: @unchecked Sendable {
    private(set) var env: OpaquePointer
    let path: String
    let readOnly: Bool
    private let writeLock = NSLock()
    private var mapLock = pthread_rwlock_t()
    /// Guarded by `dbiLock`: named databases opened so far (a dbi handle stays valid for the
    /// environment's lifetime once its opening transaction committed).
    private var dbis: [String: MDB_dbi] = [:]
    private let dbiLock = NSLock()

    /// - Parameters:
    ///   - mapSize: initial map size in bytes. Only address space: the file grows with the
    ///     data, so a large value costs nothing; a write that fills it grows it (doubling).
    ///   - maxDatabases: named databases (collections) an environment can hold.
    init(directory: URL, readOnly: Bool, mapSize: Int, maxDatabases: Int = 512) throws {
        path = directory.path
        self.readOnly = readOnly
        var handle: OpaquePointer?
        try LMDBEnvironment.check(mdb_env_create(&handle), "mdb_env_create", path)
        guard let handle else { throw StoreError.lmdb(operation: "mdb_env_create", code: -1, message: "no handle", path: directory.path) }
        env = handle
        // Writer-preferring, so a growth is not starved by a stream of readers.
        var attributes = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attributes)
        pthread_rwlockattr_setkind_np(&attributes, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        pthread_rwlock_init(&mapLock, &attributes)
        pthread_rwlockattr_destroy(&attributes)
        do {
            try LMDBEnvironment.check(mdb_env_set_maxdbs(env, MDB_dbi(maxDatabases)), "mdb_env_set_maxdbs", path)
            try LMDBEnvironment.check(mdb_env_set_maxreaders(env, 1024), "mdb_env_set_maxreaders", path)
            try LMDBEnvironment.check(mdb_env_set_mapsize(env, mapSize), "mdb_env_set_mapsize", path)
            var flags = UInt32(MDB_NOTLS)
            if readOnly { flags |= UInt32(MDB_RDONLY) }
            try LMDBEnvironment.check(mdb_env_open(env, path, flags, 0o644), "mdb_env_open", path)
            if !readOnly {
                // Free reader slots of killed reader processes: a stale slot pins old pages,
                // so the file would grow instead of reusing them.
                var dead: Int32 = 0
                mdb_reader_check(env, &dead)
            }
        } catch {
            mdb_env_close(env)
            pthread_rwlock_destroy(&mapLock)
            throw error
        }
    }

    deinit {
        mdb_env_close(env)
        pthread_rwlock_destroy(&mapLock)
    }

    /// Current map size in bytes.
    var mapSize: Int {
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        return info.me_mapsize
    }

    /// Page size in bytes (the OS page size: every value larger than ~2 KB takes whole
    /// overflow pages, which is what bytes-on-disk per code reflects).
    var pageSize: Int {
        var stat = MDB_stat()
        mdb_env_stat(env, &stat)
        return Int(stat.ms_psize)
    }

    // MARK: Transactions

    /// Runs `body` in a read transaction (a consistent snapshot) and aborts it afterwards.
    func read<T>(_ body: (LMDBTransaction) throws -> T) throws -> T {
        pthread_rwlock_rdlock(&mapLock)
        defer { pthread_rwlock_unlock(&mapLock) }
        let txn = try begin(flags: UInt32(MDB_RDONLY))
        // Ended by commit, not abort: aborting closes dbi handles opened in the transaction
        // (`existingDatabase`); committing a read-only transaction keeps them and frees it.
        defer { mdb_txn_commit(txn.handle) }
        return try body(txn)
    }

    /// Runs `body` in a write transaction and commits it durably.
    ///
    /// When the map is full (`MDB_MAP_FULL` from a put or the commit) the transaction is
    /// aborted, the map doubled and `body` run again from scratch: `body` must therefore only
    /// write through `txn` (no side effects outside it). A throw from `body` aborts.
    func write<T>(_ body: (LMDBTransaction) throws -> T) throws -> T {
        guard !readOnly else {
            throw StoreError.unwritable(path: path, reason: "opened read-only")
        }
        writeLock.lock()
        defer { writeLock.unlock() }
        while true {
            switch attemptWrite(body) {
            case .success(let value):
                return value
            case .failure(let error):
                if case .lmdb(_, let code, _, _) = error as? StoreError, code == MDB_MAP_FULL {
                    try grow()
                    continue
                }
                throw error
            }
        }
    }

    /// One write transaction: begin, body, commit (or abort on a throw).
    private func attemptWrite<T>(_ body: (LMDBTransaction) throws -> T) -> Result<T, Error> {
        pthread_rwlock_rdlock(&mapLock)
        defer { pthread_rwlock_unlock(&mapLock) }
        let txn: LMDBTransaction
        do { txn = try begin(flags: 0) } catch { return .failure(error) }
        let value: T
        do {
            value = try body(txn)
        } catch {
            mdb_txn_abort(txn.handle)
            discardPendingDatabases()
            return .failure(error)
        }
        let rc = mdb_txn_commit(txn.handle)  // frees the handle whatever it returns
        guard rc == 0 else {
            discardPendingDatabases()
            return .failure(StoreError.lmdb(
                operation: "mdb_txn_commit", code: rc, message: String(cString: mdb_strerror(rc)), path: path))
        }
        publishPendingDatabases()
        return .success(value)
    }

    /// Number of times the map was grown by this process (for tests and the benchmark).
    private(set) var growthCount = 0

    /// Doubles the map size. Takes `mapLock` exclusively: no transaction of this process may
    /// be open while `mdb_env_set_mapsize` runs.
    private func grow() throws {
        pthread_rwlock_wrlock(&mapLock)
        defer { pthread_rwlock_unlock(&mapLock) }
        let newSize = mapSize * 2
        try LMDBEnvironment.check(mdb_env_set_mapsize(env, newSize), "mdb_env_set_mapsize", path)
        growthCount += 1
    }

    /// `mdb_txn_begin`, adopting a map grown by another process (`MDB_MAP_RESIZED`).
    private func begin(flags: UInt32) throws -> LMDBTransaction {
        var handle: OpaquePointer?
        var rc = mdb_txn_begin(env, nil, flags, &handle)
        if rc == MDB_MAP_RESIZED {
            // Setting size 0 adopts the size another process recorded. Needs no open
            // transaction here: we hold mapLock shared, so swap to exclusive for the call.
            pthread_rwlock_unlock(&mapLock)
            pthread_rwlock_wrlock(&mapLock)
            rc = mdb_env_set_mapsize(env, 0)
            pthread_rwlock_unlock(&mapLock)
            pthread_rwlock_rdlock(&mapLock)
            try LMDBEnvironment.check(rc, "mdb_env_set_mapsize", path)
            rc = mdb_txn_begin(env, nil, flags, &handle)
        }
        try LMDBEnvironment.check(rc, "mdb_txn_begin", path)
        guard let handle else { throw StoreError.lmdb(operation: "mdb_txn_begin", code: -1, message: "no handle", path: path) }
        return LMDBTransaction(handle: handle, environment: self, isReadOnly: flags & UInt32(MDB_RDONLY) != 0)
    }

    // MARK: Named databases

    /// The handle of the existing named database `name`, or nil when there is none.
    ///
    /// Opens it in a short read transaction of its own the first time (a dbi handle stays
    /// valid for the environment's lifetime once that transaction ends). Never call this
    /// inside a `read`/`write` closure: `mapLock` is not re-entrant. Resolve handles first.
    func existingDatabase(_ name: String) throws -> MDB_dbi? {
        dbiLock.lock()
        defer { dbiLock.unlock() }
        if let dbi = dbis[name] { return dbi }
        var found: MDB_dbi?
        try read { txn in
            var dbi = MDB_dbi()
            let rc = mdb_dbi_open(txn.handle, name, 0, &dbi)
            if rc == MDB_NOTFOUND { return }
            try LMDBEnvironment.check(rc, "mdb_dbi_open(\(name))", path)
            found = dbi
        }
        if let found { dbis[name] = found }
        return found
    }

    /// Creates (or opens) named database `name` inside write transaction `txn`. The handle is
    /// shared with other transactions once `txn` commits.
    func createDatabase(_ name: String, in txn: LMDBTransaction) throws -> MDB_dbi {
        dbiLock.lock()
        defer { dbiLock.unlock() }
        if let dbi = dbis[name] { return dbi }
        var dbi = MDB_dbi()
        try LMDBEnvironment.check(mdb_dbi_open(txn.handle, name, UInt32(MDB_CREATE), &dbi),
                                  "mdb_dbi_open(\(name))", path)
        pendingDBIs[name] = dbi
        return dbi
    }

    /// dbis created by the current write transaction; published when it commits.
    /// Only the writer (holding `writeLock`) touches it, under `dbiLock`.
    private var pendingDBIs: [String: MDB_dbi] = [:]

    private func publishPendingDatabases() {
        dbiLock.lock()
        defer { dbiLock.unlock() }
        dbis.merge(pendingDBIs) { _, new in new }
        pendingDBIs.removeAll()
    }

    /// After an abort the new handles are closed by LMDB: forget them.
    private func discardPendingDatabases() {
        dbiLock.lock()
        defer { dbiLock.unlock() }
        pendingDBIs.removeAll()
    }

    // MARK: Errors

    static func check(_ rc: Int32, _ operation: String, _ path: String) throws {
        guard rc != 0 else { return }
        throw StoreError.lmdb(operation: operation, code: rc, message: String(cString: mdb_strerror(rc)), path: path)
    }
}
