import CKernels
import Foundation
import Tensor

/// Approximate k-NN by a Hierarchical Navigable Small World graph (Malkov & Yashunin 2016),
/// following hnswlib: levels drawn as ⌊−ln(U)·mL⌋ with mL = 1/ln(M); M neighbours per
/// element on levels ≥ 1 and maxM0 = 2M on level 0, chosen by the paper's heuristic
/// (a candidate is kept only if it is closer to the new element than to every neighbour kept
/// so far); insertion searches each level with `efConstruction` candidates.
///
/// Parameters (as hnswlib's ALGO_PARAMS.md explains): M = links per element (16 suits codes
/// of 128–2048 dims; higher = better recall, more memory and build time); efConstruction =
/// candidate list size while building (200: quality of the graph); ef = candidate list size
/// while searching (≥ k; recall and cost grow with it; default 64).
///
/// Memory layout: see `HNSWLayout`. Vectors are stored float32 (normalized for cosine).
/// Distances: inner product and cosine use −x·q (so smaller is closer and the reported score
/// is exactly x·q); L2 uses ‖x − q‖².
///
/// Deletion marks an element: it still routes searches (the graph stays connected) but is
/// never returned. Filtered queries apply the filter to the result set while traversing,
/// and fall back to exact search over the allowed elements when the filter keeps at most
/// `exactFallbackFraction` of them.
///
/// Thread safety: `add(ids:vectors:)` builds in parallel over `threads` threads internally;
/// searches may run concurrently with each other; mutations (`add`, `markDeleted`) must not
/// run concurrently with anything else (the caller serializes them).
public final class HNSWIndex {
    public let dim: Int
    public let metric: Metric
    /// Links per element on levels ≥ 1.
    public let m: Int
    /// Links per element on level 0 (2·M).
    public var maxM0: Int { layout.maxM0 }
    public let efConstruction: Int
    /// Candidate list size used by searches that do not pass `ef`.
    public var ef: Int = 64
    /// Threads used by `add(ids:vectors:)` and multi-query searches.
    public var threads: Int

    let layout: HNSWLayout
    let isL2: Bool
    /// mL: the level multiplier 1/ln(M).
    let levelMultiplier: Double
    var levelGenerator: SplitMix64

    /// Elements stored (including ones marked deleted).
    public internal(set) var count = 0
    private(set) var capacity = 0
    /// Level-0 block: `capacity × layout.bytesPerElement` bytes.
    var level0: UnsafeMutableRawPointer
    /// Top level of each element.
    var levels: UnsafeMutablePointer<Int32>
    /// Upper-level link lists of each element (nil when its level is 0).
    var upperLinks: UnsafeMutablePointer<UnsafeMutablePointer<UInt32>?>
    /// Deleted mark of each element.
    var deleted: UnsafeMutablePointer<Bool>
    public internal(set) var deletedCount = 0
    var internalOfID: [Int64: UInt32] = [:]

    /// Entry point (internal id) and its level; -1 when empty. Guarded by `entryLock` during a
    /// parallel build; a thread inserting an element above `maxLevel` holds it for its whole
    /// insertion (as hnswlib does), so the entry point moves only once that element is linked.
    var entryPoint: Int = -1
    var maxLevel: Int = -1
    let entryLock = NSLock()
    /// Per-element link-list mutexes, used only by the parallel build (see `NodeLocks`).
    var nodeLocks = NodeLocks(count: 0)
    let visitedPool = VisitedListPool()

    /// A filter keeping at most this fraction of the elements is answered by exact search
    /// over them: HNSW must visit about 1/fraction times more nodes to collect `ef` allowed
    /// results (and the allowed subgraph may fall apart), while exact search costs
    /// fraction × count distances — cheaper below about 10%.
    public static let exactFallbackFraction = 0.1

    /// An empty index. `seed` fixes the level draws (a sequential build is reproducible).
    public init(
        dim: Int, metric: Metric, m: Int = 16, efConstruction: Int = 200, threads: Int = 2, seed: UInt64 = 100
    ) throws {
        guard dim > 0 else { throw SearchError.invalidParameter(name: "dim", reason: "\(dim) must be positive") }
        guard (2...512).contains(m) else { throw SearchError.invalidParameter(name: "M", reason: "\(m) must be in 2...512") }
        guard efConstruction > 0 else {
            throw SearchError.invalidParameter(name: "efConstruction", reason: "\(efConstruction) must be positive")
        }
        guard threads > 0 else { throw SearchError.invalidParameter(name: "threads", reason: "\(threads) must be positive") }
        self.dim = dim
        self.metric = metric
        self.m = m
        self.efConstruction = max(efConstruction, m)
        self.threads = threads
        layout = HNSWLayout(dim: dim, m: m)
        isL2 = metric == .l2
        levelMultiplier = 1 / log(Double(m))
        levelGenerator = SplitMix64(state: seed)
        level0 = .allocate(byteCount: 64, alignment: 64)
        levels = .allocate(capacity: 1)
        upperLinks = .allocate(capacity: 1)
        deleted = .allocate(capacity: 1)
    }

    deinit {
        for i in 0..<count { upperLinks[i]?.deallocate() }
        level0.deallocate()
        levels.deallocate()
        upperLinks.deallocate()
        deleted.deallocate()
    }

    /// Number of elements not marked deleted.
    public var liveCount: Int { count - deletedCount }

    /// Makes room for `newCapacity` elements (grows by doubling when called by `add`).
    public func reserve(_ newCapacity: Int) {
        guard newCapacity > capacity else { return }
        let bytes = layout.bytesPerElement
        let newLevel0 = UnsafeMutableRawPointer.allocate(byteCount: newCapacity * bytes, alignment: 64)
        newLevel0.copyMemory(from: level0, byteCount: count * bytes)
        level0.deallocate()
        level0 = newLevel0
        func grow<T>(_ p: inout UnsafeMutablePointer<T>) {
            let q = UnsafeMutablePointer<T>.allocate(capacity: newCapacity)
            q.moveInitialize(from: p, count: count)
            p.deallocate()
            p = q
        }
        grow(&levels)
        grow(&upperLinks)
        grow(&deleted)
        nodeLocks.grow(to: newCapacity)
        capacity = newCapacity
    }

    // MARK: element accessors (internal ids)

    @inline(__always) func element(_ i: UInt32) -> UnsafeMutableRawPointer {
        level0 + Int(i) * layout.bytesPerElement
    }

    @inline(__always) func vector(_ i: UInt32) -> UnsafePointer<Float> {
        UnsafePointer(element(i).assumingMemoryBound(to: Float.self))
    }

    @inline(__always) func label(_ i: UInt32) -> Int64 {
        element(i).load(fromByteOffset: layout.labelOffset, as: Int64.self)
    }

    /// The link list of element `i` on `level`: its count word followed by the ids.
    @inline(__always) func linkList(_ i: UInt32, level: Int) -> UnsafeMutablePointer<UInt32> {
        if level == 0 {
            return (element(i) + layout.linkCountOffset).assumingMemoryBound(to: UInt32.self)
        }
        return upperLinks[Int(i)]! + (level - 1) * layout.wordsPerUpperLevel
    }

    /// Distance between two vectors under the metric (smaller is closer): −x·q or ‖x − q‖²,
    /// by the AVX2 kernels of CKernels (chosen at run time; portable C elsewhere). At 128 dims
    /// a distance is ~16 FMAs, so a direct kernel beats OpenBLAS `sdot` (wrapper and checks per
    /// call) and the SSE-only Swift SIMD loops of a baseline x86-64 build.
    @inline(__always) func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>) -> Float {
        isL2 ? ck_l2sq(a, b, dim) : -ck_dot(a, b, dim)
    }

    /// Distances from `query` to the elements `nodes[0 ..< count]` into `out` (one kernel call
    /// per list, prefetching each next vector: see `ck_distances_gathered`).
    @inline(__always) func distances(
        _ query: UnsafePointer<Float>, to nodes: UnsafePointer<UInt32>, count: Int, into out: UnsafeMutablePointer<Float>
    ) {
        ck_distances_gathered(isL2 ? 1 : 0, query, UnsafeRawPointer(level0), layout.bytesPerElement, nodes, count, dim, out)
    }

    /// The reported score of a distance (see `Metric`).
    @inline(__always) func score(_ distance: Float) -> Float { isL2 ? distance : -distance }

    // MARK: mutation

    /// Adds one vector (`vector.count == dim`).
    public func add(id: Int64, vector: [Float]) throws {
        try add(ids: [id], vectors: vector)
    }

    /// Adds vectors (`ids.count × dim`, row-major), linking them in parallel over `threads`.
    /// Throws, adding nothing, on a size mismatch or an id already present (or repeated).
    public func add(ids newIDs: [Int64], vectors: [Float]) throws {
        try vectors.withUnsafeBufferPointer { try add(ids: newIDs, vectors: $0) }
    }

    /// Adds vectors from a row-major buffer of `ids.count × dim` floats (copied in).
    public func add(ids newIDs: [Int64], vectors: UnsafeBufferPointer<Float>) throws {
        guard vectors.count == newIDs.count * dim else {
            throw SearchError.dimensionMismatch(expected: newIDs.count * dim, got: vectors.count)
        }
        guard newIDs.count + count < Int(UInt32.max) else {
            throw SearchError.invalidParameter(name: "count", reason: "an index holds fewer than 2^32 − 1 elements")
        }
        var seen = Set<Int64>(minimumCapacity: newIDs.count)
        for id in newIDs where internalOfID[id] != nil || !seen.insert(id).inserted {
            throw SearchError.duplicateID(id)
        }
        guard let source = vectors.baseAddress, !newIDs.isEmpty else { return }
        if count + newIDs.count > capacity { reserve(max(count + newIDs.count, 2 * capacity)) }

        // Sequential part: data, labels, levels and empty link lists of every new element, so
        // the parallel part only ever writes link lists (under their node locks).
        let first = count
        for (k, id) in newIDs.enumerated() {
            let i = UInt32(first + k)
            let e = element(i)
            let v = e.assumingMemoryBound(to: Float.self)
            v.update(from: source + k * dim, count: dim)
            if metric == .cosine { VectorKernels.normalize(v, dim) }
            e.storeBytes(of: id, toByteOffset: layout.labelOffset, as: Int64.self)
            e.storeBytes(of: UInt32(0), toByteOffset: layout.linkCountOffset, as: UInt32.self)
            let level = drawLevel()
            levels[Int(i)] = Int32(level)
            if level > 0 {
                let words = level * layout.wordsPerUpperLevel
                let links = UnsafeMutablePointer<UInt32>.allocate(capacity: words)
                links.initialize(repeating: 0, count: words)
                (upperLinks + Int(i)).initialize(to: links)
            } else {
                (upperLinks + Int(i)).initialize(to: nil)
            }
            (deleted + Int(i)).initialize(to: false)
            internalOfID[id] = i
        }
        count += newIDs.count

        // Parallel part: threads take the next element from a shared counter (`nextLock`
        // guards `next` only), so insertion order stays close to the given order.
        let nextLock = NSLock()
        var next = first
        let end = count
        let workers = max(1, min(threads, newIDs.count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            let visited = visitedPool.take(capacity: capacity)
            defer { visitedPool.giveBack(visited) }
            while true {
                nextLock.lock()
                let i = next
                next += 1
                nextLock.unlock()
                if i >= end { break }
                insert(UInt32(i), visited: visited)
            }
        }
    }

    /// ⌊−ln(U)·mL⌋ with U uniform in (0, 1].
    func drawLevel() -> Int {
        let u = 1 - Double.random(in: 0..<1, using: &levelGenerator)
        return Int(-log(u) * levelMultiplier)
    }

    /// Marks `id` deleted: it is never returned again but keeps routing searches.
    public func markDeleted(id: Int64) throws {
        guard let i = internalOfID[id] else { throw SearchError.unknownID(id) }
        if !deleted[Int(i)] {
            deleted[Int(i)] = true
            deletedCount += 1
        }
    }

    /// Whether `id` is stored and not deleted.
    public func contains(id: Int64) -> Bool {
        guard let i = internalOfID[id] else { return false }
        return !deleted[Int(i)]
    }
}
