@testable import Inference
import Tensor
import XCTest

/// The fused convolution + max pooling (ConvMaxPoolKernel) against the plain convolution
/// (`ConvReference`), its activation and PoolOp's own evaluation, band by band — and the stem
/// kernel (StemMaxPoolKernel, row by row) against the same.
final class ConvMaxPoolKernelTests: XCTestCase, SeededKernelTest {
    var randomState: UInt64 = 4242

    func node(_ opType: String, _ attributes: [String: Attribute]) -> Node {
        Node(name: "t", opType: opType, domain: "", inputs: ["x", "w", "b"], outputs: ["y"], attributes: attributes, opset: 13)
    }

    /// Bands of 1, 2 and 3 pooled rows (many seams, rows carried from band to band, a last
    /// band cut short) and the default size, on one and two threads (pooled rows split, or
    /// whole images at batch 2), with padding and ceil_mode reaching past the plane, against
    /// the unfused result to float rounding. The scratch starts as NaN, so a row pooled before
    /// it was computed shows.
    func testBandsMatchConvolutionThenPooling() throws {
        let cases: [(input: [Int], weights: [Int], conv: [String: Attribute], pool: [String: Attribute], act: Activation)] = [
            // SqueezeNet's stem in small: 3×3 stride 2, pool 3×3 stride 2 (one row shared by bands).
            ([1, 3, 47, 45], [16, 3, 3, 3], ["strides": .ints([2, 2])], ["kernel_shape": .ints([3, 3]), "strides": .ints([2, 2])], .relu),
            // ResNet-50's: 7×7 stride 2 pads 3, pool 3×3 stride 2 pads 1, here with ceil_mode.
            ([2, 3, 30, 33], [16, 3, 7, 7], ["strides": .ints([2, 2]), "pads": .ints([3, 3, 3, 3])],
             ["kernel_shape": .ints([3, 3]), "strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1]), "ceil_mode": .int(1)], .relu),
            // A 2×2 pool (bands share no rows), odd plane (its last row is never pooled), no Relu.
            ([1, 5, 21, 19], [13, 5, 5, 5], [:], ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2])], .none),
            // A 3×2 window with strides 3 × 2 and asymmetric padding; Clip.
            ([1, 4, 40, 29], [32, 4, 3, 3], ["pads": .ints([1, 1, 1, 1])],
             ["kernel_shape": .ints([3, 2]), "strides": .ints([3, 2]), "pads": .ints([2, 0, 1, 1])], .clip(min: 0, max: 0.5)),
            // Horizontal stride 3: ck_max_pool's −∞-padded plane path (not the rows), whose
            // plane each band's bottom padding sizes; ceil_mode windows past the end.
            ([1, 3, 37, 38], [80, 3, 3, 3], ["strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1])],
             ["kernel_shape": .ints([3, 3]), "strides": .ints([3, 3]), "pads": .ints([0, 1, 1, 0]), "ceil_mode": .int(1)], .relu),
        ]
        for threads in [1, 2] {
            Parallel.threads = threads
            defer { Parallel.threads = 1 }
            for (input, weights, convAttributes, poolAttributes, activation) in cases {
                var op = try ConvOp(node: node("Conv", convAttributes))
                op.activation = activation
                let g = try op.geometry(input: input, weights: weights)
                let pool = try PoolOp(node: node("MaxPool", poolAttributes), kind: .max)
                let window = try pool.window(g.outputShape)
                guard ConvMaxPoolKernel.applies(conv: g, pool: window) else {
                    throw XCTSkip("ConvMaxPoolKernel needs the packed GEMM (AVX2+FMA); this CPU does not run it")
                }
                let c = randomConvCase(g, input: input, weights: weights)
                let convolved = HostTensor(shape: g.outputShape, floats: activation.applied(to: c.reference))
                let expected = try pool.evaluate([convolved])[0].asFloats
                let tolerance = 1e-4 * max(1, Float(g.patchSize) / 64)
                let described = "conv \(input) \(weights) \(convAttributes) pool \(poolAttributes) threads \(threads)"
                for band in [1, 2, 3, nil] {
                    let kernel = ConvMaxPoolKernel(
                        geometry: g, weights: c.w, bias: c.b, activation: activation, pool: window, bandPooledRows: band)
                    let y = kernel.output(inputs: [c.x, nil, nil], outputCount: expected.count)
                    XCTAssertLessThan(maxAbsDifference(y, expected), tolerance, "\(described) band \(band.map(String.init) ?? "default")")
                }
                // The stem kernel (AVX-512 only; output channels in the lanes, 16 at a time: every
                // case but the 13-channel one): the same values, and at two threads bit for bit the same
                // wherever the learned cut between them lies.
                let taken = StemMaxPoolKernel(geometry: g, weights: c.w, bias: c.b, activation: activation, pool: window)
                XCTAssertEqual(taken != nil, InstructionSet.hasAVX512 && g.outChannels % 16 == 0, described)
                guard let stem = taken else { continue }
                let y = stem.output(inputs: [c.x, nil, nil], outputCount: expected.count)
                XCTAssertLessThan(maxAbsDifference(y, expected), tolerance, "\(described) stem")
                if threads == 2 && g.batch == 1 {
                    assertSameOutputAtEitherCut(stem, stem.balance, inputs: [c.x, nil, nil], output: y, "\(described) stem")
                }
            }
        }
    }

    /// The load-time pass merges Conv → Relu → MaxPool into one step where the kernel runs
    /// (and leaves both otherwise); a requested convolution output keeps the steps apart. The
    /// values are checked against ONNX Runtime in OperatorTests (same fixtures).
    func testFusionMergesTheSteps() throws {
        let dir = OperatorTests.directory
        let model = try ONNXModel(contentsOf: dir.appendingPathComponent("conv_relu_maxpool.onnx"))
        let fused = try InferenceSession(model: model, inputShape: [1, 3, 47, 45], threads: 2)
        let probe = try ConvOp(node: node("Conv", ["strides": .ints([2, 2])])).geometry(input: [1, 3, 47, 45], weights: [16, 3, 3, 3])
        let window = try PoolOp(node: node("MaxPool", ["kernel_shape": .ints([3, 3]), "strides": .ints([2, 2])]), kind: .max)
            .window(probe.outputShape)
        let runs = ConvMaxPoolKernel.applies(conv: probe, pool: window)
        XCTAssertEqual(fused.executedOpTypes, runs ? ["Conv"] : ["Conv", "MaxPool"])
        let apart = try InferenceSession(model: model, outputs: ["y", "r"], inputShape: [1, 3, 47, 45], threads: 2)
        XCTAssertEqual(apart.executedOpTypes, ["Conv", "MaxPool"])
        let x = Tensor(shape: [1, 3, 47, 45], data: randoms(3 * 47 * 45))
        let a = try XCTUnwrap(try fused.run(x)["y"]), b = try XCTUnwrap(try apart.run(x)["y"])
        XCTAssertEqual(a.shape, [1, 16, 11, 10])
        XCTAssertLessThan(maxAbsDifference(a.data, b.data), 1e-5)
    }
}
