/// Moves Relu / Clip / LeakyRelu that directly follow a Conv, Gemm or ChannelAffine into the producer's
/// epilogue (applied while the output is still in cache, no separate pass over memory).
enum ActivationFusion {
    static func run(_ program: inout Program) {
        program.rewriteUntilStable(fuse)
    }

    /// Fuses step `ai` (an activation) into its producer, if it can; true when it did.
    private static func fuse(_ program: inout Program, at ai: Int, counts: [String: Int]) -> Bool {
        let step = program.steps[ai]
        guard let unary = step.op as? UnaryOp, let activation = unary.fusableActivation(step.inputInfos),
            let source = step.node.inputs.first, program.isPrivate(source, counts),
            let pi = program.producer(of: source)
        else { return false }
        var producer = program.steps[pi]
        if var conv = producer.op as? ConvOp, conv.activation == .none {
            conv.activation = activation
            producer.op = conv
        } else if var gemm = producer.op as? GemmOp, gemm.activation == .none {
            gemm.activation = activation
            producer.op = gemm
        } else if var affine = producer.op as? ChannelAffineOp, affine.activation == .none {
            affine.activation = activation
            producer.op = affine
        } else {
            return false
        }
        producer.node.outputs = [step.node.outputs[0]]
        program.steps[pi] = producer
        program.steps.remove(at: ai)
        return true
    }
}
