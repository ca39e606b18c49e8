/// Moves Relu / Clip / LeakyRelu that directly follow a Conv or Gemm into the producer's
/// epilogue (applied while the output is still in cache, no separate pass over memory).
enum ActivationFusion {
    static func run(_ program: inout Program) {
        var changed = true
        while changed {
            changed = false
            let counts = program.consumerCounts()
            for (ai, step) in program.steps.enumerated() {
                guard let unary = step.op as? UnaryOp, let activation = unary.fusableActivation(step.inputInfos),
                    let source = step.node.inputs.first, program.isPrivate(source, counts),
                    let pi = program.producer(of: source)
                else { continue }
                var producer = program.steps[pi]
                if var conv = producer.op as? ConvOp, conv.activation == .none {
                    conv.activation = activation
                    producer.op = conv
                } else if var gemm = producer.op as? GemmOp, gemm.activation == .none {
                    gemm.activation = activation
                    producer.op = gemm
                } else {
                    continue
                }
                producer.node.outputs = [step.node.outputs[0]]
                program.steps[pi] = producer
                program.steps.remove(at: ai)
                program.refreshInfos()
                changed = true
                break
            }
        }
    }
}
