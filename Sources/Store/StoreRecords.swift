import Foundation

/// An image to register: where it is and what the scanner knows before decoding it.
public struct NewImage: Equatable, Sendable {
    /// The root the path is relative to (the `--images` folder or the manifest's folder,
    /// as an absolute path), so two datasets with the same relative paths stay apart.
    public var source: String
    /// Path relative to `source`.
    public var path: String
    /// Content digest ("sha256:…"); nil when unknown (e.g. imported without one).
    public var digest: String?
    public var label: String?
    public var split: String?

    public init(source: String, path: String, digest: String?, label: String? = nil, split: String? = nil) {
        self.source = source
        self.path = path
        self.digest = digest
        self.label = label
        self.split = split
    }
}

/// What `registerImages` answers for each image, in input order.
public struct RegisteredImage: Equatable, Sendable {
    public var id: Int64
    /// Collections (of those asked for) that already hold this image's code: skip them.
    public var done: Set<String>
    /// The collections that still need a code for this image (marked pending).
    public var pending: Set<String>
    /// True when the path was known with another digest: the old row, its codes and marks
    /// were removed and this is a new id.
    public var replacedChangedFile: Bool
}

/// An image row of the catalog.
public struct ImageRecord: Equatable, Sendable {
    public var id: Int64
    public var source: String
    public var path: String
    public var digest: String?
    public var width: Int?
    public var height: Int?
    public var label: String?
    public var split: String?
    public var added: String
}

/// A collection: its provenance, dimension and how many codes are stored (done).
public struct CollectionRecord: Equatable, Sendable {
    public var id: Int64
    public var name: String
    public var provenance: Provenance
    public var dim: Int
    public var count: Int
    public var created: String

    /// Bytes of one code in the dense format (dim × element size): the most a stored code
    /// takes; packed codes are shorter (`CodeEncoding`).
    public var codeBytes: Int { dim * provenance.dtype.byteWidth }

    /// How this collection's codes are stored in LMDB.
    var encoding: CodeEncoding { CodeEncoding(dim: dim, dtype: provenance.dtype) }
}

/// Codes of a collection as one row-major float32 matrix (`ids.count` × `dim`), rows in the
/// order of `ids` (ascending id for a full read). f16 codes are widened.
public struct CodeMatrix: Equatable, Sendable {
    public var ids: [Int64]
    public var values: [Float]
    public var dim: Int

    public var count: Int { ids.count }

    /// Row `index` (copied).
    public func row(_ index: Int) -> [Float] { Array(values[(index * dim)..<((index + 1) * dim)]) }
}

/// Which images of a collection to read.
public struct ImageFilter: Equatable, Sendable {
    public var label: String?
    public var split: String?
    public init(label: String? = nil, split: String? = nil) {
        self.label = label
        self.split = split
    }
    public static let all = ImageFilter()
    var isAll: Bool { label == nil && split == nil }
}

/// A recorded failure (an image that could not be read or extracted).
public struct FailureRecord: Equatable, Sendable {
    public var id: Int64
    public var runID: Int64?
    public var source: String
    public var path: String
    public var reason: String
    public var time: String
}

/// Counts a run ends with.
public struct RunCounts: Equatable, Sendable {
    public var done: Int
    public var skipped: Int
    public var failed: Int
    public init(done: Int, skipped: Int, failed: Int) {
        self.done = done
        self.skipped = skipped
        self.failed = failed
    }
}

/// An extraction or import run.
public struct RunRecord: Equatable, Sendable {
    public var id: Int64
    public var command: String
    public var collections: [String]
    public var started: String
    /// nil while running — or when the run was killed.
    public var finished: String?
    public var counts: RunCounts
}

/// A stored classifier: the Learning module's model and metrics as opaque JSON.
public struct ClassifierRecord: Equatable, Sendable {
    public var name: String
    public var collection: String
    public var kind: String
    public var modelJSON: String
    public var metricsJSON: String
    public var created: String
}

/// What reconciliation (run when a store is opened for writing) changed.
public struct ReconcileReport: Equatable, Sendable, CustomStringConvertible {
    /// Codes found in LMDB whose row was pending (or had no mark): marked done.
    public var adopted = 0
    /// Done marks without a code in LMDB: set back to pending (re-extracted by the next run).
    public var requeued = 0
    /// LMDB values without an image row (a changed file's old code, or a crash between
    /// deleting a row and its codes): deleted.
    public var orphansDeleted = 0
    /// Collections whose `count` was corrected.
    public var countsFixed = 0

    public var isClean: Bool { adopted == 0 && requeued == 0 && orphansDeleted == 0 && countsFixed == 0 }

    public var description: String {
        "adopted \(adopted), re-queued \(requeued), orphans deleted \(orphansDeleted), counts fixed \(countsFixed)"
    }
}

/// One collection as `cnncodes info` shows it.
public struct CollectionInfo: Equatable, Sendable {
    public var record: CollectionRecord
    /// Codes in LMDB (the truth; equals `record.count` in a reconciled store).
    public var storedCodes: Int
    /// Images marked pending for this collection.
    public var pending: Int
    /// Pages of the collection's LMDB database × page size.
    public var bytesOnDisk: Int
}

/// The whole store as `cnncodes info` shows it.
public struct StoreInfo: Equatable, Sendable {
    public var path: String
    public var images: Int
    public var failures: Int
    public var collections: [CollectionInfo]
    /// Size of catalog.sqlite (+ WAL) and of codes.lmdb/data.mdb, in bytes.
    public var catalogBytes: Int
    public var codesFileBytes: Int
    public var mapSize: Int
}
