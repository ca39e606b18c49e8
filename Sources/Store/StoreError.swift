import Foundation

/// Everything the Store module throws. Each case names the store, collection, image id or
/// file it is about, so the CLI can print it as one line and exit non-zero.
public enum StoreError: Error, CustomStringConvertible, Equatable {
    /// The store directory (or a file in it) cannot be created or written.
    case unwritable(path: String, reason: String)
    /// Another process holds the store's writer lock (`store.lock`).
    case busy(path: String)
    /// This process already has the store open; LMDB forbids opening one environment twice
    /// in a process (its locks are per process), so share the open `FeatureStore` instead.
    case alreadyOpen(path: String)
    /// A read-only open of a store that does not exist yet.
    case missing(path: String)
    /// An LMDB call failed: `operation` is the C function, `code` its return value.
    case lmdb(operation: String, code: Int32, message: String, path: String)
    /// A SQLite / GRDB error while talking to the catalog.
    case catalog(operation: String, message: String, path: String)
    /// A collection name that is empty, too long or has characters other than [A-Za-z0-9._-].
    case invalidCollectionName(String)
    case unknownCollection(String)
    /// Writing into an existing collection with a different provenance (model, layer,
    /// preprocessing, pooling, ReLU, dtype): codes of different provenance never mix.
    case provenanceMismatch(collection: String, field: String, stored: String, requested: String)
    /// A code whose length is not the collection's dimension.
    case dimensionMismatch(collection: String, expected: Int, got: Int, imageID: Int64?)
    /// An image id that has no row in the catalog.
    case unknownImage(Int64)
    /// A stored value that is neither a dense nor a valid zero-bitmap packed code
    /// (`CodeEncoding`); `reason` says what is wrong (its length, header or bitmap).
    case corruptCode(collection: String, imageID: Int64, reason: String)
    /// A file given to export/import is missing or malformed.
    case badFile(path: String, reason: String)
    case invalidArgument(String)
    case unknownClassifier(String)

    public var description: String {
        switch self {
        case .unwritable(let path, let reason):
            return "store \(path) is not writable: \(reason)"
        case .busy(let path):
            return "store \(path) is being written by another process (writer lock held); try again when it finishes"
        case .alreadyOpen(let path):
            return "store \(path) is already open in this process; reuse that instance"
        case .missing(let path):
            return "store \(path) does not exist"
        case .lmdb(let operation, let code, let message, let path):
            return "LMDB \(operation) failed on \(path): \(message) (\(code))"
        case .catalog(let operation, let message, let path):
            return "catalog \(path): \(operation) failed: \(message)"
        case .invalidCollectionName(let name):
            return "invalid collection name '\(name)': use 1–100 characters from A-Z a-z 0-9 . _ -"
        case .unknownCollection(let name):
            return "no collection named '\(name)' in this store"
        case .provenanceMismatch(let collection, let field, let stored, let requested):
            return "collection '\(collection)' was made with \(field) \(stored), not \(requested); "
                + "codes of different provenance never mix — use another --collection name"
        case .dimensionMismatch(let collection, let expected, let got, let imageID):
            let which = imageID.map { " for image \($0)" } ?? ""
            return "collection '\(collection)' holds \(expected)-d codes, got \(got) values\(which)"
        case .unknownImage(let id):
            return "no image with id \(id) in the catalog"
        case .corruptCode(let collection, let imageID, let reason):
            return "collection '\(collection)': code of image \(imageID) is corrupt: \(reason)"
        case .badFile(let path, let reason):
            return "\(path): \(reason)"
        case .invalidArgument(let message):
            return message
        case .unknownClassifier(let name):
            return "no classifier named '\(name)' in this store"
        }
    }
}
