import Foundation
import ONNXProto
import SwiftProtobuf

/// An ONNX model loaded into the graph IR. Parsing checks the file and collects every
/// unsupported operator in one error; shapes are fixed later, per session
/// (`InferenceSession`) or per `describe(inputShape:)`.
public final class ONNXModel {
    /// The file the model came from (for messages).
    public let path: String
    let graph: Graph
    /// Default-domain opset version of the model.
    public let opset: Int

    /// The newest default-domain opset whose operator semantics the engine implements (ONNX
    /// 1.17). Newer opsets may change an operator's meaning, so they are refused rather than
    /// risking a silent wrong answer.
    public static let newestOpset = 22

    /// Graph inputs that are not initializers (the data inputs), `nil` for symbolic dimensions.
    public var inputs: [(name: String, shape: [Int?])] { graph.inputs }
    /// Graph outputs with declared shapes, `nil` for symbolic dimensions.
    public var outputs: [(name: String, shape: [Int?])] { graph.outputs }

    /// Loads and validates an ONNX file; external data files are read from beside it.
    public convenience init(contentsOf url: URL) throws {
        let bytes: Data
        do { bytes = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw InferenceError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        let proto: Onnx_ModelProto
        do { proto = try Onnx_ModelProto(serializedBytes: bytes) } catch {
            throw InferenceError.malformed(path: url.path, reason: "protobuf decoding failed (\(error)); is the file truncated?")
        }
        guard proto.hasGraph, !proto.graph.node.isEmpty else {
            throw InferenceError.malformed(path: url.path, reason: "the model has no graph nodes")
        }
        try self.init(proto: proto, path: url.path, directory: url.deletingLastPathComponent())
    }

    /// Loads a model from serialized bytes (tests, in-memory models).
    public convenience init(data: Data, name: String = "<memory>") throws {
        let proto: Onnx_ModelProto
        do { proto = try Onnx_ModelProto(serializedBytes: data) } catch {
            throw InferenceError.malformed(path: name, reason: "protobuf decoding failed (\(error)); is the file truncated?")
        }
        guard proto.hasGraph, !proto.graph.node.isEmpty else {
            throw InferenceError.malformed(path: name, reason: "the model has no graph nodes")
        }
        try self.init(proto: proto, path: name, directory: nil)
    }

    private init(proto: Onnx_ModelProto, path: String, directory: URL?) throws {
        self.path = path
        var opsets: [String: Int] = [:]
        for entry in proto.opsetImport { opsets[entry.domain == "ai.onnx" ? "" : entry.domain] = Int(entry.version) }
        if opsets[""] == nil { opsets[""] = 1 }
        opset = opsets[""] ?? 1
        guard opset <= ONNXModel.newestOpset else {
            throw InferenceError.unsupportedOpset(version: opset, newest: ONNXModel.newestOpset)
        }
        let g = proto.graph

        var initializers: [String: HostTensor] = [:]
        for tensor in g.initializer {
            initializers[tensor.name] = try HostTensor(proto: tensor, directory: directory)
        }
        var nodes: [Node] = []
        nodes.reserveCapacity(g.node.count)
        for (index, n) in g.node.enumerated() {
            var attributes: [String: Attribute] = [:]
            for a in n.attribute {
                attributes[a.name] = try Attribute(proto: a, directory: directory)
            }
            let domain = n.domain == "ai.onnx" ? "" : n.domain
            nodes.append(Node(
                name: n.name.isEmpty ? "\(n.opType)_\(index)" : n.name, opType: n.opType, domain: domain,
                inputs: n.input, outputs: n.output, attributes: attributes, opset: opsets[domain] ?? 1))
        }
        func shape(_ info: Onnx_ValueInfoProto) -> [Int?] {
            info.type.tensorType.shape.dim.map { d -> Int? in
                if case let .dimValue(v)? = d.value, v > 0 { return Int(v) }
                return nil
            }
        }
        let inputs = g.input.filter { initializers[$0.name] == nil }.map { (name: $0.name, shape: shape($0)) }
        let outputs = g.output.map { (name: $0.name, shape: shape($0)) }
        graph = Graph(nodes: nodes, initializers: initializers, inputs: inputs, outputs: outputs)

        // Every operator must be known, every consumed tensor produced: report all at once.
        var unknown: [String] = []
        for node in nodes where OperatorRegistry.builder(for: node) == nil {
            let domain = node.domain.isEmpty ? "" : "\(node.domain)."
            unknown.append("\(domain)\(node.opType) (opset \(node.opset)) at node '\(node.label)'")
        }
        if !unknown.isEmpty { throw InferenceError.unsupportedOperators(unknown) }
        var produced = Set(initializers.keys).union(inputs.map(\.name))
        for node in nodes {
            for input in node.inputs where !input.isEmpty && !produced.contains(input) {
                throw InferenceError.missingTensor(name: input, node: node.label)
            }
            produced.formUnion(node.outputs)
        }
        guard inputs.count == 1 else {
            throw InferenceError.malformed(
                path: path, reason: "expected one data input, found \(inputs.count): \(inputs.map(\.name))")
        }
    }

    /// The full input shape for `size`×`size` images and `batch` images: the declared shape with
    /// symbolic dimensions filled (batch first, then spatial ones with `size`).
    public func inputShape(batch: Int, size: Int? = nil) -> [Int] {
        guard let declared = inputs.first?.shape else { return [] }
        return declared.enumerated().map { index, dim in
            if index == 0 { return dim ?? batch }
            return dim ?? size ?? 224
        }
    }

    /// Every tensor of the graph with the op that makes it and its shape at `inputShape`
    /// (graph input first, then node outputs in graph order; constants included), for `inspect`.
    public func describe(inputShape: [Int]) throws -> [(name: String, opType: String, shape: [Int])] {
        let analysis = try ShapeAnalysis(graph: graph, inputShape: inputShape, evaluateConstants: true)
        var rows: [(name: String, opType: String, shape: [Int])] = []
        if let input = graph.inputs.first { rows.append((input.name, "Input", inputShape)) }
        for node in graph.nodes {
            for output in node.outputs where !output.isEmpty {
                if let info = analysis.values[output] { rows.append((output, node.opType, info.shape)) }
            }
        }
        return rows
    }
}
