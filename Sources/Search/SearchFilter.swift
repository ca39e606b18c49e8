/// Restricts a query to some ids (e.g. the images of one label or split, which the caller
/// computes from the catalog as an allowed-id set).
///
/// A set knows its size, so indexes can choose the cheaper strategy up front (e.g. HNSW falls
/// back to exact search over the allowed ids when they are few). A predicate is evaluated
/// once per candidate row; HNSW estimates its selectivity from a sample.
public struct SearchFilter {
    enum Kind {
        case ids(Set<Int64>)
        case predicate((Int64) -> Bool)
    }

    let kind: Kind

    /// Only these ids may be returned.
    public static func ids<S: Sequence>(_ ids: S) -> SearchFilter where S.Element == Int64 {
        SearchFilter(kind: .ids(Set(ids)))
    }

    /// Only ids for which `isAllowed` is true may be returned. It must be cheap and
    /// thread-safe: searches call it from their worker threads.
    public static func predicate(_ isAllowed: @escaping (Int64) -> Bool) -> SearchFilter {
        SearchFilter(kind: .predicate(isAllowed))
    }

    /// Whether `id` passes.
    @inline(__always)
    public func allows(_ id: Int64) -> Bool {
        switch kind {
        case let .ids(set): return set.contains(id)
        case let .predicate(isAllowed): return isAllowed(id)
        }
    }
}
