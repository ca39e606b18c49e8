import Dispatch

/// Splits `0..<count` into at most `threads` contiguous chunks and runs `body(part, chunk)` on
/// each on its own thread (Dispatch's pool; the caller waits). Chunks are disjoint, so bodies
/// may write to disjoint parts of shared buffers without locks.
func parallelChunks(_ count: Int, threads: Int, _ body: (_ part: Int, _ chunk: Range<Int>) -> Void) {
    let parts = max(1, min(threads, count))
    if parts == 1 {
        body(0, 0..<count)
        return
    }
    DispatchQueue.concurrentPerform(iterations: parts) { part in
        body(part, (count * part / parts)..<(count * (part + 1) / parts))
    }
}
