/// What planning knows about one tensor: shape, element type and, for constants, the value.
struct ValueInfo {
    var shape: [Int]
    var dtype: DType
    var constant: HostTensor?

    init(shape: [Int], dtype: DType = .float, constant: HostTensor? = nil) {
        self.shape = shape; self.dtype = dtype; self.constant = constant
    }

    init(constant: HostTensor) {
        self.init(shape: constant.shape, dtype: constant.dtype, constant: constant)
    }

    var count: Int { shape.reduce(1, *) }
}

/// One ONNX operator with its attributes parsed (built once per node by `OperatorRegistry`).
///
/// An operator knows three things: output shapes from input shapes (`infer`), a plain
/// reference evaluation on host tensors (`evaluate`, used for constant folding and by tests
/// as the reference for fast kernels), and how to make a runtime kernel on float buffers
/// (`makeKernel`; by default a wrapper around `evaluate`, fine for rare, cheap ops).
protocol Operator {
    /// Output infos (shape, dtype; no constants) for inputs of these infos. `nil` entries are
    /// optional inputs that were not given. Constant inputs carry their values (e.g. a Reshape
    /// target shape) so the output shape can depend on them.
    func infer(_ inputs: [ValueInfo?]) throws -> [ValueInfo]
    /// Reference evaluation; all inputs known.
    func evaluate(_ inputs: [HostTensor?]) throws -> [HostTensor]
    /// A kernel computing the outputs from the non-constant inputs at run time.
    func makeKernel(_ inputs: [ValueInfo?], outputs: [ValueInfo]) throws -> Kernel
    /// Outputs that are known from input shapes alone (Shape), even for non-constant inputs.
    func shapeOnlyOutputs(_ inputs: [ValueInfo?]) throws -> [HostTensor]?
    /// True when output 0 is input 0's data unchanged under another shape (Reshape, Flatten,
    /// Squeeze, Unsqueeze, Identity, Dropout): the executor then shares the buffer, runs nothing.
    var aliasesInput: Bool { get }
}

extension Operator {
    func makeKernel(_ inputs: [ValueInfo?], outputs: [ValueInfo]) throws -> Kernel {
        EvaluateKernel(op: self, inputs: inputs, outputs: outputs)
    }
    func shapeOnlyOutputs(_ inputs: [ValueInfo?]) throws -> [HostTensor]? { nil }
    var aliasesInput: Bool { false }
}

/// A runtime step on float buffers. `inputs[i]` is nil for constant inputs (kernels capture
/// constants when they are made) and absent optional inputs. Buffers hold exactly the
/// element counts of the planned shapes; outputs never alias inputs, except output 0 and the
/// input a kernel names in `overwritableInput`.
protocol Kernel: AnyObject {
    /// Floats of scratch memory `run` needs (im2col columns, padded planes); the executor
    /// allocates one scratch area of the largest size and lends it to every step in turn.
    var scratchCount: Int { get }
    /// An input (index) of output 0's shape that `run` reads each element of before it writes
    /// that element of output 0, and nothing of it after: the planner may then put output 0 in
    /// that input's buffer when this step is the input's last reader (ExecutionPlan).
    var overwritableInput: Int? { get }
    func run(inputs: [UnsafePointer<Float>?], outputs: [UnsafeMutablePointer<Float>], scratch: UnsafeMutablePointer<Float>)
}

extension Kernel {
    var scratchCount: Int { 0 }
    var overwritableInput: Int? { nil }
}

/// The fallback kernel: copies runtime inputs into host tensors and calls `evaluate`.
final class EvaluateKernel: Kernel {
    let op: Operator
    let inputs: [ValueInfo?]
    let outputCounts: [Int]

    init(op: Operator, inputs: [ValueInfo?], outputs: [ValueInfo]) {
        self.op = op; self.inputs = inputs; self.outputCounts = outputs.map(\.count)
    }

    func run(inputs pointers: [UnsafePointer<Float>?], outputs: [UnsafeMutablePointer<Float>], scratch: UnsafeMutablePointer<Float>) {
        var hosts: [HostTensor?] = []
        for (index, info) in inputs.enumerated() {
            guard let info else { hosts.append(nil); continue }
            if let constant = info.constant { hosts.append(constant); continue }
            guard let pointer = pointers[index] else { hosts.append(nil); continue }
            hosts.append(HostTensor(shape: info.shape, floats: Array(UnsafeBufferPointer(start: pointer, count: info.count))))
        }
        // Shapes and attributes were validated by `infer` at planning time, so evaluation of
        // planned shapes cannot fail; if it somehow does, outputs are zero-filled.
        guard let results = try? op.evaluate(hosts) else {
            for (o, count) in zip(outputs, outputCounts) { o.update(repeating: 0, count: count) }
            return
        }
        for (result, (o, count)) in zip(results, zip(outputs, outputCounts)) {
            let values = result.asFloats
            values.withUnsafeBufferPointer { if let base = $0.baseAddress { o.update(from: base, count: min(count, values.count)) } }
        }
    }
}

/// Normalizes a possibly negative axis against `rank`.
func normalizedAxis(_ axis: Int, rank: Int) throws -> Int {
    let a = axis < 0 ? axis + rank : axis
    guard a >= 0 && a < max(rank, 1) else { throw OpError("axis \(axis) out of range for rank \(rank)") }
    return a
}

/// The input at `index` or an error naming it.
func required<T>(_ inputs: [T?], _ index: Int, _ what: String) throws -> T {
    guard index < inputs.count, let value = inputs[index] else { throw OpError("missing input \(index) (\(what))") }
    return value
}

/// A constant input's value or an error saying it must be constant.
func constantInput(_ inputs: [ValueInfo?], _ index: Int, _ what: String) throws -> HostTensor {
    let info = try required(inputs, index, what)
    guard let value = info.constant else {
        throw OpError("input \(index) (\(what)) must be a constant (known once the input shape is fixed)")
    }
    return value
}
