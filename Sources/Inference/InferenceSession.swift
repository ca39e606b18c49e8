import Foundation
import Tensor

/// A model compiled for one input shape (batch included) and a set of output tensors.
///
/// Creating a session does all the work that does not depend on the input values: pruning to
/// the requested outputs, constant folding, BatchNorm/Pad/activation fusion, kernel
/// selection, buffer planning and allocation. `run` then only executes kernels. Make one
/// session per batch size and reuse it. `run` is serialized by a lock (the buffers are
/// per session); use one session per thread for parallel forward passes.
public final class InferenceSession {
    public let inputShape: [Int]
    public let outputNames: [String]
    public let threads: Int
    private let plan: ExecutionPlan
    private var buffers: [UnsafeMutablePointer<Float>]
    private let scratch: UnsafeMutablePointer<Float>
    private let lock = NSLock()

    /// - Parameters:
    ///   - outputs: any tensor names of the graph (see `ONNXModel.describe`); empty = the
    ///     model's declared outputs.
    ///   - inputShape: the full input shape, batch first (e.g. [16, 3, 224, 224]).
    ///   - threads: threads for the engine's loops and its sgemm splits (OpenBLAS itself runs
    ///     single-threaded inside each part).
    public init(model: ONNXModel, outputs: [String] = [], inputShape: [Int], threads: Int = 2) throws {
        let names = outputs.isEmpty ? model.outputs.map(\.name) : outputs
        self.inputShape = inputShape
        self.outputNames = names
        self.threads = max(1, threads)
        Parallel.threads = self.threads
        plan = try ExecutionPlan(graph: model.graph, inputShape: inputShape, outputs: names)
        buffers = plan.capacities.map { count in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
            p.initialize(repeating: 0, count: max(count, 1))
            return p
        }
        scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(plan.scratchCount, 1))
        scratch.initialize(repeating: 0, count: max(plan.scratchCount, 1))
    }

    deinit {
        for b in buffers { b.deallocate() }
        scratch.deallocate()
    }

    /// Nodes executed per run after pruning and folding.
    public var runtimeNodeCount: Int { plan.runtimeNodeCount }
    /// Op types executed per run, in order (fused nodes appear once).
    public var runtimeOpTypes: [String] { plan.opTypes }
    /// Floating-point operations of one `run` on the whole batch: 2 · multiply-accumulates of
    /// every Conv, Gemm and MatMul, counted for the direct algorithm (for GFLOP/s figures).
    public var flopsPerRun: Int { plan.flops }
    /// Floats held in activation buffers (excluding weights).
    public var bufferFloats: Int { plan.capacities.reduce(0, +) + plan.scratchCount }

    /// Runs the network on `input` (shape `inputShape`) and returns every requested tensor.
    public func run(_ input: Tensor) throws -> [String: Tensor] {
        guard input.shape == inputShape else { throw InferenceError.inputShapeMismatch(expected: inputShape, got: input.shape) }
        lock.lock()
        defer { lock.unlock() }
        // OpenBLAS single-threaded while the engine runs: it splits every sgemm itself (see
        // Parallel.sgemm). The setting is process-wide, so the caller's value is restored after.
        let blasThreads = BLAS.threads
        BLAS.setThreads(1)
        defer { BLAS.setThreads(blasThreads) }
        Parallel.threads = threads
        input.data.withUnsafeBufferPointer { p in
            if let base = p.baseAddress { buffers[plan.inputBuffer].update(from: base, count: p.count) }
        }
        for step in plan.steps {
            let ins = step.inputs.map { $0.map { UnsafePointer(buffers[$0]) } }
            let outs = step.outputs.map { buffers[$0] }
            step.kernel.run(inputs: ins, outputs: outs, scratch: scratch)
        }
        var result: [String: Tensor] = [:]
        for name in outputNames {
            switch plan.outputs[name] {
            case let .buffer(b, shape)?:
                let count = shape.reduce(1, *)
                result[name] = Tensor(shape: shape, data: Array(UnsafeBufferPointer(start: buffers[b], count: count)))
            case let .constant(value)?:
                result[name] = Tensor(shape: value.shape, data: value.asFloats)
            case nil:
                throw InferenceError.unknownTensor(name: name)
            }
        }
        return result
    }
}
