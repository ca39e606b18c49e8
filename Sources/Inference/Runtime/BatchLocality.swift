/// Whether a compiled program treats the images of a batch independently, so that a batch
/// can run as consecutive smaller passes (InferenceSession's micro-batches) with the same
/// results. The answer is conservative: any doubt answers false and the whole batch runs in
/// one pass, which is always correct.
///
/// A program is batch-local for a batch of `n` when
/// - every tensor it computes at run time has `n` as its first dimension (a Reshape that
///   folds the batch into another axis, a reduction over it, an Unsqueeze at axis 0 or a
///   Shape tensor breaks this), and
/// - no step works along axis 0 while keeping the shape: an `axis`/`axes` attribute that
///   names axis 0 (Softmax(axis=0), Concat(axis=0), Gather's default axis 0, …) or a
///   Transpose that moves another axis first.
enum BatchLocality {
    /// Ops whose `axis` defaults to 0 when the attribute is absent.
    private static let axisZeroByDefault: Set<String> = [
        "Gather", "GatherElements", "ScatterElements", "Split", "ArgMax", "ArgMin", "Compress", "CumSum",
    ]

    static func isBatchLocal(_ program: Program, batch n: Int) -> Bool {
        for step in program.steps {
            for name in step.node.outputs where !name.isEmpty {
                guard let info = program.values[name], info.constant == nil else { continue }
                if info.shape.first != n { return false }
            }
            if crossesAxisZero(step) { return false }
        }
        return true
    }

    private static func crossesAxisZero(_ step: Program.Step) -> Bool {
        let node = step.node
        let rank = step.inputInfos.first??.shape.count ?? 0
        func isZero(_ axis: Int) -> Bool { axis == 0 || (axis < 0 && axis + rank == 0) }
        if node.opType == "Transpose" {
            guard let perm = try? node.ints("perm") else { return rank > 1 }  // default reverses the axes
            return perm.first != 0
        }
        if node.attributes["axis"] != nil {
            guard let axis = try? node.int("axis", default: 0) else { return true }
            if isZero(axis) { return true }
        } else if axisZeroByDefault.contains(node.opType) {
            return true
        }
        if node.attributes["axes"] != nil {
            guard let axes = try? node.ints("axes") else { return true }
            if axes.contains(where: isZero) { return true }
        }
        return false
    }
}
