/// Shape inference and constant folding over a topologically sorted node list once the input
/// shape is fixed: every tensor gets a shape and dtype; every node whose inputs are all
/// constant (weights made by `ConstantOfShape`, PyTorch's padding arithmetic from `Shape`,
/// `Gather`, `Slice`, `Concat`, `Cast`) is evaluated once here and becomes a constant.
struct ShapeAnalysis {
    /// Every tensor seen so far: initializers, the input, node outputs.
    var values: [String: ValueInfo] = [:]
    /// The operator built for each node of `nodes`, same order.
    var ops: [Operator] = []
    let nodes: [Node]

    init(graph: Graph, inputShape: [Int], evaluateConstants: Bool, nodes: [Node]? = nil) throws {
        self.nodes = nodes ?? graph.nodes
        for (name, tensor) in graph.initializers { values[name] = ValueInfo(constant: tensor) }
        guard let input = graph.inputs.first else {
            throw InferenceError.malformed(path: "<graph>", reason: "no data input")
        }
        let declared = "[" + input.shape.map { $0.map(String.init) ?? "?" }.joined(separator: ", ") + "]"
        guard inputShape.count == input.shape.count, inputShape.allSatisfy({ $0 > 0 }),
            zip(input.shape, inputShape).allSatisfy({ $0.0 == nil || $0.0 == $0.1 })
        else { throw InferenceError.invalidInputShape(input: input.name, declared: declared, requested: inputShape) }
        values[input.name] = ValueInfo(shape: inputShape)

        ops.reserveCapacity(self.nodes.count)
        for node in self.nodes {
            guard let builder = OperatorRegistry.builder(for: node) else {
                throw InferenceError.unsupportedOperators(["\(node.opType) (opset \(node.opset)) at node '\(node.label)'"])
            }
            do {
                let op = try builder(node)
                ops.append(op)
                var infos: [ValueInfo?] = []
                for name in node.inputs {
                    if name.isEmpty { infos.append(nil); continue }
                    guard let info = values[name] else { throw InferenceError.missingTensor(name: name, node: node.label) }
                    infos.append(info)
                }
                let allConstant = infos.allSatisfy { $0 == nil || $0?.constant != nil }
                if evaluateConstants && allConstant {
                    let results = try op.evaluate(infos.map { $0?.constant })
                    for (name, value) in zip(node.outputs, results) where !name.isEmpty {
                        values[name] = ValueInfo(constant: value)
                    }
                } else if let known = try op.shapeOnlyOutputs(infos) {
                    for (name, value) in zip(node.outputs, known) where !name.isEmpty {
                        values[name] = ValueInfo(constant: value)
                    }
                } else {
                    let results = try op.infer(infos)
                    for (name, info) in zip(node.outputs, results) where !name.isEmpty {
                        // Kernels assume non-empty buffers; a zero extent at run time is refused here.
                        guard info.shape.allSatisfy({ $0 > 0 }) else {
                            throw OpError("output '\(name)' would be empty (shape \(info.shape)); empty tensors are not supported at run time")
                        }
                        values[name] = info
                    }
                }
            } catch let error as OpError {
                throw InferenceError.invalidNode(node: node.label, op: node.opType, reason: error.reason)
            }
        }
    }
}

extension Graph {
    /// The nodes needed to compute `outputs`, in an order where producers come first
    /// (dead-node pruning: an early layer costs only the layers before it).
    func nodesNeeded(for outputs: [String]) throws -> [Node] {
        var producer: [String: Int] = [:]
        for (index, node) in nodes.enumerated() { for o in node.outputs where !o.isEmpty { producer[o] = index } }
        let known = Set(initializers.keys).union(inputs.map(\.name))
        var needed = Set<Int>()
        var stack: [String] = []
        for name in outputs {
            guard producer[name] != nil || known.contains(name) else { throw InferenceError.unknownTensor(name: name) }
            stack.append(name)
        }
        var seen = Set<String>()
        while let name = stack.popLast() {
            guard seen.insert(name).inserted, let index = producer[name] else { continue }
            if needed.insert(index).inserted { stack.append(contentsOf: nodes[index].inputs.filter { !$0.isEmpty }) }
        }
        // Kahn's algorithm over the needed nodes, ties in file order.
        let order = needed.sorted()
        var indegree: [Int: Int] = [:]
        var consumers: [Int: [Int]] = [:]
        for index in order {
            let deps = Set(nodes[index].inputs.compactMap { producer[$0] }.filter { needed.contains($0) && $0 != index })
            indegree[index] = deps.count
            for d in deps { consumers[d, default: []].append(index) }
        }
        var ready = order.filter { indegree[$0] == 0 }
        var result: [Node] = []
        var cursor = 0
        while cursor < ready.count {
            let index = ready[cursor]; cursor += 1
            result.append(nodes[index])
            for c in consumers[index] ?? [] {
                indegree[c, default: 0] -= 1
                if indegree[c] == 0 { ready.append(c) }
            }
        }
        guard result.count == order.count else {
            throw InferenceError.malformed(path: "<graph>", reason: "the graph has a cycle")
        }
        return result
    }
}
