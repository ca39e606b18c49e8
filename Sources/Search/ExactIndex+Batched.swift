import Tensor

extension ExactIndex {
    /// Rows per code block: the block (rows × dim float32) is sized to about 4 MB so that,
    /// with OpenBLAS packing it into its own L2-sized panels, it stays in the last-level cache
    /// (32 MB here, ≥ 4 MB on any recent x86/ARM server) while every query block passes over
    /// it, and float16 blocks are converted once and read hot by the sgemm. At least 256 rows
    /// so the sgemm is not dominated by its edges; at most 4096 so the score tile stays small.
    var codeBlockRows: Int {
        if let override = blockSizeOverride { return override.rows }
        let rowsIn4MB = (4 << 20) / (dim * MemoryLayout<Float>.size)
        return min(4096, max(256, rowsIn4MB / 64 * 64))
    }

    /// Queries per block: the score tile (queryBlock × codeBlockRows floats) is written by the
    /// sgemm and read right away by the top-k selection, so it is kept to about 4 MB to stay
    /// in L2/L3 between the two; at most 1024 (as FAISS's 4096-query blocks, the sgemm is most
    /// efficient with many rows: 1024 × 768 × 1280 is 2 GFLOP per call at 1280 dims).
    var queryBlock: Int {
        if let override = blockSizeOverride { return override.queries }
        return min(1024, max(64, (4 << 20) / (codeBlockRows * MemoryLayout<Float>.size)))
    }

    /// Top-k of each query by blocked sgemm: for every (query block, code block) pair,
    /// tile = Q_block · C_blockᵀ, then each query's row of the tile is pushed into its heap
    /// (split over `threads`, disjoint queries per thread). Returns best-first (key, id) lists.
    func searchBatched(
        queries: UnsafePointer<Float>, count queryCount: Int, k: Int, selection: RowSelection
    ) -> [[(key: Float, id: Int64)]] {
        let blockRows = codeBlockRows
        let queryBlock = self.queryBlock
        let heapKeys = UnsafeMutablePointer<Float>.allocate(capacity: queryCount * k)
        let heapIDs = UnsafeMutablePointer<Int64>.allocate(capacity: queryCount * k)
        let heaps = UnsafeMutablePointer<TopK>.allocate(capacity: queryCount)
        for q in 0..<queryCount {
            (heaps + q).initialize(to: TopK(keys: heapKeys + q * k, ids: heapIDs + q * k, capacity: k))
        }
        let tile = UnsafeMutablePointer<Float>.allocate(capacity: queryBlock * blockRows)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: blockRows * dim)
        defer {
            heapKeys.deallocate()
            heapIDs.deallocate()
            heaps.deinitialize(count: queryCount)
            heaps.deallocate()
            tile.deallocate()
            scratch.deallocate()
        }

        let isL2 = metric == .l2
        let gatheredRows: [Int]?
        let mask: [Bool]?
        switch selection {
        case let .all(m): (gatheredRows, mask) = (nil, m)
        case let .gathered(g): (gatheredRows, mask) = (g, nil)
        }
        let candidateCount = gatheredRows?.count ?? count
        let dim = self.dim

        ids.withUnsafeBufferPointer { idsBuffer in
        squaredNorms.withUnsafeBufferPointer { normsBuffer in
            let idAt = idsBuffer.baseAddress!
            let norms = normsBuffer.baseAddress
            for blockStart in stride(from: 0, to: candidateCount, by: blockRows) {
                let blockCount = min(blockRows, candidateCount - blockStart)
                let codes = codeBlock(start: blockStart, count: blockCount, gathered: gatheredRows, scratch: scratch)
                for queryStart in stride(from: 0, to: queryCount, by: queryBlock) {
                    let queriesInBlock = min(queryBlock, queryCount - queryStart)
                    BLAS.sgemm(
                        transB: true, m: queriesInBlock, n: blockCount, k: dim,
                        a: queries + queryStart * dim, lda: dim, b: codes, ldb: dim,
                        c: tile, ldc: blockCount)
                    parallelChunks(queriesInBlock, threads: threads) { _, chunk in
                        for q in chunk {
                            let scores = tile + q * blockCount
                            var heap = heaps[queryStart + q]
                            for j in 0..<blockCount {
                                let row = gatheredRows?[blockStart + j] ?? blockStart + j
                                if let mask, !mask[row] { continue }
                                let key = isL2 ? 2 * scores[j] - norms![row] : scores[j]
                                heap.push(key, idAt[row])
                            }
                            heaps[queryStart + q] = heap
                        }
                    }
                }
            }
        }
        }
        return (0..<queryCount).map { heaps[$0].sortedBestFirst() }
    }

    /// Candidate rows `start ..< start + count` as contiguous float32: the stored rows
    /// themselves for ungathered float32, otherwise gathered and/or widened into `scratch`
    /// (split over `threads`).
    private func codeBlock(
        start: Int, count blockCount: Int, gathered: [Int]?, scratch: UnsafeMutablePointer<Float>
    ) -> UnsafePointer<Float> {
        if gathered == nil && scalarType == .float32 {
            return UnsafePointer(rows.floats + start * dim)
        }
        let dim = self.dim
        let rows = self.rows
        parallelChunks(blockCount, threads: threads) { _, chunk in
            for j in chunk {
                let row = gathered?[start + j] ?? start + j
                switch rows.scalarType {
                case .float32: (scratch + j * dim).update(from: rows.floats + row * dim, count: dim)
                case .float16: VectorKernels.widen(rows.halves + row * dim, into: scratch + j * dim, count: dim)
                }
            }
        }
        return UnsafePointer(scratch)
    }
}
