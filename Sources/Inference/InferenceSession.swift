import Foundation
import Tensor

/// A model compiled for one input shape (batch included) and a set of output tensors.
///
/// Creating a session does all the work that does not depend on the input values: pruning to
/// the requested outputs, constant folding, BatchNorm/Pad/activation fusion, kernel
/// selection, buffer planning and allocation. `run` then only executes kernels. Make one
/// session per batch size and reuse it. `run` is serialized by a lock (the buffers are
/// per session); use one session per thread for parallel forward passes.
///
/// Micro-batches: a batch larger than `threads` (and a multiple of it) runs as consecutive
/// passes of `threads` images, one image per thread in every kernel. Each image's
/// activations then stay in that core's L2 / the shared L3 instead of streaming a whole
/// batch's tensors (77 MB per layer for EfficientNet-Lite0 at batch 16) through memory:
/// measured 25–27 vs 20–22 images/s at batch 16 on 2 threads. Used only when every requested
/// output is computed per image and the program is batch-local (`BatchLocality`: every
/// run-time tensor leads with the micro-batch, no step works along axis 0), so a graph that
/// reduces, reshapes or normalizes across the batch keeps one plan for the whole batch.
public final class InferenceSession {
    public let inputShape: [Int]
    public let outputNames: [String]
    public let threads: Int
    private let plan: ExecutionPlan
    /// Images per pass of the plan (= inputShape[0] unless micro-batched).
    private let chunk: Int
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
        let batch = inputShape.first ?? 1
        let micro = self.threads
        var chunked: ExecutionPlan?
        if micro >= 2 && batch > micro && batch % micro == 0 {
            // A graph that fixes the batch size fails to plan here and keeps the full plan.
            if let candidate = try? ExecutionPlan(graph: model.graph, inputShape: [micro] + inputShape.dropFirst(), outputs: names) {
                let perImage = candidate.outputs.values.allSatisfy { output in
                    if case let .buffer(_, shape) = output { return shape.first == micro }
                    return false
                }
                if perImage && candidate.isBatchLocal { chunked = candidate }
            }
        }
        if let chunked {
            plan = chunked
            chunk = micro
        } else {
            plan = try ExecutionPlan(graph: model.graph, inputShape: inputShape, outputs: names)
            chunk = batch
        }
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

    /// Images per pass of the plan: `threads` when micro-batched, else the whole batch.
    public var imagesPerPass: Int { chunk }
    /// Nodes executed per run after pruning and folding.
    public var runtimeNodeCount: Int { plan.runtimeNodeCount }
    /// Op types executed per run, in order (fused nodes appear once).
    public var runtimeOpTypes: [String] { plan.opTypes }
    /// Floating-point operations of one `run` on the whole batch: 2 · multiply-accumulates of
    /// every Conv, Gemm and MatMul, counted for the direct algorithm (for GFLOP/s figures).
    /// The plan covers one pass of `chunk` images, so a micro-batched run is that many passes.
    public var flopsPerRun: Int { plan.flops * ((inputShape.first ?? 1) / max(chunk, 1)) }
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
        let passes = max(1, (inputShape.first ?? 1) / max(chunk, 1))
        let inputFloats = input.data.count / passes
        var collected: [String: [Float]] = [:]
        for pass in 0..<passes {
            input.data.withUnsafeBufferPointer { p in
                if let base = p.baseAddress { buffers[plan.inputBuffer].update(from: base + pass * inputFloats, count: inputFloats) }
            }
            for step in plan.steps {
                let ins = step.inputs.map { $0.map { UnsafePointer(buffers[$0]) } }
                let outs = step.outputs.map { buffers[$0] }
                step.kernel.run(inputs: ins, outputs: outs, scratch: scratch)
            }
            for name in outputNames {
                guard case let .buffer(b, shape)? = plan.outputs[name] else { continue }
                collected[name, default: []].append(contentsOf: UnsafeBufferPointer(start: buffers[b], count: shape.reduce(1, *)))
            }
        }
        var result: [String: Tensor] = [:]
        for name in outputNames {
            switch plan.outputs[name] {
            case let .buffer(_, shape)?:
                // Micro-batched: the passes' slices, in order, make the whole batch.
                let full = passes > 1 ? [shape[0] * passes] + shape.dropFirst() : shape
                result[name] = Tensor(shape: full, data: collected[name] ?? [])
            case let .constant(value)?:
                result[name] = Tensor(shape: value.shape, data: value.asFloats)
            case nil:
                throw InferenceError.unknownTensor(name: name)
            }
        }
        return result
    }
}
