import CLMDB
import Foundation
import GRDB

/// A store: a directory holding `catalog.sqlite` (metadata, GRDB in WAL mode) and
/// `codes.lmdb/` (the codes, one named LMDB database per collection; key = 8-byte big-endian
/// image id, value = the code as little-endian f32 or f16, no header).
///
/// Invariants (DESIGN.md): LMDB holds the truth about which codes exist; the catalog holds
/// metadata and the pending/done marks. Writers follow the protocol in
/// `FeatureStore+Codes.swift`; opening for writing reconciles the two
/// (`FeatureStore+Reconcile.swift`).
///
/// Concurrency: one writing process at a time (an exclusive `flock` on `store.lock`, released
/// by the kernel if the process dies); any number of readers, in this process (threads share
/// one instance — it is thread-safe) or in others (`mode: .readOnly`), never blocked by the
/// writer. LMDB forbids opening one environment twice in a process, so a second instance
/// for the same directory in one process throws `StoreError.alreadyOpen`.
public final class FeatureStore: @unchecked Sendable {
    public enum Mode: Sendable {
        /// Creates the store if needed, takes the writer lock, migrates and reconciles.
        case readWrite
        /// Reads only; takes no lock and changes nothing (a service beside an extraction).
        case readOnly
    }

    public struct Options: Sendable {
        /// Initial LMDB map size in bytes. Address space only (the file grows with the data);
        /// a write that fills the map doubles it. 4 GiB ≈ 500,000 1280-d f32 codes.
        public var initialMapSize: Int = 4 << 30
        public init(initialMapSize: Int = 4 << 30) {
            self.initialMapSize = initialMapSize
        }
    }

    /// The default store directory, relative to the working directory.
    public static let defaultPath = "stores/default"
    static let catalogFileName = "catalog.sqlite"
    static let codesDirectoryName = "codes.lmdb"
    static let lockFileName = "store.lock"

    public let directory: URL
    public let mode: Mode
    let catalog: DatabasePool
    let codes: LMDBEnvironment
    private let lockDescriptor: Int32
    private let registryKey: String
    /// What reconciliation changed when this instance opened (empty for read-only opens).
    public private(set) var openingReconciliation = ReconcileReport()
    /// Serialises this instance's write protocol steps (register / put / mark), so the
    /// catalog and LMDB steps of two batches never interleave.
    let writeProtocolLock = NSRecursiveLock()

    /// Opens (for `.readWrite`, creates) the store at `directory`.
    ///
    /// Throws `StoreError.unwritable` when the directory cannot be created or written,
    /// `.busy` when another process writes it, `.missing` for a read-only open of nothing,
    /// `.alreadyOpen` when this process has it open already.
    public init(at directory: URL, mode: Mode = .readWrite, options: Options = Options()) throws {
        self.directory = directory.standardizedFileURL
        self.mode = mode
        let fileManager = FileManager.default
        let path = self.directory.path

        if mode == .readWrite {
            do {
                try fileManager.createDirectory(at: self.directory, withIntermediateDirectories: true)
                try fileManager.createDirectory(
                    at: self.directory.appendingPathComponent(FeatureStore.codesDirectoryName),
                    withIntermediateDirectories: true)
            } catch {
                throw StoreError.unwritable(path: path, reason: FeatureStore.reason(error))
            }
            guard access(path, W_OK) == 0 else {
                throw StoreError.unwritable(path: path, reason: String(cString: strerror(errno)))
            }
        } else {
            let catalogPath = self.directory.appendingPathComponent(FeatureStore.catalogFileName).path
            let lmdbPath = self.directory.appendingPathComponent(FeatureStore.codesDirectoryName + "/data.mdb").path
            guard fileManager.fileExists(atPath: catalogPath), fileManager.fileExists(atPath: lmdbPath) else {
                throw StoreError.missing(path: path)
            }
        }

        registryKey = self.directory.resolvingSymlinksInPath().path
        try FeatureStore.register(registryKey)
        var descriptor: Int32 = -1
        do {
            if mode == .readWrite {
                descriptor = try FeatureStore.takeWriterLock(in: self.directory)
            }
            lockDescriptor = descriptor
            catalog = try FeatureStore.openCatalog(in: self.directory, mode: mode)
            codes = try LMDBEnvironment(
                directory: self.directory.appendingPathComponent(FeatureStore.codesDirectoryName),
                readOnly: mode == .readOnly, mapSize: options.initialMapSize)
        } catch {
            if descriptor >= 0 { close(descriptor) }
            FeatureStore.unregister(registryKey)
            throw error
        }
        if mode == .readWrite {
            openingReconciliation = try reconcile()
        }
    }

    deinit {
        if lockDescriptor >= 0 { close(lockDescriptor) }  // releases the flock
        FeatureStore.unregister(registryKey)
    }

    // MARK: Opening

    private static func takeWriterLock(in directory: URL) throws -> Int32 {
        let lockPath = directory.appendingPathComponent(lockFileName).path
        let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw StoreError.unwritable(path: lockPath, reason: String(cString: strerror(errno)))
        }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            close(descriptor)
            throw StoreError.busy(path: directory.path)
        }
        return descriptor
    }

    private static func openCatalog(in directory: URL, mode: Mode) throws -> DatabasePool {
        let path = directory.appendingPathComponent(catalogFileName).path
        var configuration = Configuration()
        configuration.readonly = mode == .readOnly
        configuration.busyMode = .timeout(30)
        configuration.foreignKeysEnabled = true
        configuration.prepareDatabase { db in
            // WAL + NORMAL: a commit survives a killed process (the OS holds the WAL pages);
            // after a power loss the last commits may be lost, which reconciliation repairs
            // (LMDB, synced on every commit, stays the truth about codes).
            if !db.configuration.readonly {
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
                // Checkpoint every ~32 MB of WAL instead of 4 MB: a bulk import otherwise spends
                // a third of its catalog time re-writing and syncing the same index pages.
                try db.execute(sql: "PRAGMA wal_autocheckpoint = 8000")
            }
            // 64 MB page cache (default 2 MB): the (source, path) index of 100,000s of images
            // stays in memory instead of being re-read page by page.
            try db.execute(sql: "PRAGMA cache_size = -65536")
        }
        do {
            let pool = try DatabasePool(path: path, configuration: configuration)
            if mode == .readWrite {
                try CatalogMigrations.migrator.migrate(pool)
            } else {
                let applied = try pool.read { db in try CatalogMigrations.migrator.hasCompletedMigrations(db) }
                guard applied else {
                    throw StoreError.catalog(operation: "open", message: "schema is not migrated (open it for writing once)", path: path)
                }
            }
            return pool
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.catalog(operation: "open", message: reason(error), path: path)
        }
    }

    // MARK: One instance per directory per process

    private static let registryLock = NSLock()
    private static var openDirectories = Set<String>()

    private static func register(_ key: String) throws {
        registryLock.lock()
        defer { registryLock.unlock() }
        guard openDirectories.insert(key).inserted else { throw StoreError.alreadyOpen(path: key) }
    }

    private static func unregister(_ key: String) {
        registryLock.lock()
        defer { registryLock.unlock() }
        openDirectories.remove(key)
    }

    // MARK: Helpers

    /// A one-line reason for a Foundation / GRDB error.
    static func reason(_ error: Error) -> String {
        if let error = error as? DatabaseError { return error.message ?? "\(error.resultCode)" }
        if let error = error as? CocoaError, let underlying = error.underlying {
            return underlying.localizedDescription
        }
        return (error as NSError).localizedDescription
    }

    /// Runs a catalog write, mapping GRDB errors to `StoreError.catalog` — and a full disk
    /// (SQLITE_FULL; SQLITE_IOERR, which is what a write refused with EFBIG gives) to the same
    /// clear `unwritable` message as LMDB's. SQLite rolls the transaction back: consistent.
    func catalogWrite<T>(_ operation: String, _ body: (Database) throws -> T) throws -> T {
        do {
            return try catalog.write(body)
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL || error.resultCode == .SQLITE_IOERR {
            let what = error.resultCode == .SQLITE_FULL ? "disk full" : "disk full or I/O error"
            throw StoreError.unwritable(
                path: catalogPath,
                reason: "\(what) (\(FeatureStore.reason(error)) in \(operation)); the batch was not stored and the "
                    + "store is consistent — free space and re-run to resume")
        } catch {
            throw StoreError.catalog(operation: operation, message: FeatureStore.reason(error), path: catalogPath)
        }
    }

    /// Runs a catalog read, mapping GRDB errors to `StoreError.catalog`.
    func catalogRead<T>(_ operation: String, _ body: (Database) throws -> T) throws -> T {
        do {
            return try catalog.read(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.catalog(operation: operation, message: FeatureStore.reason(error), path: catalogPath)
        }
    }

    var catalogPath: String { directory.appendingPathComponent(FeatureStore.catalogFileName).path }

    /// Maps "no space" / "file too large" LMDB errors to a clear message. LMDB reports a
    /// short write (what a full disk usually causes mid-commit) as EIO.
    func explain(_ error: Error) -> Error {
        if case .lmdb(let operation, let code, _, let path) = error as? StoreError,
           code == ENOSPC || code == EFBIG || code == EDQUOT || code == EIO {
            let what = code == EIO ? "disk full or I/O error" : "disk full"
            return StoreError.unwritable(
                path: path,
                reason: "\(what) (\(String(cString: strerror(code))) in \(operation)); the batch was not stored and the "
                    + "store is consistent — free space and re-run to resume")
        }
        if case .lmdb(let operation, let code, _, let path) = error as? StoreError,
           code == EACCES || code == EROFS || code == EPERM {
            return StoreError.unwritable(path: path, reason: "\(String(cString: strerror(code))) in \(operation)")
        }
        return error
    }
}
