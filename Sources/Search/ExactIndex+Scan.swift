import Tensor

extension ExactIndex {
    /// Top-k of one query by one streaming pass over the candidate rows, split into `threads`
    /// contiguous parts, each with its own heap, merged at the end. Memory-bandwidth-bound:
    /// every row is read once; float16 rows are widened in registers (`dot(half:)`).
    func scan(query: UnsafePointer<Float>, k: Int, selection: RowSelection) -> [(key: Float, id: Int64)] {
        let gatheredRows: [Int]?
        let mask: [Bool]?
        switch selection {
        case let .all(m): (gatheredRows, mask) = (nil, m)
        case let .gathered(g): (gatheredRows, mask) = (g, nil)
        }
        let candidateCount = gatheredRows?.count ?? count
        let parts = max(1, min(threads, candidateCount))
        let keys = UnsafeMutablePointer<Float>.allocate(capacity: parts * k)
        let heapIDs = UnsafeMutablePointer<Int64>.allocate(capacity: parts * k)
        let heaps = UnsafeMutablePointer<TopK>.allocate(capacity: parts)
        for p in 0..<parts {
            (heaps + p).initialize(to: TopK(keys: keys + p * k, ids: heapIDs + p * k, capacity: k))
        }
        defer {
            keys.deallocate()
            heapIDs.deallocate()
            heaps.deinitialize(count: parts)
            heaps.deallocate()
        }
        let dim = self.dim
        let isL2 = metric == .l2
        let rows = self.rows
        ids.withUnsafeBufferPointer { idsBuffer in
        squaredNorms.withUnsafeBufferPointer { normsBuffer in
            let idAt = idsBuffer.baseAddress!
            let norms = normsBuffer.baseAddress
            parallelChunks(candidateCount, threads: parts) { part, chunk in
                var heap = heaps[part]
                for j in chunk {
                    let row = gatheredRows?[j] ?? j
                    if let mask, !mask[row] { continue }
                    let dot: Float
                    switch rows.scalarType {
                    case .float32: dot = BLAS.sdot(dim, rows.floats + row * dim, query)  // AVX kernels chosen at run time
                    case .float16: dot = VectorKernels.dot(half: rows.halves + row * dim, query, dim)
                    }
                    heap.push(isL2 ? 2 * dot - norms![row] : dot, idAt[row])
                }
                heaps[part] = heap
            }
        }
        }
        if parts == 1 { return heaps[0].sortedBestFirst() }
        let mergedKeys = UnsafeMutablePointer<Float>.allocate(capacity: k)
        let mergedIDs = UnsafeMutablePointer<Int64>.allocate(capacity: k)
        defer {
            mergedKeys.deallocate()
            mergedIDs.deallocate()
        }
        var merged = TopK(keys: mergedKeys, ids: mergedIDs, capacity: k)
        for p in 0..<parts {
            for i in 0..<heaps[p].count { merged.push(heaps[p].keys[i], heaps[p].ids[i]) }
        }
        return merged.sortedBestFirst()
    }
}
