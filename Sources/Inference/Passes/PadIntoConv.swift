/// Merges a zero `Pad` on H/W (PyTorch's TF-"same" padding in efficientnet) into the Conv that
/// reads it, so the padded copy is never made.
enum PadIntoConv {
    static func run(_ program: inout Program) {
        var changed = true
        while changed {
            changed = false
            let counts = program.consumerCounts()
            for (ci, step) in program.steps.enumerated() {
                guard var conv = step.op as? ConvOp, conv.extraPads == [0, 0, 0, 0],
                    ["NOTSET", "VALID"].contains((try? conv.node.string("auto_pad", default: "NOTSET")) ?? ""),
                    let padded = step.node.inputs.first, program.isPrivate(padded, counts),
                    let pi = program.producer(of: padded),
                    let pad = program.steps[pi].op as? PadOp,
                    let extra = pad.spatialZeroPads(program.steps[pi].inputInfos)
                else { continue }
                conv.extraPads = extra
                var merged = step
                merged.op = conv
                merged.node.inputs[0] = program.steps[pi].node.inputs[0]
                program.steps[ci] = merged
                program.steps.remove(at: pi)
                program.refreshInfos()
                changed = true
                break
            }
        }
    }
}
