/// Concatenation without copies: when a Concat joins whole tensors end to end (everything
/// before its axis has extent 1, e.g. channels at batch 1 — what a lane runs), each input can be
/// computed straight into its slice of the output buffer and the Concat step disappears.
/// Measured (one thread, thread CPU time, per image): SqueezeNet's 8 Concats took 0.22 ms
/// (pass 9.45 → 9.29 ms), Inception v1's 9 0.30 ms, DenseNet-121's 58 1.92 ms (pass 74.9 →
/// 73.9 ms); all of them now run in place. On several threads they were serial copies.
///
/// Chains resolve transitively: DenseNet's Concat k is an input of Concat k + 1, so a whole
/// dense block's features land in one buffer, each layer's 32 new channels after the previous
/// ones. Placements are decided from the last Concat backwards so that a Concat's own output
/// already knows where it lives when its inputs are placed.
///
/// An input qualifies when it is a float tensor computed at run time by an earlier step that
/// is not a view (its producer writes it), it is not the graph input, not requested by the
/// caller, appears once in this Concat and in no other placed Concat. A Concat is placed only
/// if all of its inputs qualify (else it copies as before).
extension ExecutionPlan {
    struct Placement: Equatable {
        /// The tensor whose buffer holds this one (the outermost Concat output of a chain).
        let root: String
        /// Elements from the start of that buffer.
        let offset: Int
    }

    /// Where each placed tensor lives, and the indices of the Concat steps that no longer run.
    static func concatPlacements(_ program: Program, graphInput: String) -> (placements: [String: Placement], inPlace: Set<Int>) {
        var placements: [String: Placement] = [:]
        var inPlace: Set<Int> = []
        for index in program.steps.indices.reversed() {
            let step = program.steps[index]
            guard let concat = step.op as? ConcatOp, let output = step.node.outputs.first, let info = program.values[output],
                info.dtype == .float, info.constant == nil, let axis = try? normalizedAxis(concat.axis, rank: info.shape.count),
                info.shape[..<axis].allSatisfy({ $0 == 1 })
            else { continue }
            let inputs = step.node.inputs
            guard !inputs.isEmpty, Set(inputs).count == inputs.count else { continue }
            let qualifies = inputs.allSatisfy { name in
                guard !name.isEmpty, name != graphInput, !program.requested.contains(name), placements[name] == nil,
                    let value = program.values[name], value.constant == nil, value.dtype == .float,
                    let p = program.producer(of: name), p < index, !program.steps[p].op.aliasesInput
                else { return false }
                return true
            }
            guard qualifies else { continue }
            let base = placements[output] ?? Placement(root: output, offset: 0)
            var offset = base.offset
            for name in inputs {
                placements[name] = Placement(root: base.root, offset: offset)
                offset += program.values[name]?.count ?? 0
            }
            inPlace.insert(index)
        }
        return (placements, inPlace)
    }
}
