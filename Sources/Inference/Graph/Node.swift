/// One attribute value of a node, as ONNX stores it.
enum Attribute {
    case int(Int64)
    case float(Float)
    case string(String)
    case ints([Int64])
    case floats([Float])
    case tensor(HostTensor)
    case other(String)
}

/// A node of the graph IR: an operator applied to named tensors. Empty input names mean
/// "optional input not given" (ONNX convention).
struct Node {
    var name: String
    var opType: String
    var domain: String
    var inputs: [String]
    var outputs: [String]
    var attributes: [String: Attribute]
    /// Opset version of the node's domain in the model (decides e.g. Softmax axis rules).
    var opset: Int

    /// A name for messages: the node's name, or its first output when unnamed.
    var label: String { name.isEmpty ? (outputs.first ?? opType) : name }

    func int(_ key: String, default value: Int) throws -> Int {
        guard let attribute = attributes[key] else { return value }
        guard case let .int(v) = attribute else { throw OpError("attribute '\(key)' must be an int") }
        return Int(clamping: v)
    }

    func float(_ key: String, default value: Float) throws -> Float {
        guard let attribute = attributes[key] else { return value }
        switch attribute {
        case let .float(v): return v
        case let .int(v): return Float(v)
        default: throw OpError("attribute '\(key)' must be a float")
        }
    }

    func ints(_ key: String) throws -> [Int]? {
        guard let attribute = attributes[key] else { return nil }
        switch attribute {
        case let .ints(v): return v.map { Int(clamping: $0) }
        case let .int(v): return [Int(clamping: v)]
        default: throw OpError("attribute '\(key)' must be a list of ints")
        }
    }

    func string(_ key: String, default value: String) throws -> String {
        guard let attribute = attributes[key] else { return value }
        guard case let .string(v) = attribute else { throw OpError("attribute '\(key)' must be a string") }
        return v
    }
}

/// The graph IR: nodes in file order plus named constants (initializers) and the input/output
/// declarations. Shapes are symbolic (`nil` = named/unknown dimension) until a session fixes
/// the input shape.
struct Graph {
    var nodes: [Node]
    var initializers: [String: HostTensor]
    /// Real inputs (graph inputs without an initializer), with their declared shapes.
    var inputs: [(name: String, shape: [Int?])]
    var outputs: [(name: String, shape: [Int?])]
}
