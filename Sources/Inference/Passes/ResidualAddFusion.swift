/// Moves an `Add` (or a two-input `Sum`, as Caffe2-exported ResNets write it) of two
/// same-shaped runtime tensors into the `Conv` producing one of them
/// (ResNet's and MobileNet/EfficientNet's residual connections): the conv takes the other
/// tensor as input 3 and adds it before its activation (ConvOp.residual), so the Add's pass
/// over memory and its output buffer disappear, and a Relu after the Add then fuses into the
/// conv too (run this before `ActivationFusion`).
///
/// Conditions: the conv has no activation or residual yet, its output is read only by the
/// Add (and not requested), the other tensor has exactly the output's shape (no broadcast) and
/// is computed before the conv runs (a graph input or an earlier step), since the conv now
/// reads it.
enum ResidualAddFusion {
    static func run(_ program: inout Program) {
        program.rewriteUntilStable(fuse)
    }

    /// Fuses step `ai` (an Add) into the conv producing either of its inputs, if one
    /// qualifies (input 0 tried first); true when it did.
    private static func fuse(_ program: inout Program, at ai: Int, counts: [String: Int]) -> Bool {
        let step = program.steps[ai]
        guard let add = step.op as? BinaryOp, add.function == .add, !add.isMean, ["Add", "Sum"].contains(step.node.opType),
            step.node.inputs.count == 2, step.node.outputs.count == 1,
            let outShape = program.values[step.node.outputs[0]]?.shape
        else { return false }
        for side in 0..<2 {
            let source = step.node.inputs[side], other = step.node.inputs[1 - side]
            guard source != other, program.isPrivate(source, counts),
                let ci = program.producer(of: source), ci < ai,
                var conv = program.steps[ci].op as? ConvOp, conv.activation == .none, !conv.residual,
                let otherInfo = program.values[other], otherInfo.constant == nil, otherInfo.shape == outShape,
                program.values[source]?.shape == outShape
            else { continue }
            if let otherProducer = program.producer(of: other), otherProducer >= ci { continue }
            var producer = program.steps[ci]
            conv.residual = true
            producer.op = conv
            var inputs = producer.node.inputs
            while inputs.count < 3 { inputs.append("") }
            producer.node.inputs = Array(inputs.prefix(3)) + [other]
            producer.node.outputs = [step.node.outputs[0]]
            program.steps[ci] = producer
            program.steps.remove(at: ai)
            return true
        }
        return false
    }
}
