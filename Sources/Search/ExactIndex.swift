/// Exact k-nearest-neighbour search over a growing set of vectors with `Int64` ids.
///
/// Vectors live in one contiguous row-major matrix (`RowStorage`, float32 or float16), in
/// insertion order; `add` appends without any rebuild and `remove` swaps the last row in.
/// For `.cosine` rows are normalized when added (and queries when searched), so cosine is an
/// inner product; for `.l2` the squared norm of each stored row is kept so distances come from
/// the inner product: ‖x − q‖² = ‖x‖² − 2x·q + ‖q‖² (clamped at 0, as FAISS does).
///
/// Search strategies (see `ExactIndex+Batched.swift`, `ExactIndex+Scan.swift`):
/// - 4 or more queries: blocked sgemm of a query block × a code block, each score tile
///   reduced at once into per-query bounded heaps (compute-bound; BLAS does the FLOPs).
/// - fewer queries: one streaming pass over the rows per query, split over `threads`
///   (memory-bandwidth-bound, like FAISS's sequential path).
/// - a filter keeping at most a quarter of the rows: the allowed rows are gathered block by
///   block and only they are scored.
///
/// Thread safety: searches may run concurrently with each other; `add`/`remove` must not run
/// concurrently with anything (the caller serializes mutations).
public final class ExactIndex {
    public let dim: Int
    public let metric: Metric
    /// Worker threads used by a search (heap selection, the single-query pass, float16
    /// conversion). The sgemm itself uses OpenBLAS's own thread count (`BLAS.setThreads`).
    public var threads: Int

    /// Id of each row, in row order.
    public private(set) var ids: [Int64] = []
    let rows: RowStorage
    /// ‖x‖² of each stored row (after float16 rounding, so distances are consistent with what
    /// is stored); maintained for `.l2` only, empty otherwise.
    var squaredNorms: [Float] = []
    var rowOfID: [Int64: Int] = [:]
    /// Block sizes forced by tests (to cover several blocks on small data); nil in production.
    var blockSizeOverride: (rows: Int, queries: Int)?

    /// How rows are stored.
    public var scalarType: ScalarType { rows.scalarType }
    /// Number of vectors in the index.
    public var count: Int { ids.count }

    /// An empty index of `dim`-dimensional vectors.
    public init(dim: Int, metric: Metric, scalarType: ScalarType = .float32, threads: Int = 2) throws {
        guard dim > 0 else { throw SearchError.invalidParameter(name: "dim", reason: "\(dim) must be positive") }
        guard threads > 0 else { throw SearchError.invalidParameter(name: "threads", reason: "\(threads) must be positive") }
        self.dim = dim
        self.metric = metric
        self.threads = threads
        rows = RowStorage(dim: dim, scalarType: scalarType)
    }

    /// Appends vectors (`vectors` is `ids.count × dim`, row-major). Throws, adding nothing, on
    /// a size mismatch or an id already present (or repeated).
    public func add(ids newIDs: [Int64], vectors: [Float]) throws {
        try vectors.withUnsafeBufferPointer { try add(ids: newIDs, vectors: $0) }
    }

    /// Appends vectors from a row-major buffer of `ids.count × dim` floats (no copy is kept).
    public func add(ids newIDs: [Int64], vectors: UnsafeBufferPointer<Float>) throws {
        guard vectors.count == newIDs.count * dim else {
            throw SearchError.dimensionMismatch(expected: newIDs.count * dim, got: vectors.count)
        }
        var seen = Set<Int64>(minimumCapacity: newIDs.count)
        for id in newIDs where rowOfID[id] != nil || !seen.insert(id).inserted {
            throw SearchError.duplicateID(id)
        }
        guard let source = vectors.baseAddress, !newIDs.isEmpty else { return }
        rows.reserve(rows.count + newIDs.count)
        let row = UnsafeMutablePointer<Float>.allocate(capacity: dim)
        defer { row.deallocate() }
        for (i, id) in newIDs.enumerated() {
            row.update(from: source + i * dim, count: dim)
            if metric == .cosine { VectorKernels.normalize(row, dim) }
            rowOfID[id] = rows.count
            rows.append(row)
            ids.append(id)
            if metric == .l2 {
                let stored = rows.floatRow(rows.count - 1, scratch: row)
                squaredNorms.append(VectorKernels.dot(stored, stored, dim))
            }
        }
    }

    /// Removes `id` (its row is replaced by the last row). Throws if absent.
    public func remove(id: Int64) throws {
        guard let row = rowOfID.removeValue(forKey: id) else { throw SearchError.unknownID(id) }
        let last = ids.count - 1
        rows.removeBySwappingLast(row)
        if row != last {
            ids[row] = ids[last]
            rowOfID[ids[row]] = row
            if metric == .l2 { squaredNorms[row] = squaredNorms[last] }
        }
        ids.removeLast()
        if metric == .l2 { squaredNorms.removeLast() }
    }

    /// Whether `id` is in the index.
    public func contains(id: Int64) -> Bool { rowOfID[id] != nil }

    /// The stored vector of `id` as float32 (normalized for cosine; float16-rounded if so stored).
    public func vector(id: Int64) -> [Float]? {
        guard let row = rowOfID[id] else { return nil }
        var out = [Float](repeating: 0, count: dim)
        out.withUnsafeMutableBufferPointer { buffer in
            let p = rows.floatRow(row, scratch: buffer.baseAddress!)
            if p != UnsafePointer(buffer.baseAddress!) { buffer.baseAddress!.update(from: p, count: dim) }
        }
        return out
    }

    /// The `k` best matches of one query (`query.count == dim`), best first.
    public func search(query: [Float], k: Int, filter: SearchFilter? = nil) throws -> [SearchHit] {
        try search(queries: query, count: 1, k: k, filter: filter)[0]
    }

    /// The `k` best matches of each of `count` queries (`queries` is `count × dim`,
    /// row-major), best first; fewer than `k` when fewer rows pass the filter.
    public func search(queries: [Float], count queryCount: Int, k: Int, filter: SearchFilter? = nil) throws -> [[SearchHit]] {
        guard k > 0 else { throw SearchError.invalidParameter(name: "k", reason: "\(k) must be positive") }
        guard queryCount >= 0, queries.count == queryCount * dim else {
            throw SearchError.dimensionMismatch(expected: max(0, queryCount) * dim, got: queries.count)
        }
        if queryCount == 0 { return [] }
        var prepared = queries
        var queryNorms = [Float](repeating: 0, count: queryCount)
        prepared.withUnsafeMutableBufferPointer { q in
            for i in 0..<queryCount {
                let p = q.baseAddress! + i * dim
                if metric == .cosine { VectorKernels.normalize(p, dim) }
                if metric == .l2 { queryNorms[i] = VectorKernels.dot(p, p, dim) }
            }
        }
        let selection = rowSelection(filter)
        let kept = min(k, selection.candidateCount(total: count))
        if kept == 0 { return [[SearchHit]](repeating: [], count: queryCount) }

        let selected: [[(key: Float, id: Int64)]]
        if queryCount >= ExactIndex.batchedQueryThreshold {
            selected = prepared.withUnsafeBufferPointer { searchBatched(queries: $0.baseAddress!, count: queryCount, k: kept, selection: selection) }
        } else {
            selected = prepared.withUnsafeBufferPointer { q in
                (0..<queryCount).map { scan(query: q.baseAddress! + $0 * dim, k: kept, selection: selection) }
            }
        }
        return selected.enumerated().map { i, pairs in
            pairs.map { SearchHit(id: $0.id, score: score(key: $0.key, queryNorm: queryNorms[i])) }
        }
    }

    /// From 4 queries on, one sgemm pass over the codes beats one streaming pass per query
    /// (each pass reads the whole matrix from memory; the sgemm reads it once per query block).
    static let batchedQueryThreshold = 4

    /// Selection key of a row: larger is better. Inner product and cosine: x·q. L2: 2x·q − ‖x‖²,
    /// which orders rows like −‖x − q‖² (‖q‖² is the same for every row of one query).
    @inline(__always)
    func score(key: Float, queryNorm: Float) -> Float {
        metric == .l2 ? max(0, queryNorm - key) : key
    }
}

/// Which rows a search considers.
enum RowSelection {
    /// Every row, or those whose `mask` entry is true (mask indexed by row).
    case all(mask: [Bool]?)
    /// Only these rows (ascending), gathered before scoring.
    case gathered([Int])

    func candidateCount(total: Int) -> Int {
        switch self {
        case let .all(mask): return mask.map { $0.lazy.filter { $0 }.count } ?? total
        case let .gathered(rows): return rows.count
        }
    }
}

extension ExactIndex {
    /// A filter keeping at most this fraction of the rows is searched by gathering the allowed
    /// rows (copying them costs less than scoring every row when most are discarded).
    static let gatherFraction = 0.25

    func rowSelection(_ filter: SearchFilter?) -> RowSelection {
        guard let filter else { return .all(mask: nil) }
        var mask = [Bool](repeating: false, count: count)
        var allowed = 0
        switch filter.kind {
        case let .ids(set):
            for id in set {
                if let row = rowOfID[id] { mask[row] = true; allowed += 1 }
            }
        case let .predicate(isAllowed):
            for (row, id) in ids.enumerated() where isAllowed(id) {
                mask[row] = true
                allowed += 1
            }
        }
        if Double(allowed) <= ExactIndex.gatherFraction * Double(count) {
            return .gathered(mask.indices.filter { mask[$0] })
        }
        return .all(mask: mask)
    }
}
