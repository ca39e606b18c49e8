extension HNSWIndex {
    /// The `k` nearest live elements to `query` (`query.count == dim`), best first (ties by
    /// smaller id). `ef` (default `self.ef`, raised to at least `k`) trades speed for recall.
    public func search(query: [Float], k: Int, ef: Int? = nil, filter: SearchFilter? = nil) throws -> [SearchHit] {
        guard query.count == dim else { throw SearchError.dimensionMismatch(expected: dim, got: query.count) }
        try validate(k: k, ef: ef)
        let visited = visitedPool.take(capacity: count)
        defer { visitedPool.giveBack(visited) }
        return query.withUnsafeBufferPointer { q in
            searchOne(q.baseAddress!, k: k, ef: ef ?? self.ef, filter: filter, visited: visited)
        }
    }

    /// `count` queries (`queries` is `count × dim`, row-major), answered in parallel over
    /// `threads`; one result list per query.
    public func search(queries: [Float], count queryCount: Int, k: Int, ef: Int? = nil, filter: SearchFilter? = nil) throws -> [[SearchHit]] {
        guard queryCount >= 0, queries.count == queryCount * dim else {
            throw SearchError.dimensionMismatch(expected: max(0, queryCount) * dim, got: queries.count)
        }
        try validate(k: k, ef: ef)
        var results = [[SearchHit]](repeating: [], count: queryCount)
        let dim = self.dim
        queries.withUnsafeBufferPointer { q in
            results.withUnsafeMutableBufferPointer { out in
                parallelChunks(queryCount, threads: threads) { _, chunk in
                    let visited = visitedPool.take(capacity: count)
                    defer { visitedPool.giveBack(visited) }
                    for i in chunk {
                        out[i] = searchOne(q.baseAddress! + i * dim, k: k, ef: ef ?? self.ef, filter: filter, visited: visited)
                    }
                }
            }
        }
        return results
    }

    private func validate(k: Int, ef: Int?) throws {
        guard k > 0 else { throw SearchError.invalidParameter(name: "k", reason: "\(k) must be positive") }
        if let ef, ef <= 0 { throw SearchError.invalidParameter(name: "ef", reason: "\(ef) must be positive") }
    }

    /// One query: normalize (cosine), choose graph or exact (selective filter), sort.
    func searchOne(_ rawQuery: UnsafePointer<Float>, k: Int, ef: Int, filter: SearchFilter?, visited: VisitedList) -> [SearchHit] {
        guard entryPoint >= 0, liveCount > 0 else { return [] }
        var normalized = [Float](unsafeUninitializedCapacity: dim) { buffer, initialized in
            buffer.baseAddress!.initialize(from: rawQuery, count: dim)
            initialized = dim
        }
        if metric == .cosine {
            normalized.withUnsafeMutableBufferPointer { VectorKernels.normalize($0.baseAddress!, dim) }
        }
        return normalized.withUnsafeBufferPointer { q -> [SearchHit] in
            let query = q.baseAddress!
            if let filter, let allowed = exactFallbackCandidates(filter) {
                return exactSearch(query, k: k, among: allowed)
            }
            var top = searchGraph(query, ef: max(ef, k), filter: filter, visited: visited)
            while top.count > k { top.pop() }
            var hits = top.items.map { SearchHit(id: label($0.node), score: score($0.distance)) }
            sortBestFirst(&hits)
            return hits
        }
    }

    func sortBestFirst(_ hits: inout [SearchHit]) {
        let higherIsBetter = !isL2
        hits.sort { a, b in
            if a.score != b.score { return higherIsBetter ? a.score > b.score : a.score < b.score }
            return a.id < b.id
        }
    }

    /// Greedy descent on the upper levels, then the best-first search of level 0 with `ef`
    /// candidates (hnswlib's `searchBaseLayerST`). Deleted and filtered-out elements are
    /// traversed (they keep the graph connected) but never enter the result set; while the
    /// result set is not full the search keeps expanding, so a filtered query still collects
    /// `ef` allowed results when they are reachable. No locks: searches never run during a build.
    func searchGraph(_ query: UnsafePointer<Float>, ef: Int, filter: SearchFilter?, visited: VisitedList) -> MaxHeap {
        let maxLinks = layout.maxM0
        return withUnsafeTemporaryAllocation(of: UInt32.self, capacity: maxLinks) { freshBuffer in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: maxLinks) { distanceBuffer in
            let fresh = freshBuffer.baseAddress!
            let freshDistances = distanceBuffer.baseAddress!
            var current = UInt32(entryPoint)
            var currentDistance = distance(query, vector(current))
            if maxLevel > 0 {
                (current, currentDistance) = greedyDescent(
                    query, from: current, distance: currentDistance, fromLevel: maxLevel, toLevel: 0,
                    locking: false, scratch: fresh, distances: freshDistances)
            }

            let hasDeletions = deletedCount > 0
            @inline(__always) func isResult(_ node: UInt32) -> Bool {
                if hasDeletions && deleted[Int(node)] { return false }
                if let filter { return filter.allows(label(node)) }
                return true
            }
            return beamSearch(
                query, from: current, distance: currentDistance, level: 0, ef: ef, locking: false, visited: visited,
                scratch: fresh, distances: freshDistances, isResult: isResult)
        }
        }
    }

    /// The best-first search of one level with `ef` candidates (the paper's SEARCH-LAYER,
    /// hnswlib's searchBaseLayer / searchBaseLayerST), from `start` at `startDistance`: the ≤ ef
    /// closest elements for which `isResult` holds, as a max-heap (farthest on top). Every
    /// element is traversed, results or not (deleted and filtered-out ones keep the graph
    /// connected); while the result set is not full the search keeps expanding. `locking`:
    /// read each node's links under its lock (inserts run concurrently); the lock is held for
    /// a copy of ≤ 2M ids, the distances are computed unlocked. `scratch` and `distances` hold
    /// a level-0 link list (maxM0 entries).
    @inline(__always)
    func beamSearch(
        _ query: UnsafePointer<Float>, from start: UInt32, distance startDistance: Float, level: Int, ef: Int, locking: Bool,
        visited: VisitedList, scratch fresh: UnsafeMutablePointer<UInt32>, distances freshDistances: UnsafeMutablePointer<Float>,
        isResult: (UInt32) -> Bool
    ) -> MaxHeap {
        visited.reset()
        var top = MaxHeap(capacity: ef + 1)
        var candidates = MaxHeap(capacity: ef * 4)  // negated distances: closest on top
        if isResult(start) { top.push(startDistance, start) }
        var lowerBound = top.isEmpty ? Float.greatestFiniteMagnitude : startDistance
        candidates.push(-startDistance, start)
        _ = visited.insert(start)
        while !candidates.isEmpty {
            let closest = candidates.top
            if -closest.distance > lowerBound && top.count == ef { break }
            candidates.pop()
            // The unvisited neighbours, then all their distances in one kernel call (which
            // prefetches each next vector, so the cache misses overlap).
            if locking { nodeLocks.lock(closest.node) }
            let list = linkList(closest.node, level: level)
            var freshCount = 0
            for j in 0..<Int(list[0]) where visited.insert(list[1 + j]) {
                fresh[freshCount] = list[1 + j]
                freshCount += 1
            }
            if locking { nodeLocks.unlock(closest.node) }
            distances(query, to: fresh, count: freshCount, into: freshDistances)
            for j in 0..<freshCount {
                let neighbour = fresh[j]
                let d = freshDistances[j]
                if top.count < ef || d < lowerBound {
                    candidates.push(-d, neighbour)
                    if isResult(neighbour) {
                        top.push(d, neighbour)
                        if top.count > ef { top.pop() }
                    }
                    if !top.isEmpty { lowerBound = top.top.distance }
                }
            }
        }
        return top
    }

    /// Greedy search from `start` on levels `fromLevel` down to `toLevel + 1`: on each level,
    /// move to the closest neighbour while one is closer. `locking`: read each link list under
    /// its node lock (during a build), copying it to `scratch` so that distances are computed
    /// unlocked. `scratch` and `distances` hold at least M entries.
    func greedyDescent(
        _ query: UnsafePointer<Float>, from start: UInt32, distance startDistance: Float, fromLevel: Int, toLevel: Int,
        locking: Bool, scratch: UnsafeMutablePointer<UInt32>, distances out: UnsafeMutablePointer<Float>
    ) -> (UInt32, Float) {
        var current = start
        var currentDistance = startDistance
        for l in stride(from: fromLevel, to: toLevel, by: -1) {
            var changed = true
            while changed {
                changed = false
                if locking { nodeLocks.lock(current) }
                let list = linkList(current, level: l)
                let n = Int(list[0])
                scratch.update(from: list + 1, count: n)
                if locking { nodeLocks.unlock(current) }
                distances(query, to: scratch, count: n, into: out)
                for j in 0..<n where out[j] < currentDistance {
                    currentDistance = out[j]
                    current = scratch[j]
                    changed = true
                }
            }
        }
        return (current, currentDistance)
    }

    /// When `filter` keeps at most `exactFallbackFraction` of the elements: the live allowed
    /// internal ids (else nil). An id set is judged by its size; a predicate is estimated on an
    /// evenly strided sample of up to 1024 elements and, when that says "few", evaluated on all.
    func exactFallbackCandidates(_ filter: SearchFilter) -> [UInt32]? {
        let limit = HNSWIndex.exactFallbackFraction * Double(liveCount)
        switch filter.kind {
        case let .ids(set):
            // The set's size bounds the allowed count (ids absent from the index only make it
            // smaller; callers build sets from the same collection, so few are absent).
            guard Double(set.count) <= limit else { return nil }
            return set.compactMap { internalOfID[$0] }.filter { !deleted[Int($0)] }.sorted()
        case let .predicate(isAllowed):
            let sampleSize = min(count, 1024)
            var allowedInSample = 0
            for s in 0..<sampleSize where isAllowed(label(UInt32(s * count / sampleSize))) { allowedInSample += 1 }
            guard Double(allowedInSample) / Double(sampleSize) * Double(count) <= limit * 1.5 else { return nil }
            let nodes = (0..<UInt32(count)).filter { !deleted[Int($0)] && isAllowed(label($0)) }
            return Double(nodes.count) <= limit ? nodes : nil
        }
    }

    /// Exact top-k over the given internal ids.
    func exactSearch(_ query: UnsafePointer<Float>, k: Int, among nodes: [UInt32]) -> [SearchHit] {
        let keys = UnsafeMutablePointer<Float>.allocate(capacity: k)
        let ids = UnsafeMutablePointer<Int64>.allocate(capacity: k)
        defer {
            keys.deallocate()
            ids.deallocate()
        }
        var best = TopK(keys: keys, ids: ids, capacity: k)
        for node in nodes { best.push(-distance(query, vector(node)), label(node)) }
        return best.sortedBestFirst().map { SearchHit(id: $0.id, score: score(-$0.key)) }
    }
}
