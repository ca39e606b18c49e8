import ArgumentParser
import Foundation
import Inference
import Tensor

/// `cnncodes forward MODEL`: runs the network on an .npy batch and writes named tensors as
/// .npy, or measures throughput on seeded random input with `--benchmark`.
struct ForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Run an ONNX model on an .npy batch and write the named tensors as .npy files.",
        discussion: """
            With one --layer, the tensor is written to --output. With several, one file per \
            layer is written beside --output, named OUTPUT-STEM.LAYER.npy (characters other \
            than letters, digits, '-', '_' and '.' in the layer name become '_'). Without \
            --layer the model's first output is written.

            --benchmark runs the model repeatedly on seeded random input of --batch images for \
            --seconds and prints images per second.

            Examples:
              cnncodes forward model.onnx --input x.npy --layer /_avg_pooling/GlobalAveragePool_output_0 --output codes.npy
              cnncodes forward model.onnx --benchmark --batch 16 --seconds 10 --threads 2
            """
    )

    @Argument(help: "The ONNX model file.")
    var model: String

    @Option(help: "Input batch as .npy (float32, the model's input layout).")
    var input: String?

    @Option(name: .customLong("layer"), help: "A tensor to write (repeatable; see `cnncodes inspect`).")
    var layers: [String] = []

    @Option(help: "Output .npy file.")
    var output: String?

    @Option(help: "Threads for the forward pass.")
    var threads: Int = 2

    @Flag(help: "Measure images per second on seeded random input instead.")
    var benchmark = false

    @Option(help: "Batch size for --benchmark (ignored for models with a fixed batch).")
    var batch: Int = 1

    @Option(help: "Seconds to run --benchmark for.")
    var seconds: Double = 10

    func validate() throws {
        guard threads > 0 else { throw ValidationError("--threads must be positive") }
        if benchmark {
            guard batch > 0, seconds > 0 else { throw ValidationError("--batch and --seconds must be positive") }
        } else {
            guard input != nil else { throw ValidationError("--input is required (or use --benchmark)") }
            guard output != nil else { throw ValidationError("--output is required") }
        }
    }

    func run() throws {
        try ModelCommandError.naming(model) { try forward() }
    }

    private func forward() throws {
        let onnx = try ONNXModel(contentsOf: URL(fileURLWithPath: model))
        if benchmark { return try runBenchmark(onnx) }
        guard let input, let output else { return }
        let x = try NPY.read(URL(fileURLWithPath: input))
        let names = layers.isEmpty ? [onnx.outputs.first?.name ?? ""] : layers
        let session = try InferenceSession(model: onnx, outputs: names, inputShape: x.shape, threads: threads)
        let results = try session.run(x)
        let outURL = URL(fileURLWithPath: output)
        for name in names {
            guard let tensor = results[name] else { throw InferenceError.unknownTensor(name: name) }
            let url = names.count == 1 ? outURL : ForwardCommand.fileURL(for: name, beside: outURL)
            try NPY.write(tensor, to: url)
            print("\(name) \(tensor.shape) -> \(url.path)")
        }
    }

    /// OUTPUT-STEM.LAYER.npy beside `output`, with the layer name made file-safe.
    static func fileURL(for layer: String, beside output: URL) -> URL {
        let safe = String(layer.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" })
        let stem = output.deletingPathExtension().lastPathComponent
        return output.deletingLastPathComponent().appendingPathComponent("\(stem).\(safe).npy")
    }

    private func runBenchmark(_ onnx: ONNXModel) throws {
        let shape = onnx.inputShape(batch: batch)
        let count = shape.reduce(1, *)
        // Seeded standard-normal input (SplitMix64 + Box–Muller): the same numbers every run.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
        }
        var data = [Float](repeating: 0, count: count)
        for i in 0..<count { data[i] = Float((-2 * Foundation.log(max(next(), 1e-300))).squareRoot() * cos(2 * .pi * next())) }
        let x = Tensor(shape: shape, data: data)
        let session = try InferenceSession(model: onnx, inputShape: shape, threads: threads)
        _ = try session.run(x)
        var images = 0
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            _ = try session.run(x)
            images += shape[0]
        }
        let elapsed = Date().timeIntervalSince(start)
        let name = URL(fileURLWithPath: model).lastPathComponent
        print(String(format: "cnncodes %@ batch=%d threads=%d isa=%@: %.2f images/s", name, shape[0], threads, InstructionSet.name, Double(images) / elapsed))
    }
}
