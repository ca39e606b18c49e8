/// Folds a BatchNormalization, or a Mul/Add by a per-output-channel constant, that directly
/// follows a Conv into the Conv's weights and bias:
/// W'[m] = W[m] · a[m], b'[m] = b[m] · a[m] + c[m] for y = conv(x) · a + c.
enum BatchNormIntoConv {
    static func run(_ program: inout Program) {
        // Numbers the folded constants, so the W/B tensors each fold adds have unique names.
        var serial = 0
        program.rewriteUntilStable { program, ni, counts in
            fold(&program, at: ni, counts: counts, serial: &serial)
        }
    }

    /// Folds step `ni` (BatchNorm or per-channel Mul/Add) into the Conv producing its input,
    /// if it can; true when it did (and `serial` was advanced).
    private static func fold(_ program: inout Program, at ni: Int, counts: [String: Int], serial: inout Int) -> Bool {
        let step = program.steps[ni]
        guard let source = step.node.inputs.first, program.isPrivate(source, counts),
            let ci = program.producer(of: source), let conv = program.steps[ci].op as? ConvOp,
            conv.activation == .none,
            let outShape = program.values[source]?.shape, outShape.count == 4,
            let affine = channelAffine(step, channels: outShape[1], program: program),
            let weights = program.steps[ci].inputInfos[1]?.constant
        else { return false }
        let channels = outShape[1]
        var w = weights.asFloats
        let per = w.count / channels
        var bias = [Float](repeating: 0, count: channels)
        if program.steps[ci].node.inputs.count > 2, let b = program.steps[ci].inputInfos[2]?.constant {
            bias = b.asFloats
        }
        for m in 0..<channels {
            for i in 0..<per { w[m * per + i] *= affine.a[m] }
            bias[m] = bias[m] * affine.a[m] + affine.b[m]
        }
        serial += 1
        let wName = "\(program.steps[ci].node.label)#folded_W\(serial)"
        let bName = "\(program.steps[ci].node.label)#folded_B\(serial)"
        program.values[wName] = ValueInfo(constant: HostTensor(shape: weights.shape, floats: w))
        program.values[bName] = ValueInfo(constant: HostTensor(shape: [channels], floats: bias))
        var merged = program.steps[ci]
        merged.node.inputs = [merged.node.inputs[0], wName, bName]
        merged.node.outputs = step.node.outputs.prefix(1).map { $0 }
        program.steps[ci] = merged
        program.steps.remove(at: ni)
        return true
    }

    /// (a, c) with step(x) = x · a[channel] + c[channel], if the step is such an op.
    static func channelAffine(_ step: Program.Step, channels: Int, program: Program) -> (a: [Float], b: [Float])? {
        if let bn = step.op as? BatchNormOp {
            if step.node.outputs.dropFirst().contains(where: { !$0.isEmpty }) { return nil }
            return try? bn.affine(step.inputInfos, channels: channels)
        }
        guard let binary = step.op as? BinaryOp, step.node.inputs.count == 2,
            binary.function == .mul || binary.function == .add,
            let constant = step.inputInfos[1]?.constant, let x = step.inputInfos[0]
        else { return nil }
        // Only constants that broadcast per channel over [N, C, H, W] without growing x.
        var shape = constant.shape
        while shape.count < 4 { shape.insert(1, at: 0) }
        guard shape.count == 4, shape[0] == 1, shape[2] == 1, shape[3] == 1, shape[1] == channels || shape[1] == 1,
            (try? Broadcast.shape(x.shape, constant.shape)) == x.shape
        else { return nil }
        let v = constant.asFloats
        let perChannel = (0..<channels).map { v.count == 1 ? v[0] : v[$0] }
        if binary.function == .mul { return (perChannel, [Float](repeating: 0, count: channels)) }
        return ([Float](repeating: 1, count: channels), perChannel)
    }
}
