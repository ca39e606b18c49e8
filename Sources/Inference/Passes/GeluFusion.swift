/// Folds GELU written out op by op — x · ½ · (1 + erf(x / √2)), as torch.onnx exports
/// `nn.GELU()` before opset 20 (ConvNeXt, vision transformers) — into one Gelu step
/// (`UnaryOp.gelu`, vectorized in Sources/CKernels/vmath.c): one pass over the tensor instead of
/// five (Div, Erf, Add, Mul, Mul), each of which read and wrote the MLP's 4×-wide hidden
/// tensor (ConvNeXt-T: 4.8 MB a block at 56×56).
///
/// Matched, with either operand order of each commutative step and only where every
/// intermediate tensor has no other reader and was not requested:
///   d = Div(x, √2) or Mul(x, 1/√2);  e = Erf(d);  p = Add(e, 1);  then
///   Mul(Mul(x, p), ½)  or  Mul(Mul(x, ½), p)
/// with scalar constants equal to √2, 1/√2, 1 and ½ within 1e-6 relative.
enum GeluFusion {
    static func run(_ program: inout Program) {
        program.rewriteUntilStable(fuse)
    }

    /// Fuses the chain around step `ei` (an Erf) into one Gelu step; true when it did.
    private static func fuse(_ program: inout Program, at ei: Int, counts: [String: Int]) -> Bool {
        let erf = program.steps[ei]
        guard erf.node.opType == "Erf", let d = erf.node.inputs.first, program.isPrivate(d, counts),
            let di = program.producer(of: d), let x = scaledInput(program.steps[di], program),
            let e = erf.node.outputs.first, program.isPrivate(e, counts),
            let ai = soleConsumer(of: e, program), program.steps[ai].node.opType == "Add",
            let one = otherOperand(program.steps[ai], e), isScalar(one, 1, program),
            let p = program.steps[ai].node.outputs.first, program.isPrivate(p, counts),
            let mi = soleConsumer(of: p, program), program.steps[mi].node.opType == "Mul",
            let q = otherOperand(program.steps[mi], p), let m = program.steps[mi].node.outputs.first
        else { return false }
        // The last step and the chain's other steps, by the two orders of the halving.
        let last: Int
        var others = [di, ei, ai]
        if q == x {
            // Mul(x, p), then Mul(·, ½).
            guard program.isPrivate(m, counts), let hi = soleConsumer(of: m, program), program.steps[hi].node.opType == "Mul",
                let half = otherOperand(program.steps[hi], m), isScalar(half, 0.5, program)
            else { return false }
            last = hi
            others.append(mi)
        } else {
            // Mul(x, ½) = q, then Mul(q, p).
            guard program.isPrivate(q, counts), let hi = program.producer(of: q), program.steps[hi].node.opType == "Mul",
                let half = otherOperand(program.steps[hi], x), half != x, isScalar(half, 0.5, program),
                program.steps[hi].node.inputs.contains(x)
            else { return false }
            last = mi
            others.append(hi)
        }
        var gelu = program.steps[last]
        gelu.node.opType = "Gelu"
        gelu.node.name = erf.node.name.isEmpty ? gelu.node.name : erf.node.name.replacingOccurrences(of: "Erf", with: "Gelu")
        gelu.node.inputs = [x]
        gelu.node.attributes = [:]
        gelu.op = UnaryOp(function: .gelu(tanh: false))
        program.steps[last] = gelu
        for index in others.sorted(by: >) { program.steps.remove(at: index) }
        return true
    }

    /// x of Div(x, √2) or Mul(x, 1/√2) (either order for Mul).
    private static func scaledInput(_ step: Program.Step, _ program: Program) -> String? {
        let inputs = step.node.inputs
        guard inputs.count == 2 else { return nil }
        switch step.node.opType {
        case "Div": return isScalar(inputs[1], 2.0.squareRoot(), program) ? inputs[0] : nil
        case "Mul":
            if isScalar(inputs[1], 0.5.squareRoot(), program) { return inputs[0] }
            if isScalar(inputs[0], 0.5.squareRoot(), program) { return inputs[1] }
            return nil
        default: return nil
        }
    }

    /// The one step reading `name`, if exactly one does.
    private static func soleConsumer(of name: String, _ program: Program) -> Int? {
        let readers = program.steps.indices.filter { program.steps[$0].node.inputs.contains(name) }
        return readers.count == 1 ? readers[0] : nil
    }

    /// The other input of a two-input step that reads `name` once.
    private static func otherOperand(_ step: Program.Step, _ name: String) -> String? {
        let inputs = step.node.inputs
        guard inputs.count == 2, inputs.filter({ $0 == name }).count == 1 else { return nil }
        return inputs[0] == name ? inputs[1] : inputs[0]
    }

    /// True when `name` is a one-element float constant equal to `value` within 1e-6 relative.
    private static func isScalar(_ name: String, _ value: Double, _ program: Program) -> Bool {
        guard let constant = program.values[name]?.constant, constant.dtype == .float, constant.count == 1,
            let v = constant.asFloats.first
        else { return false }
        return abs(Double(v) - value) <= 1e-6 * abs(value)
    }
}
