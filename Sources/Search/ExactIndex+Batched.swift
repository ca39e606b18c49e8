import CKernels
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

    /// Below this many queries per worker the workers do not each run their own sgemm (each
    /// would stream the whole code matrix for a thin query block); OpenBLAS splits the work.
    static let minQueriesPerWorker = 32

    /// Top-k of each query by blocked sgemm: for every (query block, code block) pair,
    /// tile = Q_block · C_blockᵀ, then each query's row of the tile is offered to its heap
    /// (disjoint queries per thread). Returns best-first (key, id) lists.
    func searchBatched(
        queries: UnsafePointer<Float>, count queryCount: Int, k: Int, selection: RowSelection
    ) -> [[(key: Float, id: Int64)]] {
        // Threading: with enough queries per worker, each worker runs its own single-threaded
        // sgemm on its own queries and selects from its own tile right away (OpenBLAS held at
        // one thread meanwhile by `BLAS.withThreads`, which concurrent searches share).
        // Otherwise one OpenBLAS-threaded sgemm per tile, then the selection split over `threads`. The first keeps both cores on useful work: measured
        // at 1M × 128, OpenBLAS's idle worker spins in sched_yield through every selection
        // phase (15% of the samples), and each tile is selected by the core that wrote it, while it is still in cache.
        let workers = max(1, min(threads, queryCount))
        let ownThreads = workers > 1 && queryCount / workers >= ExactIndex.minQueriesPerWorker
        guard ownThreads else {
            return searchBlocks(queries: queries, count: queryCount, k: k, selection: selection, workers: workers, ownThreads: false)
        }
        return BLAS.withThreads(1) {
            searchBlocks(queries: queries, count: queryCount, k: k, selection: selection, workers: workers, ownThreads: true)
        }
    }

    /// `searchBatched` with its threading chosen: `ownThreads` runs one sgemm per worker (of
    /// `workers`) on its own queries, else one OpenBLAS-threaded sgemm per tile.
    private func searchBlocks(
        queries: UnsafePointer<Float>, count queryCount: Int, k: Int, selection: RowSelection,
        workers: Int, ownThreads: Bool
    ) -> [[(key: Float, id: Int64)]] {
        let blockRows = codeBlockRows
        let queryBlock = self.queryBlock
        let heapKeys = UnsafeMutablePointer<Float>.allocate(capacity: queryCount * k)
        let heapIDs = UnsafeMutablePointer<Int64>.allocate(capacity: queryCount * k)
        let heaps = UnsafeMutablePointer<TopK>.allocate(capacity: queryCount)
        for q in 0..<queryCount {
            (heaps + q).initialize(to: TopK(keys: heapKeys + q * k, ids: heapIDs + q * k, capacity: k))
        }
        let tileFloats = queryBlock * blockRows
        let tiles = UnsafeMutablePointer<Float>.allocate(capacity: tileFloats * (ownThreads ? workers : 1))
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: blockRows * dim)
        defer {
            heapKeys.deallocate()
            heapIDs.deallocate()
            heaps.deinitialize(count: queryCount)
            heaps.deallocate()
            tiles.deallocate()
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
        // ‖x‖² of the block's rows in block order (L2 only): the stored norms themselves when
        // rows are not gathered, else gathered here once per block.
        let gatheredNorms = UnsafeMutablePointer<Float>.allocate(capacity: isL2 && gatheredRows != nil ? blockRows : 0)
        defer { gatheredNorms.deallocate() }

        ids.withUnsafeBufferPointer { idsBuffer in
        squaredNorms.withUnsafeBufferPointer { normsBuffer in
            let idAt = idsBuffer.baseAddress!
            for blockStart in stride(from: 0, to: candidateCount, by: blockRows) {
                let blockCount = min(blockRows, candidateCount - blockStart)
                let codes = codeBlock(start: blockStart, count: blockCount, gathered: gatheredRows, scratch: scratch)
                var blockNorms: UnsafePointer<Float>? = nil
                if isL2, let norms = normsBuffer.baseAddress {
                    if let gatheredRows {
                        for j in 0..<blockCount { gatheredNorms[j] = norms[gatheredRows[blockStart + j]] }
                        blockNorms = UnsafePointer(gatheredNorms)
                    } else {
                        blockNorms = norms + blockStart
                    }
                }
                if ownThreads {
                    parallelChunks(queryCount, threads: workers) { part, chunk in
                        let tile = tiles + part * tileFloats
                        for queryStart in stride(from: chunk.lowerBound, to: chunk.upperBound, by: queryBlock) {
                            let queriesInBlock = min(queryBlock, chunk.upperBound - queryStart)
                            BLAS.sgemm(
                                transB: true, m: queriesInBlock, n: blockCount, k: dim,
                                a: queries + queryStart * dim, lda: dim, b: codes, ldb: dim,
                                c: tile, ldc: blockCount)
                            for q in 0..<queriesInBlock {
                                selectRow(
                                    tile + q * blockCount, count: blockCount, into: &heaps[queryStart + q],
                                    blockStart: blockStart, gatheredRows: gatheredRows, mask: mask,
                                    blockNorms: blockNorms, idAt: idAt)
                            }
                        }
                    }
                    continue
                }
                let tile = tiles
                for queryStart in stride(from: 0, to: queryCount, by: queryBlock) {
                    let queriesInBlock = min(queryBlock, queryCount - queryStart)
                    BLAS.sgemm(
                        transB: true, m: queriesInBlock, n: blockCount, k: dim,
                        a: queries + queryStart * dim, lda: dim, b: codes, ldb: dim,
                        c: tile, ldc: blockCount)
                    parallelChunks(queriesInBlock, threads: threads) { _, chunk in
                        for q in chunk {
                            selectRow(
                                tile + q * blockCount, count: blockCount, into: &heaps[queryStart + q],
                                blockStart: blockStart, gatheredRows: gatheredRows, mask: mask,
                                blockNorms: blockNorms, idAt: idAt)
                        }
                    }
                }
            }
        }
        }
        return (0..<queryCount).map { heaps[$0].sortedBestFirst() }
    }

    /// Offers one query's row of a score tile to its heap. Key of column j: the score itself,
    /// or for L2 `2·score − ‖x‖²` (see `ExactIndex.score`). Once the heap is full, a vectorized
    /// scan (`ck_next_at_least`) skips to the next column whose key reaches the heap's worst key
    /// (`>=`, so an equal key with a smaller id is still offered): over n columns only about
    /// k·ln(n/k) keys ever enter, so nearly all columns cost one SIMD compare, not a heap test.
    @inline(__always)
    private func selectRow(
        _ scores: UnsafePointer<Float>, count blockCount: Int, into heap: inout TopK,
        blockStart: Int, gatheredRows: [Int]?, mask: [Bool]?, blockNorms: UnsafePointer<Float>?,
        idAt: UnsafePointer<Int64>
    ) {
        @inline(__always) func offer(_ j: Int) {
            let row = gatheredRows?[blockStart + j] ?? blockStart + j
            if let mask, !mask[row] { return }
            let key = blockNorms.map { 2 * scores[j] - $0[j] } ?? scores[j]
            heap.push(key, idAt[row])
        }
        var j = 0
        while j < blockCount && !heap.isFull {
            offer(j)
            j += 1
        }
        let scale: Float = blockNorms == nil ? 1 : 2
        while j < blockCount {
            j = ck_next_at_least(scores, blockNorms, scale, j, blockCount, heap.worstKey)
            guard j < blockCount else { break }
            offer(j)
            j += 1
        }
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
