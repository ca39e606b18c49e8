import Foundation

/// Everything that can go wrong loading or running an ONNX model. Each case names the file,
/// node, operator or tensor involved, so the CLI can print it as one clear line.
public enum InferenceError: Error, CustomStringConvertible, Equatable {
    /// The file could not be read at all.
    case unreadable(path: String, reason: String)
    /// The bytes are not a valid ONNX protobuf (e.g. a truncated file).
    case malformed(path: String, reason: String)
    /// Operators the engine does not implement, all of them at once: "op (opset N) at node 'name'".
    case unsupportedOperators([String])
    /// The model imports a default-domain opset newer than the engine implements.
    case unsupportedOpset(version: Int, newest: Int)
    /// A tensor element type (ONNX data type number) the engine cannot hold.
    case unsupportedDataType(tensor: String, dataType: Int)
    /// A node consumes a tensor nothing produces (no initializer, input or node output).
    case missingTensor(name: String, node: String)
    /// A node's attributes or input shapes are invalid for its operator.
    case invalidNode(node: String, op: String, reason: String)
    /// The requested output is not a tensor of this graph.
    case unknownTensor(name: String)
    /// The input given to `run` does not match the shape the session was planned for.
    case inputShapeMismatch(expected: [Int], got: [Int])
    /// The requested input shape does not fit the model's declared input.
    case invalidInputShape(input: String, declared: String, requested: [Int])
    /// External tensor data could not be loaded.
    case externalData(tensor: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): cannot read ONNX model: \(reason)"
        case let .malformed(path, reason): return "\(path): not a valid ONNX model: \(reason)"
        case let .unsupportedOperators(list):
            return "unsupported operators (\(list.count)): " + list.joined(separator: "; ")
        case let .unsupportedOpset(version, newest):
            return "the model uses ONNX opset \(version); the engine implements opsets up to \(newest)"
        case let .unsupportedDataType(tensor, dataType):
            return "tensor '\(tensor)': unsupported ONNX data type \(dataType)"
        case let .missingTensor(name, node):
            return "node '\(node)' reads tensor '\(name)', which no initializer, graph input or node produces"
        case let .invalidNode(node, op, reason): return "building node '\(node)' (\(op)): \(reason)"
        case let .unknownTensor(name): return "no tensor named '\(name)' in the model (see `cnncodes inspect`)"
        case let .inputShapeMismatch(expected, got):
            return "input has shape \(got), the session was planned for \(expected)"
        case let .invalidInputShape(input, declared, requested):
            return "input '\(input)' is declared \(declared); cannot run it at \(requested)"
        case let .externalData(tensor, reason): return "tensor '\(tensor)': external data: \(reason)"
        }
    }
}

/// A failure inside one operator, without the node context; the planner wraps it into
/// `InferenceError.invalidNode` naming the node and op.
struct OpError: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
