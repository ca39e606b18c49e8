/// ONNX operator name → builder, one registry for the default domain. An op missing here is
/// reported by `ONNXModel` together with every other missing one.
enum OperatorRegistry {
    typealias Builder = (Node) throws -> Operator

    static let builders: [String: Builder] = {
        var b: [String: Builder] = [:]
        b["Conv"] = { try ConvOp(node: $0) }
        b["MaxPool"] = { try PoolOp(node: $0, kind: .max) }
        b["AveragePool"] = { try PoolOp(node: $0, kind: .average) }
        b["GlobalAveragePool"] = { _ in GlobalPoolOp(kind: .average) }
        b["GlobalMaxPool"] = { _ in GlobalPoolOp(kind: .max) }
        b["Gemm"] = { try GemmOp(node: $0) }
        b["MatMul"] = { _ in MatMulOp() }
        for name in ["Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Exp", "Log", "Sqrt",
            "Neg", "Abs", "Reciprocal", "Floor", "Ceil", "Softplus", "Elu", "Erf", "Gelu", "Selu", "Softsign", "Sign", "Mish",
            "ThresholdedRelu"]
        {
            b[name] = { try UnaryOp(node: $0) }
        }
        for name in ["Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "PRelu"] { b[name] = { try BinaryOp(node: $0) } }
        b["BatchNormalization"] = { try BatchNormOp(node: $0) }
        b["LRN"] = { try LRNOp(node: $0) }
        b["LayerNormalization"] = { try LayerNormOp(node: $0) }
        b["InstanceNormalization"] = { try InstanceNormOp(node: $0) }
        b["Softmax"] = { try SoftmaxOp(node: $0) }
        b["LogSoftmax"] = { try SoftmaxOp(node: $0) }
        for name in ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin"] { b[name] = { try ReduceOp(node: $0) } }
        for name in ["Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"] { b[name] = { try ViewOp(node: $0) } }
        b["Transpose"] = { try TransposeOp(node: $0) }
        b["Slice"] = { try SliceOp(node: $0) }
        b["Gather"] = { try GatherOp(node: $0) }
        b["Pad"] = { try PadOp(node: $0) }
        b["Split"] = { try SplitOp(node: $0) }
        b["Expand"] = { _ in ExpandOp() }
        b["Concat"] = { try ConcatOp(node: $0) }
        b["Shape"] = { try ShapeOp(node: $0) }
        b["Size"] = { _ in SizeOp() }
        b["Cast"] = { try CastOp(node: $0) }
        b["Constant"] = { try ConstantOp(node: $0) }
        b["ConstantOfShape"] = { try ConstantOfShapeOp(node: $0) }
        return b
    }()

    /// The builder for a node's operator, nil when unsupported (only the default ONNX domain).
    static func builder(for node: Node) -> Builder? {
        guard node.domain.isEmpty else { return nil }
        return builders[node.opType]
    }

    /// Every supported operator name, sorted (for docs and `inspect`).
    static var supportedOperators: [String] { builders.keys.sorted() }
}
