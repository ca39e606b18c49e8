/// Errors of the Search module; each names the file, id or parameter concerned.
public enum SearchError: Error, CustomStringConvertible, Equatable {
    /// A constructor or search parameter is out of range (`name` = the parameter).
    case invalidParameter(name: String, reason: String)
    /// `vectors.count` does not match `ids.count × dim` (or a query's length is not `dim`).
    case dimensionMismatch(expected: Int, got: Int)
    /// An id is already in the index, or repeated within one `add`.
    case duplicateID(Int64)
    /// An id passed to `markDeleted` / `remove` is not in the index.
    case unknownID(Int64)
    /// An index file cannot be read or written (I/O failure).
    case unreadableFile(path: String, reason: String)
    /// An index file is not a valid index of this format (magic, version, parameters, size).
    case corruptFile(path: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidParameter(name, reason): return "invalid \(name): \(reason)"
        case let .dimensionMismatch(expected, got):
            return "vector data has \(got) elements, expected \(expected)"
        case let .duplicateID(id): return "id \(id) is already in the index"
        case let .unknownID(id): return "id \(id) is not in the index"
        case let .unreadableFile(path, reason): return "\(path): \(reason)"
        case let .corruptFile(path, reason): return "\(path): not a valid cnncodes HNSW index: \(reason)"
        }
    }
}
