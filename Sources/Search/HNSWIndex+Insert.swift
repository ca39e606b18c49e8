extension HNSWIndex {
    /// Links element `c` (data and level already stored) into the graph; called from the
    /// build threads. Lock discipline: at most one node lock is held at a time (never
    /// nested), and `entryLock` is only taken before any node lock, so threads cannot
    /// deadlock. Element `c` itself is reachable by others only after `connect` has written
    /// its own list (under its lock) and then added it to a neighbour's list.
    func insert(_ c: UInt32, visited: VisitedList) {
        let level = Int(levels[Int(c)])
        entryLock.lock()
        let holdsEntryLock = level > maxLevel
        let entry = entryPoint
        let topLevel = maxLevel
        if !holdsEntryLock { entryLock.unlock() }
        defer {
            if holdsEntryLock {
                entryPoint = Int(c)
                maxLevel = level
                entryLock.unlock()
            }
        }
        guard entry >= 0 else { return }  // the first element: it becomes the entry point

        let query = vector(c)
        // Scratch for one link list (ids, then their distances): maxM0 ≥ M entries.
        let scratch = UnsafeMutablePointer<UInt32>.allocate(capacity: layout.maxM0)
        let scratchDistances = UnsafeMutablePointer<Float>.allocate(capacity: layout.maxM0)
        defer {
            scratch.deallocate()
            scratchDistances.deallocate()
        }
        var current = UInt32(entry)
        if level < topLevel {
            // Greedy descent through the levels above the new element's top level.
            (current, _) = greedyDescent(
                query, from: current, distance: distance(query, vector(current)), fromLevel: topLevel, toLevel: level,
                locking: true, scratch: scratch, distances: scratchDistances)
        }
        for l in stride(from: min(level, topLevel), through: 0, by: -1) {
            var candidates = searchLayerForInsertion(
                entry: current, query: query, level: l, visited: visited, scratch: scratch, distances: scratchDistances)
            current = connect(c, to: &candidates, level: l, fallback: current)
        }
    }

    /// The ≤ efConstruction closest non-deleted elements to `query` on `level` (`beamSearch`
    /// reading each node's links under its lock). Returned as a max-heap (farthest on top).
    func searchLayerForInsertion(
        entry: UInt32, query: UnsafePointer<Float>, level: Int, visited: VisitedList,
        scratch: UnsafeMutablePointer<UInt32>, distances: UnsafeMutablePointer<Float>
    ) -> MaxHeap {
        beamSearch(
            query, from: entry, distance: distance(query, vector(entry)), level: level, ef: efConstruction, locking: true,
            visited: visited, scratch: scratch, distances: distances, isResult: { !deleted[Int($0)] })
    }

    /// Connects `c` to the heuristic's choice of at most M of `candidates` on `level`, and each
    /// of them back to `c` (re-running the heuristic on a neighbour whose list is full).
    /// Returns the closest chosen neighbour: the entry point for the next level down.
    func connect(_ c: UInt32, to candidates: inout MaxHeap, level: Int, fallback: UInt32) -> UInt32 {
        let maxLinks = level == 0 ? layout.maxM0 : m
        selectNeighbours(&candidates, keep: m)
        var selected: [UInt32] = []
        selected.reserveCapacity(candidates.count)
        while !candidates.isEmpty { selected.append(candidates.pop().node) }  // farthest first
        guard let closest = selected.last else { return fallback }

        nodeLocks.lock(c)
        let own = linkList(c, level: level)
        own[0] = UInt32(selected.count)
        for (j, node) in selected.enumerated() { own[1 + j] = node }
        nodeLocks.unlock(c)

        let newVector = vector(c)
        for node in selected {
            nodeLocks.lock(node)
            let list = linkList(node, level: level)
            let size = Int(list[0])
            if size < maxLinks {
                list[1 + size] = c
                list[0] = UInt32(size + 1)
            } else {
                let nodeVector = vector(node)
                var pool = MaxHeap(capacity: size + 1)
                pool.push(distance(newVector, nodeVector), c)
                for j in 0..<size { pool.push(distance(vector(list[1 + j]), nodeVector), list[1 + j]) }
                selectNeighbours(&pool, keep: maxLinks)
                var written = 0
                while !pool.isEmpty {
                    list[1 + written] = pool.pop().node
                    written += 1
                }
                list[0] = UInt32(written)
            }
            nodeLocks.unlock(node)
        }
        return closest
    }

    /// The neighbour-selection heuristic (paper's Algorithm 4, hnswlib's
    /// `getNeighborsByHeuristic2`): scanning candidates from the closest, keep one only if it
    /// is closer to the base element than to every candidate already kept — this spreads the
    /// links over directions instead of packing them into one cluster. Keeps at most `keep`;
    /// `candidates` is replaced by the kept ones.
    func selectNeighbours(_ candidates: inout MaxHeap, keep: Int) {
        guard candidates.count >= keep else { return }  // as hnswlib: a full list is pruned too
        var closestFirst = MaxHeap(capacity: candidates.count)
        while !candidates.isEmpty {
            let item = candidates.pop()
            closestFirst.push(-item.distance, item.node)
        }
        var kept: [NodeDistance] = []
        kept.reserveCapacity(keep)
        while !closestFirst.isEmpty && kept.count < keep {
            let item = closestFirst.pop()
            let distanceToBase = -item.distance
            let itemVector = vector(item.node)
            var good = true
            for other in kept where distance(vector(other.node), itemVector) < distanceToBase {
                good = false
                break
            }
            if good { kept.append(NodeDistance(distance: distanceToBase, node: item.node)) }
        }
        for item in kept { candidates.push(item.distance, item.node) }
    }
}
