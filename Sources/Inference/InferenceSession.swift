import Foundation
import Synchronization
import Tensor

/// A model compiled for one input shape (batch included) and a set of output tensors.
///
/// Creating a session does all the work that does not depend on the input values: pruning to
/// the requested outputs, constant folding, BatchNorm/Pad/activation fusion, kernel
/// selection, buffer planning and allocation. `run` then only executes kernels. Make one
/// session per batch size and reuse it. `run` is serialized by a lock (the buffers are
/// per session); use one session per thread for parallel forward passes.
///
/// Lanes: a batch of two or more images runs as independent single-image passes spread over
/// `threads` lanes, each lane a thread with its own activation buffers and scratch, all
/// sharing one plan (kernels are immutable; weights are held once). Lanes need no
/// synchronization between layers — a split kernel waits for its slowest thread at every one
/// of EfficientNet-Lite0's ~100 splits per image — and each image's activations stay in its
/// core's cache instead of streaming a whole batch's tensors (77 MB per layer for
/// EfficientNet-Lite0 at batch 16) through memory. Lanes of four-image passes (open-nsfw at
/// batch 16, one thread, CPU time per image, min of 8 interleaved rounds, session 13) ran the
/// Winograd layers 10 % and the 7×7 direct layers 13 % faster (by all appearances their weights
/// still in L2 for images 2–4) but the early 1×1 layers 9 % and max pooling 45 % slower: 1.01×.
/// Used only when every requested output is
/// computed per image and the program is batch-local (`BatchLocality`, checked on the
/// program planned for two images: every run-time tensor leads with the batch, no step works
/// along axis 0), so a graph that reduces, reshapes or normalizes across the batch keeps one
/// plan for the whole batch, split inside each kernel.
public final class InferenceSession {
    public let inputShape: [Int]
    public let outputNames: [String]
    public let threads: Int
    let plan: ExecutionPlan
    /// Images per pass of the plan: 1 in lanes, else inputShape[0].
    private let chunk: Int
    /// One for a whole-batch plan (its kernels split across `threads`), else one per thread.
    let lanes: [Lane]
    private let lock = NSLock()

    /// Activation buffers and scratch of one pass of the plan; a lane runs its passes alone.
    final class Lane {
        let buffers: [UnsafeMutablePointer<Float>]
        let scratch: UnsafeMutablePointer<Float>
        /// Each step's input and output pointers into this lane's buffers, derived once: built
        /// per step per pass they were 2 array allocations per step (~500 per DenseNet image).
        let stepInputs: [[UnsafePointer<Float>?]]
        let stepOutputs: [[UnsafeMutablePointer<Float>]]

        init(plan: ExecutionPlan) {
            let buffers = plan.capacities.map { Lane.allocate($0) }
            self.buffers = buffers
            scratch = Lane.allocate(plan.scratchCount)
            stepInputs = plan.steps.map { step in step.inputs.map { $0.map { UnsafePointer(buffers[$0.buffer] + $0.offset) } } }
            stepOutputs = plan.steps.map { step in step.outputs.map { buffers[$0.buffer] + $0.offset } }
        }

        /// `count` (at least 1) zeroed floats starting on a 64-byte cache line. malloc puts large
        /// blocks 16 bytes past a page boundary, so every 16-float strip the GEMM kernels load
        /// straddled two lines: aligned activations ran ResNet-50's 56×56 pointwise GEMMs
        /// (X read in place) 4–16 % faster (M×K×N 64×256×3136: 1.53 → 1.28 ms, one thread).
        static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
            let n = max(count, 1)
            let p = UnsafeMutableRawPointer.allocate(byteCount: n * MemoryLayout<Float>.stride, alignment: 64)
                .bindMemory(to: Float.self, capacity: n)
            p.initialize(repeating: 0, count: n)
            return p
        }

        deinit {
            for b in buffers { UnsafeMutableRawPointer(b).deallocate() }
            UnsafeMutableRawPointer(scratch).deallocate()
        }

        /// Runs every step on the input already in the plan's input buffer.
        func run(_ plan: ExecutionPlan) {
            for index in plan.steps.indices { run(plan, step: index) }
        }

        /// Step `index` of `plan` (the plan this lane was built for).
        @inline(__always)
        func run(_ plan: ExecutionPlan, step index: Int) {
            plan.steps[index].kernel.run(inputs: stepInputs[index], outputs: stepOutputs[index], scratch: scratch)
        }
    }

    /// - Parameters:
    ///   - outputs: any tensor names of the graph (see `ONNXModel.describe`); empty = the
    ///     model's declared outputs.
    ///   - inputShape: the full input shape, batch first (e.g. [16, 3, 224, 224]).
    ///   - threads: threads for the engine's loops and its sgemm splits (OpenBLAS itself runs
    ///     single-threaded inside each part), or lanes of single images.
    public init(model: ONNXModel, outputs: [String] = [], inputShape: [Int], threads: Int = 2) throws {
        let names = outputs.isEmpty ? model.outputs.map(\.name) : outputs
        self.inputShape = inputShape
        self.outputNames = names
        self.threads = max(1, threads)
        let batch = inputShape.first ?? 1
        let savedThreads = Parallel.threads
        defer { Parallel.threads = savedThreads }
        var single: ExecutionPlan?
        if batch >= 2 && InferenceSession.imagesAreIndependent(model: model, outputs: names, inputShape: inputShape) {
            // Kernels size their per-thread scratch from Parallel.threads when built: one.
            Parallel.threads = 1
            single = try? ExecutionPlan(graph: model.graph, inputShape: [1] + inputShape.dropFirst(), outputs: names)
        }
        if let single {
            plan = single
            chunk = 1
            lanes = (0..<min(self.threads, batch)).map { _ in Lane(plan: single) }
        } else {
            Parallel.threads = self.threads
            plan = try ExecutionPlan(graph: model.graph, inputShape: inputShape, outputs: names)
            chunk = batch
            lanes = [Lane(plan: plan)]
        }
    }

    /// True when the program for two images is batch-local and every requested output is a
    /// per-image run-time tensor, so single-image passes give the same results. A graph that
    /// fixes the batch size fails to plan for two and answers false.
    private static func imagesAreIndependent(model: ONNXModel, outputs names: [String], inputShape: [Int]) -> Bool {
        guard let program = try? ExecutionPlan.program(graph: model.graph, inputShape: [2] + inputShape.dropFirst(), outputs: names)
        else { return false }
        let perImage = names.allSatisfy { name in
            guard let info = program.values[name] else { return false }
            return info.constant == nil && info.shape.first == 2
        }
        return perImage && BatchLocality.isBatchLocal(program, batch: 2)
    }

    /// Lanes running single images in parallel (1 when the whole batch runs as one pass).
    public var laneCount: Int { lanes.count }
    /// Images per pass of the plan: 1 in lanes, else the whole batch.
    public var imagesPerPass: Int { chunk }
    /// Nodes executed per run after pruning and folding.
    public var runtimeNodeCount: Int { plan.runtimeNodeCount }
    /// Op types executed per run, in order (fused nodes appear once).
    public var runtimeOpTypes: [String] { plan.opTypes }
    /// The op types of the steps that run kernels: `runtimeOpTypes` without views and without
    /// the Concats whose inputs are computed in place.
    public var executedOpTypes: [String] { plan.steps.map(\.opType) }
    /// Floating-point operations of one `run` on the whole batch: 2 · multiply-accumulates of
    /// every Conv, Gemm and MatMul, counted for the direct algorithm (for GFLOP/s figures).
    /// The plan covers one pass of `chunk` images, so a run in lanes is that many passes.
    public var flopsPerRun: Int { plan.flops * passes }
    /// Floats held in activation buffers and scratch, all lanes (excluding weights).
    public var bufferFloats: Int { (plan.capacities.reduce(0, +) + plan.scratchCount) * lanes.count }

    private var passes: Int { max(1, (inputShape.first ?? 1) / max(chunk, 1)) }

    /// Runs the network on `input` (shape `inputShape`) and returns every requested tensor.
    public func run(_ input: Tensor) throws -> [String: Tensor] {
        guard input.shape == inputShape else { throw InferenceError.inputShapeMismatch(expected: inputShape, got: input.shape) }
        return try withRunScope(threads: threads) { try runLocked(input) }
    }

    /// Holds the session's lock, OpenBLAS at one thread (the engine splits every sgemm itself,
    /// see Parallel.sgemm; `BLAS.withThreads` restores the process-wide count after the last
    /// overlapping scope) and the calling thread's engine thread count at `threads` while
    /// `body` runs.
    func withRunScope<R>(threads: Int, _ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        let savedThreads = Parallel.threads
        Parallel.threads = threads
        defer { Parallel.threads = savedThreads }
        return try BLAS.withThreads(1, body)
    }

    private func runLocked(_ input: Tensor) throws -> [String: Tensor] {
        // Per-image slices of every buffered output, written by whichever lane ran the pass.
        let passes = self.passes
        var results: [(name: String, slot: ExecutionPlan.Slot, shape: [Int], data: UnsafeMutablePointer<Float>)] = []
        for name in outputNames {
            guard case let .buffer(b, shape)? = plan.outputs[name] else { continue }
            let full = [shape[0] * passes] + shape.dropFirst()
            results.append((name, b, full, UnsafeMutablePointer<Float>.allocate(capacity: max(1, full.reduce(1, *)))))
        }
        defer { for r in results { r.data.deallocate() } }
        let inputFloats = input.data.count / passes
        input.data.withUnsafeBufferPointer { source in
            guard let base = source.baseAddress else { return }
            func runPass(_ pass: Int, on lane: Lane) {
                lane.buffers[plan.inputBuffer].update(from: base + pass * inputFloats, count: inputFloats)
                lane.run(plan)
                for r in results {
                    let perPass = r.shape.reduce(1, *) / passes
                    (r.data + pass * perPass).update(from: lane.buffers[r.slot.buffer] + r.slot.offset, count: perPass)
                }
            }
            if lanes.count == 1 {
                for pass in 0..<passes { runPass(pass, on: lanes[0]) }
            } else {
                // Each lane takes the next pass not yet taken when it is free; its kernels run
                // single-threaded. Lane i used to take passes i, i + lanes, …: on a shared
                // machine a lane slowed for a while then finished a pass or two after the other,
                // which idled. Measured (turns, open-nsfw batch 16, two lanes, four runs of 25 s
                // a side, both orders): 1.00 … 1.13× the static split, median 1.09.
                let next = Atomic<Int>(0)
                DispatchQueueHelper.run(lanes.count) { index in
                    let outer = Parallel.threads
                    Parallel.threads = 1
                    defer { Parallel.threads = outer }
                    while true {
                        let pass = next.wrappingAdd(1, ordering: .relaxed).oldValue
                        if pass >= passes { break }
                        runPass(pass, on: lanes[index])
                    }
                }
            }
        }
        var result: [String: Tensor] = [:]
        for r in results {
            result[r.name] = Tensor(shape: r.shape, data: Array(UnsafeBufferPointer(start: r.data, count: r.shape.reduce(1, *))))
        }
        for name in outputNames where result[name] == nil {
            guard case let .constant(value)? = plan.outputs[name] else { throw InferenceError.unknownTensor(name: name) }
            result[name] = Tensor(shape: value.shape, data: value.asFloats)
        }
        return result
    }
}
