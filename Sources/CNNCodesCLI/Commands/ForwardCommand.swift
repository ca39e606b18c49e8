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
            --seconds and prints images per second, then the work per image (2 x the \
            multiply-accumulates of every Conv, Gemm and MatMul, counted for the direct \
            algorithm) and the GFLOP/s achieved.

            --profile runs the same input for --seconds, timing every step of the plan, and \
            prints the time per kernel kind and the slowest steps with their GFLOP/s. A batch \
            that runs in lanes (single images, one lane per thread) is profiled on one lane: \
            one image on one core. On a busy machine, CNNCODES_PROFILE_CLOCK=thread times \
            steps by the thread's CPU clock instead of the wall clock (meaningful for \
            single-threaded steps: lanes or --threads 1).

            Examples:
              cnncodes forward model.onnx --input x.npy --layer /_avg_pooling/GlobalAveragePool_output_0 --output codes.npy
              cnncodes forward model.onnx --benchmark --batch 16 --seconds 10 --threads 2
              cnncodes forward model.onnx --profile --seconds 5 --threads 2
            """
    )

    @Argument(help: "The ONNX model file.")
    var model: String?

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

    @Flag(help: "Time every step of the plan on seeded random input and print where the time goes.")
    var profile = false

    @Option(help: "How many of the slowest steps --profile lists.")
    var profileSteps = 15

    @Option(help: "Batch size for --benchmark and --profile (ignored for models with a fixed batch).")
    var batch: Int = 1

    @Option(help: "Seconds to run --benchmark for.")
    var seconds: Double = 10

    /// The machine's reference figure for GFLOP/s percentages (hidden; benchmarks/forward).
    @Flag(help: .hidden)
    var sgemmPeak = false

    /// With --benchmark: take turns with a peer driven by benchmarks/turns.py instead of
    /// running for --seconds (hidden). Prints the flops and images-per-pass lines and `ready`,
    /// then for each line N
    /// read from stdin runs one untimed pass (warming the caches the peer's turn used) and N
    /// timed ones and prints their wall-clock seconds; an empty line or end of input ends it.
    @Flag(help: .hidden)
    var turns = false

    func validate() throws {
        guard threads > 0 else { throw ValidationError("--threads must be positive") }
        if sgemmPeak {
            guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
            return
        }
        guard model != nil else { throw ValidationError("Missing expected argument '<model>'") }
        if turns && (!benchmark || profile) { throw ValidationError("--turns goes with --benchmark (and not --profile)") }
        if benchmark || profile {
            guard batch > 0, seconds > 0 else { throw ValidationError("--batch and --seconds must be positive") }
            guard profileSteps > 0 else { throw ValidationError("--profile-steps must be positive") }
        } else {
            guard input != nil else { throw ValidationError("--input is required (or use --benchmark)") }
            guard output != nil else { throw ValidationError("--output is required") }
        }
    }

    func run() throws {
        if sgemmPeak { return BLAS.withThreads(threads, measureSgemmPeak) }
        guard let model else { return }
        try ModelCommandError.naming(model) { try forward(model) }
    }

    private func forward(_ model: String) throws {
        let onnx = try ONNXModel(contentsOf: URL(fileURLWithPath: model))
        if benchmark || profile { return try runBenchmark(onnx, model: model) }
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

    private func runBenchmark(_ onnx: ONNXModel, model: String) throws {
        let shape = onnx.inputShape(batch: batch)
        let count = shape.reduce(1, *)
        // Seeded standard-normal input (SplitMix64 + Box–Muller): the same numbers every run.
        var random = SeededGenerator(seed: 0x9E37_79B9_7F4A_7C15)
        var data = [Float](repeating: 0, count: count)
        for i in 0..<count {
            let (u, v) = (random.nextUnit(), random.nextUnit())
            data[i] = Float((-2 * Foundation.log(max(u, 1e-300))).squareRoot() * cos(2 * .pi * v))
        }
        let x = Tensor(shape: shape, data: data)
        let session = try InferenceSession(model: onnx, inputShape: shape, threads: threads)
        if profile { return try printProfile(session, x) }
        _ = try session.run(x)
        if turns { return try takeTurns(session, x) }
        var images = 0
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            _ = try session.run(x)
            images += shape[0]
        }
        let elapsed = Date().timeIntervalSince(start)
        let name = URL(fileURLWithPath: model).lastPathComponent
        let rate = Double(images) / elapsed
        print(String(format: "cnncodes %@ batch=%d threads=%d isa=%@: %.2f images/s", name, shape[0], threads, InstructionSet.name, rate))
        let flopsPerImage = Double(session.flopsPerRun) / Double(shape[0])
        print(String(format: "flops: %.3f GFLOP/image, %.1f GFLOP/s", flopsPerImage / 1e9, flopsPerImage * rate / 1e9))
    }

    /// `--turns`: passes on demand, timed, for a driver that alternates with a peer (see `turns`).
    private func takeTurns(_ session: InferenceSession, _ x: Tensor) throws {
        let images = x.shape[0]
        print(String(format: "flops: %.3f GFLOP/image", Double(session.flopsPerRun) / Double(images) / 1e9))
        print("images: \(images)")
        print("ready")
        fflush(stdout)
        while let line = readLine(), let passes = Int(line.trimmingCharacters(in: .whitespaces)), passes > 0 {
            _ = try session.run(x)
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<passes { _ = try session.run(x) }
            print(String(format: "%.9f", Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
            fflush(stdout)
        }
    }

    /// `--profile`: per kernel kind, then the `--profile-steps` slowest steps.
    private func printProfile(_ session: InferenceSession, _ x: Tensor) throws {
        let probe = try session.profile(x, passes: 1)
        let perPass = max(probe.reduce(0) { $0 + $1.seconds }, 1e-6)
        let steps = try session.profile(x, passes: max(3, Int(seconds / perPass)))
        let total = steps.reduce(0) { $0 + $1.seconds }
        let lanes = session.laneCount > 1 ? " (one lane of \(session.laneCount), single-threaded)" : ""
        print(String(format: "%.3f ms per pass of %d image(s)%@, %d steps", total * 1e3, session.imagesPerPass, lanes, steps.count))
        func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0) }
        func gflops(_ flops: Int, _ seconds: Double) -> String { flops > 0 ? String(format: "%7.1f", Double(flops) / seconds / 1e9) : "      -" }
        print("\nkind                              share    ms   GFLOP/s  steps")
        let kinds = Dictionary(grouping: steps) { "\($0.opType)/\($0.kernel)" }
        for (kind, group) in kinds.sorted(by: { $0.value.reduce(0) { $0 + $1.seconds } > $1.value.reduce(0) { $0 + $1.seconds } }) {
            let t = group.reduce(0) { $0 + $1.seconds }, f = group.reduce(0) { $0 + $1.flops }
            print(pad(kind, 32) + String(format: " %5.1f%% %6.3f %@ %6d", 100 * t / total, t * 1e3, gflops(f, t), group.count))
        }
        print("\n" + pad("\(min(profileSteps, steps.count)) slowest steps", 52) + "  share    ms   GFLOP/s  kernel")
        for step in steps.sorted(by: { $0.seconds > $1.seconds }).prefix(profileSteps) {
            print(
                pad(String(step.label.suffix(52)), 52)
                    + String(format: " %5.1f%% %6.3f %@  %@", 100 * step.seconds / total, step.seconds * 1e3, gflops(step.flops, step.seconds), step.kernel))
        }
    }

    /// OpenBLAS sgemm on 4096×4096 matrices (called under `BLAS.withThreads(threads)`), repeated
    /// for --seconds (at least 3 calls after a warm-up): the machine's attainable GFLOP/s, the
    /// yardstick the forward benchmark's GFLOP/s are compared with. Prints `sgemm-peak … kernels=K: X GFLOP/s`,
    /// K being OpenBLAS's kernel set (OpenBLASCore).
    private func measureSgemmPeak() {
        let n = 4096
        let a = (0..<(n * n)).map { Float(($0 * 7919) % 1000) / 1000 - 0.5 }
        let b = (0..<(n * n)).map { Float(($0 * 104_729) % 1000) / 1000 - 0.5 }
        var c = [Float](repeating: 0, count: n * n)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    func call() {
                        BLAS.sgemm(m: n, n: n, k: n, a: ap.baseAddress!, lda: n, b: bp.baseAddress!, ldb: n, c: cp.baseAddress!, ldc: n)
                    }
                    call()
                    var calls = 0
                    let start = Date()
                    while calls < 3 || Date().timeIntervalSince(start) < seconds {
                        call()
                        calls += 1
                    }
                    let elapsed = Date().timeIntervalSince(start)
                    let gflops = 2 * Double(n) * Double(n) * Double(n) * Double(calls) / elapsed / 1e9
                    print(String(format: "sgemm-peak %dx%dx%d threads=%d kernels=%@: %.1f GFLOP/s", n, n, n, threads, OpenBLASCore.current, gflops))
                }
            }
        }
    }
}
