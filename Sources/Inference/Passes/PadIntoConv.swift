/// Merges a zero `Pad` on H/W (PyTorch's TF-"same" padding in efficientnet) into the Conv that
/// reads it, so the padded copy is never made.
enum PadIntoConv {
    static func run(_ program: inout Program) {
        program.rewriteUntilStable(merge)
    }

    /// Merges the Pad feeding step `ci` (a Conv) into it, if it can; true when it did.
    private static func merge(_ program: inout Program, at ci: Int, counts: [String: Int]) -> Bool {
        let step = program.steps[ci]
        guard var conv = step.op as? ConvOp, conv.extraPads == [0, 0, 0, 0],
            ["NOTSET", "VALID"].contains((try? conv.node.string("auto_pad", default: "NOTSET")) ?? ""),
            let padded = step.node.inputs.first, program.isPrivate(padded, counts),
            let pi = program.producer(of: padded),
            let pad = program.steps[pi].op as? PadOp,
            let extra = pad.spatialZeroPads(program.steps[pi].inputInfos)
        else { return false }
        conv.extraPads = extra
        var merged = step
        merged.op = conv
        merged.node.inputs[0] = program.steps[pi].node.inputs[0]
        program.steps[ci] = merged
        program.steps.remove(at: pi)
        return true
    }
}
