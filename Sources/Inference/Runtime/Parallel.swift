import CKernels
import Dispatch

/// Splits loops that do not go through BLAS across the session's threads.
///
/// Everything parallel in the engine (sgemm split by rows or columns in Parallel+GEMM,
/// depthwise convolution, pooling, im2col, elementwise epilogues) is split here into
/// `threads` contiguous chunks, run on the engine's spinning thread pool
/// (`DispatchQueueHelper.run`). Chunks write disjoint output ranges, which is what makes the
/// shared raw pointers safe.
enum Parallel {
    /// Threads the kernels split their work into, for the calling thread (thread-local, see
    /// `ck_engine_threads`): the session sets it before planning (kernels size per-thread
    /// scratch from it) and before running; its lanes set 1.
    static var threads: Int {
        get { Int(ck_engine_threads()) }
        set { ck_set_engine_threads(Int32(newValue)) }
    }

    /// Calls `body` with disjoint ranges covering 0..<count; serial below `minimumWork`
    /// elements of work per call (splitting tiny loops costs more than it saves).
    @inline(__always)
    static func forEachChunk(_ count: Int, work: Int = .max, _ body: (Range<Int>) -> Void) {
        let t = min(threads, count)
        if t <= 1 || work < 32_768 {
            body(0..<count)
            return
        }
        DispatchQueueHelper.run(t) { index in
            let lower = count * index / t
            let upper = count * (index + 1) / t
            if lower < upper { body(lower..<upper) }
        }
    }
}

/// An activation applied in a kernel's epilogue (fused into Conv/Gemm) or on its own.
enum Activation: Equatable {
    case none
    case relu
    case clip(min: Float, max: Float)
    case leakyRelu(alpha: Float)

    /// Applies the activation in place to `count` floats.
    @inline(__always)
    func apply(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
        switch self {
        case .none: return
        case .relu: for i in 0..<count { p[i] = max(p[i], 0) }
        case let .clip(lo, hi): for i in 0..<count { p[i] = min(max(p[i], lo), hi) }
        case let .leakyRelu(alpha): for i in 0..<count { let v = p[i]; p[i] = v < 0 ? v * alpha : v }
        }
    }

    /// Adds `bias` to `count` floats then applies the activation, in one pass.
    @inline(__always)
    func apply(_ p: UnsafeMutablePointer<Float>, _ count: Int, bias: Float) {
        switch self {
        case .none: for i in 0..<count { p[i] += bias }
        case .relu: for i in 0..<count { p[i] = max(p[i] + bias, 0) }
        case let .clip(lo, hi): for i in 0..<count { p[i] = min(max(p[i] + bias, lo), hi) }
        case let .leakyRelu(alpha): for i in 0..<count { let v = p[i] + bias; p[i] = v < 0 ? v * alpha : v }
        }
    }

    func applied(to values: [Float]) -> [Float] {
        var copy = values
        copy.withUnsafeMutableBufferPointer { if let base = $0.baseAddress { apply(base, $0.count) } }
        return copy
    }
}

/// Runs `body(0..<count)` in parallel, the index telling a kernel which slice of its scratch
/// memory is its own; returns when every call has returned.
///
/// Goes through the persistent pool of Sources/CKernels/pool_threads.c (ck_threadpool.h):
/// its workers spin ~100 µs between jobs, so the ~100 splits of a batch-1 forward pass do not
/// each pay GCD's wake-up of parked threads (futex, scheduler: 8–9 % of all cycles at 2
/// threads). The calling thread runs index 0 itself. When the pool is busy the job still
/// runs: serially if this is a nested job (every pool thread is already at work), on GCD if
/// another thread — a second session — holds the pool.
enum DispatchQueueHelper {
    static func run(_ count: Int, _ body: (Int) -> Void) {
        if count <= 1 {
            if count == 1 { body(0) }
            return
        }
        guard count <= Int(Int32.max) else {
            DispatchQueue.concurrentPerform(iterations: count, execute: body)
            return
        }
        withoutActuallyEscaping(body) { body in
            // The pool gets a pointer to the closure as its context; the closure outlives the
            // job because ck_parallel_try returns only after every index has returned.
            var closure = body
            let ran = withUnsafeMutablePointer(to: &closure) { pointer in
                ck_parallel_try(Int32(count), { context, index in
                    guard let context else { return }
                    context.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(index))
                }, pointer)
            }
            if ran != 0 { return }
            if ck_parallel_in_job() != 0 {
                for index in 0..<count { body(index) }
            } else {
                DispatchQueue.concurrentPerform(iterations: count, execute: body)
            }
        }
    }
}
