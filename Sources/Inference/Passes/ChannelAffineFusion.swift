/// Merges chains of per-channel affine steps that no Conv precedes — a BatchNormalization,
/// then a Mul and an Add by per-channel constants, as DenseNet-121 applies after every Concat
/// (62 times) — into one `ChannelAffineOp`, y = x · a[c] + b[c], so that the chain makes one
/// pass over the tensor instead of three; `ActivationFusion` then folds the following Relu
/// into the same pass. (Chains that follow a Conv were already folded into its weights by
/// `BatchNormIntoConv`.) Composition: (x · a₁ + b₁) · a₂ + b₂ = x · a₁a₂ + (b₁a₂ + b₂).
enum ChannelAffineFusion {
    static func run(_ program: inout Program) {
        program.rewriteUntilStable(merge)
    }

    /// Merges step `ci` (a channel-affine step) into the channel-affine step producing its
    /// input, if there is one and nobody else reads that input; true when it did.
    private static func merge(_ program: inout Program, at ci: Int, counts: [String: Int]) -> Bool {
        let consumer = program.steps[ci]
        guard let source = consumer.node.inputs.first, program.isPrivate(source, counts),
            let pi = program.producer(of: source),
            let shape = program.values[source]?.shape, shape.count >= 2,
            let second = affine(of: consumer, channels: shape[1], program: program),
            let first = affine(of: program.steps[pi], channels: shape[1], program: program),
            let input = program.steps[pi].node.inputs.first
        else { return false }
        let a = zip(first.a, second.a).map { $0 * $1 }
        let b = (0..<shape[1]).map { first.b[$0] * second.a[$0] + second.b[$0] }
        var merged = program.steps[pi]
        merged.op = ChannelAffineOp(a: a, b: b, activation: .none)
        merged.node.opType = ChannelAffineOp.opType
        merged.node.attributes = [:]
        merged.node.inputs = [input]
        merged.node.outputs = [consumer.node.outputs[0]]
        program.steps[pi] = merged
        program.steps.remove(at: ci)
        return true
    }

    /// (a, b) of a channel-affine step without an activation: BatchNormalization, a Mul/Add by
    /// a per-channel constant (4-D only, as `BatchNormIntoConv` accepts), or an earlier merge.
    private static func affine(of step: Program.Step, channels: Int, program: Program) -> (a: [Float], b: [Float])? {
        if let op = step.op as? ChannelAffineOp {
            return op.activation == .none ? (op.a, op.b) : nil
        }
        guard step.inputInfos.first??.shape.count == 4 else { return nil }
        return BatchNormIntoConv.channelAffine(step, channels: channels, program: program)
    }
}
