import ArgumentParser
import Foundation
import Inference

/// `cnncodes inspect MODEL`: the inputs, outputs and every tensor of an ONNX model with the
/// op that makes it and its shape, so a user can choose a layer to extract.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List the inputs, outputs and every tensor of an ONNX model with its op type and shape.",
        discussion: """
            Shapes are computed for the given input size and batch (symbolic dimensions are \
            filled in). Any tensor name listed can be passed to `forward --layer`.

            Example:
              cnncodes inspect ../shared/models/efficientnet_lite0.onnx --input-size 224
            """
    )

    @Argument(help: "The ONNX model file.")
    var model: String

    @Option(help: "Height and width of the input images (used for symbolic spatial dimensions).")
    var inputSize: Int = 224

    @Option(help: "Batch size (used for a symbolic batch dimension).")
    var batch: Int = 1

    func validate() throws {
        guard inputSize > 0 else { throw ValidationError("--input-size must be positive") }
        guard batch > 0 else { throw ValidationError("--batch must be positive") }
    }

    func run() throws {
        try ModelCommandError.naming(model) { try inspect() }
    }

    private func inspect() throws {
        let onnx = try ONNXModel(contentsOf: URL(fileURLWithPath: model))
        func text(_ shape: [Int?]) -> String { "[" + shape.map { $0.map(String.init) ?? "?" }.joined(separator: ", ") + "]" }
        print("model: \(model) (opset \(onnx.opset))")
        for input in onnx.inputs { print("input:  \(input.name) \(text(input.shape))") }
        for output in onnx.outputs { print("output: \(output.name) \(text(output.shape))") }
        let shape = onnx.inputShape(batch: batch, size: inputSize)
        let rows = try onnx.describe(inputShape: shape)
        print("tensors at input shape \(shape) (\(rows.count)):")
        let width = min(60, rows.map(\.name.count).max() ?? 10)
        for row in rows {
            let name = row.name.padding(toLength: max(width, row.name.count), withPad: " ", startingAt: 0)
            let op = row.opType.padding(toLength: 18, withPad: " ", startingAt: 0)
            print("  \(name)  \(op) \(row.shape)")
        }
    }
}

/// An engine error with the model file named in front (once), so the CLI's one-line message
/// always says which file failed.
struct ModelCommandError: Error, CustomStringConvertible {
    let description: String

    static func naming(_ path: String, _ body: () throws -> Void) throws {
        do { try body() } catch let error as InferenceError {
            let text = "\(error)"
            throw ModelCommandError(description: text.contains(path) ? text : "\(path): \(text)")
        }
    }
}
