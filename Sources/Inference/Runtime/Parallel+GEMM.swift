import CKernels
import Tensor

extension Parallel {
    /// Whether one image's GEMM of `macs` multiply-accumulates (M·K·N) is worth sharing among
    /// `threads`: below ~1 MFLOP the dispatch costs more than the split saves (the 1×1 and
    /// direct-lanes convolutions). Higher is worse: at 6 M MACs SqueezeNet's 13×13 and 27×27
    /// 1×1 layers ran on one thread and got 10–100 % slower (2 threads, min of 10 interleaved
    /// rounds, session 13: the pass 4.67 → 5.11 ms): their input is half in each core's
    /// cache either way, and two cores fetch it faster than one.
    static func splitsProduct(macs: Int, threads: Int) -> Bool { threads > 1 && macs >= 1 << 19 }

    /// Output channels (rows) part `i` of `parts` takes when `rows` are shared in whole
    /// 6-row panels of the packed GEMM kernel (CK_PW_PANEL_ROWS; or `perPanel`, e.g. the
    /// channel-lanes kernel's 32-row blocks), so no panel is cut; empty when there are fewer
    /// panels than parts.
    static func panelRows(_ rows: Int, part i: Int, of parts: Int, perPanel: Int = Int(CK_PW_PANEL_ROWS)) -> Range<Int> {
        let panels = (rows + perPanel - 1) / perPanel
        let lower = min(rows, panels * i / parts * perPanel), upper = min(rows, panels * (i + 1) / parts * perPanel)
        return lower..<max(lower, upper)
    }

    /// sgemm split across the session's threads by the engine itself, OpenBLAS running
    /// single-threaded in each part.
    ///
    /// Why not OpenBLAS's own threads: its workers busy-wait (sched_yield) between calls and
    /// then compete for the two cores with the engine's own threads (depthwise, pooling,
    /// epilogues); one threading model for everything avoids that.
    ///
    /// A single row of C (m = 1) goes to sgemv instead, columns split across threads.
    /// Otherwise rows of C (output channels of a convolution) are split when there are at least 8 per
    /// thread, else columns (batch-1 fully connected layers). Each part packs its own panels,
    /// so a row split repacks B in every part; splitting columns instead when N > M (VGG's
    /// first layers) measured no faster (0.70 vs 0.73 images/s), so rows it is. `rowEpilogue`
    /// runs on each thread right after its rows are computed, while they are still in cache;
    /// after a column split it runs over row chunks in parallel once all parts are done.
    static func sgemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int, rowEpilogue: ((Range<Int>) -> Void)? = nil
    ) {
        let t = threads
        if m == 1 && (!transA || lda == 1) {
            // A row vector (batch-1 fully connected layer): sgemm would pack all of B (the
            // weights, read once anyway) into panels first — profiled as 29 % of AlexNet in
            // sgemm_incopy. sgemv streams B once instead, split over output columns.
            Parallel.forEachChunk(n, work: n * k) { cols in
                // beta = 0 must overwrite whatever the buffer held (even NaN), as sgemm does.
                if beta == 0 { (c + cols.lowerBound).update(repeating: 0, count: cols.count) }
                if transB {  // B is N×K: c[j] = alpha · B[j, :] · a + beta · c[j]
                    BLAS.sgemv(m: cols.count, n: k, alpha: alpha, a: b + cols.lowerBound * ldb, lda: ldb, x: a, beta: beta,
                               y: c + cols.lowerBound)
                } else {  // B is K×N: c[cols] = alpha · B[:, cols]ᵀ · a + beta · c[cols]
                    BLAS.sgemv(transA: true, m: k, n: cols.count, alpha: alpha, a: b + cols.lowerBound, lda: ldb, x: a, beta: beta,
                               y: c + cols.lowerBound)
                }
            }
            rowEpilogue?(0..<1)
            return
        }
        // Below ~2 MFLOP a split costs more in dispatch than it saves.
        if t <= 1 || m * n * k < 1 << 20 {
            BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                       beta: beta, c: c, ldc: ldc)
            rowEpilogue?(0..<m)
            return
        }
        if m >= 8 * t {
            DispatchQueueHelper.run(t) { i in
                // Row blocks rounded to 8 so OpenBLAS's micro-kernel tiles stay full.
                let lower = min(m, (m * i / t) & ~7), upper = i == t - 1 ? m : min(m, (m * (i + 1) / t) & ~7)
                guard lower < upper else { return }
                BLAS.sgemm(
                    transA: transA, transB: transB, m: upper - lower, n: n, k: k, alpha: alpha,
                    a: transA ? a + lower : a + lower * lda, lda: lda, b: b, ldb: ldb, beta: beta,
                    c: c + lower * ldc, ldc: ldc)
                rowEpilogue?(lower..<upper)
            }
        } else {
            DispatchQueueHelper.run(t) { i in
                let lower = (n * i / t) & ~7, upper = i == t - 1 ? n : (n * (i + 1) / t) & ~7
                guard lower < upper else { return }
                BLAS.sgemm(
                    transA: transA, transB: transB, m: m, n: upper - lower, k: k, alpha: alpha, a: a, lda: lda,
                    b: transB ? b + lower * ldb : b + lower, ldb: ldb, beta: beta, c: c + lower, ldc: ldc)
            }
            if let rowEpilogue {
                DispatchQueueHelper.run(min(t, m)) { i in
                    let chunks = min(t, m)
                    rowEpilogue((m * i / chunks)..<(m * (i + 1) / chunks))
                }
            }
        }
    }
}
