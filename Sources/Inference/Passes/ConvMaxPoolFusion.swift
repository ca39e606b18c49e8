/// Moves a MaxPool that directly follows a Conv (its only reader, not requested) into the
/// Conv, where `ConvMaxPoolKernel` runs both band by band so the convolution's output never
/// goes to memory. Runs after ActivationFusion: the Relu between them is in the Conv by then.
/// Only where that kernel applies (the stems of SqueezeNet, ResNet-50, DenseNet-121, Inception
/// v1, open-nsfw, on AVX2 or AVX-512); elsewhere the two steps stay as they are.
enum ConvMaxPoolFusion {
    static func run(_ program: inout Program) {
        program.rewriteUntilStable(fuse)
    }

    /// Fuses step `pi` (a MaxPool) into the Conv producing its input, if it can; true when it did.
    private static func fuse(_ program: inout Program, at pi: Int, counts: [String: Int]) -> Bool {
        let step = program.steps[pi]
        guard let pool = step.op as? PoolOp, pool.kind == .max, let source = step.node.inputs.first,
            program.isPrivate(source, counts), let ci = program.producer(of: source)
        else { return false }
        var producer = program.steps[ci]
        guard var conv = producer.op as? ConvOp, conv.maxPool == nil, !conv.residual, producer.node.outputs.count == 1,
            producer.inputInfos.count > 1, let x = producer.inputInfos[0], let w = producer.inputInfos[1],
            let g = try? conv.geometry(input: x.shape, weights: w.shape), let window = try? pool.window(g.outputShape),
            ConvMaxPoolKernel.applies(conv: g, pool: window)
        else { return false }
        conv.maxPool = pool
        producer.op = conv
        producer.node.outputs = [step.node.outputs[0]]
        program.steps[ci] = producer
        program.steps.remove(at: pi)
        return true
    }
}
