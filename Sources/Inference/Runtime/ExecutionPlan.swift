import Foundation

/// A graph compiled for one input shape: kernels in topological order and a buffer
/// assignment computed once. Tensors whose lifetimes do not overlap share a buffer (greedy
/// best fit by element count); view ops (Reshape, Flatten, …) share their input's buffer, and
/// the inputs of an end-to-end Concat live in slices of its output's buffer
/// (ExecutionPlan+ConcatInPlace.swift), and a kernel that reads an input element by element
/// before writing its output there (a 1×1 conv's fused residual) gets that input's buffer for
/// its output when it is the input's last reader (`overwrittenInput`).
final class ExecutionPlan {
    /// A tensor's place: a buffer and an element offset into it (non-zero for Concat slices).
    struct Slot: Equatable {
        let buffer: Int
        let offset: Int
    }
    struct Step {
        let label: String
        let opType: String
        /// 2 · multiply-accumulates of this step (`FLOPCount`; 0 for ops that are not Conv/Gemm/MatMul).
        let flops: Int
        let kernel: Kernel
        /// Slot per node input, nil for constants and absent inputs.
        let inputs: [Slot?]
        let outputs: [Slot]
    }
    enum Output {
        case buffer(Slot, shape: [Int])
        case constant(HostTensor)
    }

    let steps: [Step]
    /// Capacity of each buffer in floats.
    let capacities: [Int]
    let inputBuffer: Int
    let outputs: [String: Output]
    let scratchCount: Int
    /// How many graph nodes remain after pruning and folding (for tests and `inspect`).
    let runtimeNodeCount: Int
    let opTypes: [String]
    /// Floating-point operations of one run (2 · MACs of Conv/Gemm/MatMul; `FLOPCount`), the
    /// sum over the steps (views and folded constants do none).
    var flops: Int { steps.reduce(0) { $0 + $1.flops } }

    /// The graph pruned to the `requested` tensors, shape-analysed and constant-folded for
    /// `inputShape`, and rewritten by the load-time passes: everything a plan needs except
    /// kernels and buffers (cheap enough to ask questions of, e.g. `BatchLocality`).
    static func program(graph: Graph, inputShape: [Int], outputs requested: [String]) throws -> Program {
        let nodes = try graph.nodesNeeded(for: requested)
        let analysis = try ShapeAnalysis(graph: graph, inputShape: inputShape, evaluateConstants: true, nodes: nodes)
        var program = Program(steps: [], values: analysis.values, requested: Set(requested))
        for (node, op) in zip(analysis.nodes, analysis.ops) {
            let isConstant = node.outputs.allSatisfy { $0.isEmpty || analysis.values[$0]?.constant != nil }
            if isConstant { continue }
            program.steps.append(Program.Step(node: node, op: op, inputInfos: node.inputs.map { $0.isEmpty ? nil : analysis.values[$0] }))
        }
        program.optimize()
        return program
    }

    init(graph: Graph, inputShape: [Int], outputs requested: [String]) throws {
        let program = try ExecutionPlan.program(graph: graph, inputShape: inputShape, outputs: requested)
        runtimeNodeCount = program.steps.count
        opTypes = program.steps.map { $0.node.opType }

        guard let inputName = graph.inputs.first?.name else { throw InferenceError.malformed(path: "<graph>", reason: "no input") }
        let (placements, inPlace) = ExecutionPlan.concatPlacements(program, graphInput: inputName)
        // Alias groups: a view's output lives in its input's buffer (same offset), a placed
        // Concat input in its root's buffer at its offset.
        var root: [String: String] = [inputName: inputName]
        var offset: [String: Int] = [:]
        var kernels: [Kernel?] = []
        for (index, step) in program.steps.enumerated() {
            do {
                if step.op.aliasesInput {
                    guard let source = step.node.inputs.first, let r = root[source] else {
                        throw OpError("view of a tensor that is not computed at run time")
                    }
                    root[step.node.outputs[0]] = r
                    offset[step.node.outputs[0]] = offset[source]
                    kernels.append(nil)
                    continue
                }
                for (i, info) in step.inputInfos.enumerated() where info != nil && info?.constant == nil {
                    guard root[step.node.inputs[i]] != nil else {
                        throw InferenceError.missingTensor(name: step.node.inputs[i], node: step.node.label)
                    }
                }
                for o in step.node.outputs where !o.isEmpty {
                    root[o] = placements[o]?.root ?? o
                    offset[o] = placements[o]?.offset
                }
                if inPlace.contains(index) {  // its inputs were written into its output already
                    kernels.append(nil)
                    continue
                }
                let outputInfos = step.node.outputs.map { name -> ValueInfo in
                    program.values[name] ?? ValueInfo(shape: [0])
                }
                kernels.append(try step.op.makeKernel(step.inputInfos, outputs: outputInfos))
            } catch let error as OpError {
                throw InferenceError.invalidNode(node: step.node.label, op: step.node.opType, reason: error.reason)
            }
        }
        // Last step reading each root; requested tensors live to the end.
        var lastUse: [String: Int] = [:]
        for (index, step) in program.steps.enumerated() {
            for name in step.node.inputs where !name.isEmpty { if let r = root[name] { lastUse[r] = index } }
        }
        for name in requested { if let r = root[name] { lastUse[r] = Int.max } }

        var capacities: [Int] = []
        var free: [Int] = []
        var bufferOf: [String: Int] = [:]
        func allocate(_ count: Int) -> Int {
            // Best fit among free buffers; grow the largest free one if none fits.
            if let best = free.filter({ capacities[$0] >= count }).min(by: { capacities[$0] < capacities[$1] }) {
                free.removeAll { $0 == best }
                return best
            }
            if let largest = free.max(by: { capacities[$0] < capacities[$1] }) {
                free.removeAll { $0 == largest }
                capacities[largest] = count
                return largest
            }
            capacities.append(count)
            return capacities.count - 1
        }
        func slot(_ name: String) -> Slot? {
            guard let r = root[name], let b = bufferOf[r] else { return nil }
            return Slot(buffer: b, offset: offset[name] ?? 0)
        }
        let inputCount = inputShape.reduce(1, *)
        inputBuffer = allocate(inputCount)
        bufferOf[inputName] = inputBuffer
        if lastUse[inputName] == nil { free.append(inputBuffer) }

        var steps: [Step] = []
        var scratch = 0
        for (index, (step, kernel)) in zip(program.steps, kernels).enumerated() {
            if let kernel {
                let ins = step.node.inputs.enumerated().map { i, name -> Slot? in
                    guard !name.isEmpty, step.inputInfos[i]?.constant == nil else { return nil }
                    return slot(name)
                }
                if let donor = ExecutionPlan.overwrittenInput(
                    step, index: index, kernel: kernel, root: root, offset: offset, lastUse: lastUse, values: program.values,
                    graphInput: inputName), let b = bufferOf[donor]
                {
                    // Output 0 takes over the input's buffer (its slot above stays); the buffer
                    // is no longer the input's to release after this step.
                    bufferOf[step.node.outputs[0]] = b
                    bufferOf[donor] = nil
                }
                let outs = step.node.outputs.map { name -> Slot in
                    let r = root[name] ?? name
                    if let b = bufferOf[r] { return Slot(buffer: b, offset: offset[name] ?? 0) }
                    // A placed tensor's first producer allocates its root's whole buffer.
                    let count = max(1, program.values[r]?.count ?? 1)
                    let b = allocate(count)
                    if !name.isEmpty { bufferOf[r] = b }
                    return Slot(buffer: b, offset: offset[name] ?? 0)
                }
                steps.append(
                    Step(
                        label: step.node.label, opType: step.node.opType,
                        flops: FLOPCount.of(step), kernel: kernel, inputs: ins, outputs: outs))
                scratch = max(scratch, kernel.scratchCount)
                // Outputs nobody reads are released at once.
                for (name, out) in zip(step.node.outputs, outs) where lastUse[root[name] ?? name] == nil && !free.contains(out.buffer) {
                    free.append(out.buffer)
                }
            }
            // Release every root whose last reader was this step.
            for name in step.node.inputs where !name.isEmpty {
                if let r = root[name], lastUse[r] == index, let b = bufferOf[r], !free.contains(b) { free.append(b) }
            }
        }
        self.steps = steps
        self.capacities = capacities
        self.scratchCount = scratch

        var outputs: [String: Output] = [:]
        for name in requested {
            if let info = program.values[name], let constant = info.constant {
                outputs[name] = .constant(constant)
            } else if let place = slot(name), let info = program.values[name] {
                outputs[name] = .buffer(place, shape: info.shape)
            } else if name == inputName {
                outputs[name] = .buffer(Slot(buffer: inputBuffer, offset: 0), shape: inputShape)
            } else {
                throw InferenceError.unknownTensor(name: name)
            }
        }
        self.outputs = outputs
    }

    /// The root of the input whose buffer `step`'s output 0 may take over: the input the kernel
    /// names (`Kernel.overwritableInput`), when this step is its last reader, it is a whole
    /// tensor of output 0's size computed at run time (not the graph input, not a slice of a
    /// Concat's buffer), no other input of the step shares its buffer, and output 0 is a
    /// whole tensor of its own (no view, no Concat slice). Else nil.
    static func overwrittenInput(
        _ step: Program.Step, index: Int, kernel: Kernel, root: [String: String], offset: [String: Int], lastUse: [String: Int],
        values: [String: ValueInfo], graphInput: String
    ) -> String? {
        guard let i = kernel.overwritableInput, i < step.node.inputs.count, step.inputInfos[i]?.constant == nil,
            let output = step.node.outputs.first, !output.isEmpty, root[output] == output, (offset[output] ?? 0) == 0
        else { return nil }
        let name = step.node.inputs[i]
        guard !name.isEmpty, let r = root[name], r != graphInput, lastUse[r] == index, (offset[name] ?? 0) == 0,
            let size = values[output]?.count, values[r]?.count == size, values[name]?.count == size
        else { return nil }
        let others = step.node.inputs.enumerated().filter { $0.offset != i && !$0.element.isEmpty }
        return others.contains { root[$0.element] == r } ? nil : r
    }
}
