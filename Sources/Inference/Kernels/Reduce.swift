/// ONNX `ReduceMean`, `ReduceSum`, `ReduceMax`, `ReduceMin`: axes as attribute (before
/// opset 18; 13 for ReduceSum) or input, keepdims (default 1), noop_with_empty_axes.
struct ReduceOp: Operator {
    enum Kind { case mean, sum, max, min }
    let node: Node
    let kind: Kind
    let keepDims: Bool

    init(node: Node) throws {
        self.node = node
        switch node.opType {
        case "ReduceMean": kind = .mean
        case "ReduceSum": kind = .sum
        case "ReduceMax": kind = .max
        case "ReduceMin": kind = .min
        default: throw OpError("not a reduction")
        }
        keepDims = try node.int("keepdims", default: 1) != 0
    }

    /// The reduced axes (sorted), all axes when none are given (unless noop_with_empty_axes).
    func axes(_ inputs: [ValueInfo?], rank: Int) throws -> [Int] {
        let inputForm = node.opType == "ReduceSum" ? node.opset >= 13 : node.opset >= 18
        var given: [Int]?
        if inputForm {
            if inputs.count > 1, inputs[1] != nil { given = try constantInput(inputs, 1, "axes").asInt }
        } else {
            given = try node.ints("axes")
        }
        guard let axes = given, !axes.isEmpty else {
            if try node.int("noop_with_empty_axes", default: 0) != 0 { return [] }
            return Array(0..<rank)
        }
        return Array(Set(try axes.map { try normalizedAxis($0, rank: rank) })).sorted()
    }

    func infer(_ inputs: [ValueInfo?]) throws -> [ValueInfo] {
        let x = try required(inputs, 0, "data")
        let a = Set(try axes(inputs, rank: x.shape.count))
        let shape = x.shape.enumerated().compactMap { i, d -> Int? in a.contains(i) ? (keepDims ? 1 : nil) : d }
        return [ValueInfo(shape: shape, dtype: x.dtype)]
    }

    func evaluate(_ inputs: [HostTensor?]) throws -> [HostTensor] {
        let x = try required(inputs, 0, "data")
        let infos = inputs.map { $0.map { ValueInfo(constant: $0) } }
        let a = Set(try axes(infos, rank: x.shape.count))
        let outShape = try infer(infos)[0].shape
        let keptShape = x.shape.enumerated().map { a.contains($0.offset) ? 1 : $0.element }
        // Each input element adds into the output element with the reduced coordinates zeroed.
        let target = try Broadcast.sourceIndex(from: keptShape, to: x.shape)
        let count = keptShape.reduce(1, *)
        let values = x.asFloats
        var acc = [Float](repeating: kind == .max ? -.infinity : (kind == .min ? .infinity : 0), count: count)
        for (i, t) in target.enumerated() {
            switch kind {
            case .mean, .sum: acc[t] += values[i]
            case .max: acc[t] = max(acc[t], values[i])
            case .min: acc[t] = min(acc[t], values[i])
            }
        }
        if kind == .mean {
            let n = Float(max(1, x.count / max(count, 1)))
            acc = acc.map { $0 / n }
        }
        return [HostTensor(shape: outShape, floats: acc)]
    }
}
