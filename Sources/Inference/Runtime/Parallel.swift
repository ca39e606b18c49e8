import CKernels
import Dispatch

/// Splits loops that do not go through BLAS across the session's threads.
///
/// OpenBLAS has its own pool for sgemm; everything else (depthwise convolution, pooling,
/// im2col, elementwise epilogues) is split here into `threads` contiguous chunks, each run on
/// a GCD worker. Chunks write disjoint output ranges, which is what makes the shared raw
/// pointers safe.
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
        DispatchQueue.concurrentPerform(iterations: t) { index in
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

/// `concurrentPerform` with the thread index, for kernels that give each thread its own
/// slice of scratch memory.
enum DispatchQueueHelper {
    static func run(_ count: Int, _ body: (Int) -> Void) {
        DispatchQueue.concurrentPerform(iterations: count, execute: body)
    }
}
