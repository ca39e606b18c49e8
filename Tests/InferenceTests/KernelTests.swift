@testable import Inference
import XCTest

/// Fast kernels against the plain reference implementations on random geometries.
final class KernelTests: XCTestCase, SeededKernelTest {
    var randomState: UInt64 = 12345

    func node(_ attributes: [String: Attribute]) -> Node {
        Node(name: "t", opType: "Conv", domain: "", inputs: ["x", "w", "b"], outputs: ["y"], attributes: attributes, opset: 13)
    }

    /// Every conv path (pointwise, depthwise, im2col in one or several row bands, groups)
    /// equals `ConvReference` to float rounding.
    func testConvKernelMatchesReference() throws {
        let cases: [(input: [Int], weights: [Int], attributes: [String: Attribute])] = [
            ([2, 8, 9, 7], [6, 8, 1, 1], [:]),
            ([2, 6, 10, 9], [6, 1, 3, 3], ["group": .int(6), "pads": .ints([1, 1, 1, 1])]),
            ([1, 5, 11, 12], [5, 1, 5, 5], ["group": .int(5), "strides": .ints([2, 2]), "pads": .ints([2, 1, 2, 3])]),
            ([1, 4, 12, 13], [4, 1, 3, 3], ["group": .int(4), "dilations": .ints([2, 3]), "pads": .ints([2, 3, 2, 3])]),
            ([2, 3, 15, 14], [4, 3, 3, 3], ["strides": .ints([2, 1]), "pads": .ints([0, 1, 2, 1])]),
            ([1, 4, 9, 9], [6, 2, 3, 2], ["group": .int(2), "auto_pad": .string("SAME_LOWER")]),
            ([1, 3, 8, 8], [2, 3, 1, 1], ["strides": .ints([2, 2])]),
            // im2col on the packed kernel: M not a multiple of 6, N not of 16, K = 261 and 396
            // (two and three k-blocks), a 2-image batch, an output wide enough to split.
            ([1, 29, 9, 10], [7, 29, 3, 3], ["pads": .ints([1, 1, 1, 1])]),
            ([2, 44, 6, 7], [13, 44, 3, 3], ["strides": .ints([1, 2])]),
            ([1, 16, 40, 40], [50, 16, 3, 3], ["pads": .ints([1, 1, 1, 1]), "strides": .ints([2, 2])]),
            ([1, 8, 40, 40], [10, 8, 3, 3], ["pads": .ints([1, 1, 1, 1])]),  // 10 output channels, pixel ranges
            // Two threads: a 7×7 output too small for pixel ranges (one band shared, its GEMM
            // split by output-channel panels), and two groups in pixel ranges.
            ([1, 64, 14, 14], [48, 64, 3, 3], ["pads": .ints([1, 1, 1, 1]), "strides": .ints([2, 2])]),
            ([1, 32, 24, 24], [64, 16, 3, 3], ["pads": .ints([1, 1, 1, 1]), "group": .int(2)]),
            // 96 channels over 144 pixels: the implicit GEMM splits channels, not pixels.
            ([1, 16, 12, 12], [96, 16, 3, 3], ["pads": .ints([1, 1, 1, 1])]),
        ]
        let activations: [Activation] = [.clip(min: -0.5, max: 1.5), .relu, .leakyRelu(alpha: 0.1), .none]
        // The im2col GEMM on OpenBLAS and, where the CPU runs it, on the packed kernel: over
        // im2col bands (AVX2), or gathering its strips from the input (AVX-512, where the CPU
        // has it; forced bands then still take the band path).
        try InstructionSet.eachVectorPath { isa in
        for packed in [false] + (InstructionSet.hasAVX2 ? [true] : []) {
          for threads in [1, 2] {
            Parallel.threads = threads
            for (index, (input, weights, attributes)) in cases.enumerated() {
                var op = try ConvOp(node: node(attributes))
                op.activation = activations[index % activations.count]
                let g = try op.geometry(input: input, weights: weights)
                let c = randomConvCase(g, input: input, weights: weights)
                let expected = op.activation.applied(to: c.reference)
                let kernel = ConvKernel(geometry: g, weights: c.w, bias: c.b, activation: op.activation, packedGEMM: packed)
                XCTAssertEqual(kernel.usesPackedGEMM, packed && !g.isDepthwise && !g.isPointwise)
                // Also force small bands (7 and 37 pixels: starting and ending inside output
                // rows, many per image, so two threads deal them out) on the im2col path.
                var kernels = [(kernel, "default bands")]
                if !g.isDepthwise && !g.isPointwise {
                    kernels += [7, 37].map { (ConvKernelTestHook.banded(kernel, weights: c.w, pixels: $0), "bands of \($0) pixels") }
                }
                for (kernel, bands) in kernels {
                    let y = kernel.output(inputs: [c.x, nil, nil], outputCount: expected.count)
                    let diff = maxAbsDifference(y, expected)
                    XCTAssertLessThan(
                        diff, 1e-4 * max(1, Float(g.patchSize) / 64),
                        "conv \(input) \(weights) \(attributes) threads \(threads) packed \(packed) \(bands) isa \(isa)")
                    // Depthwise planes and implicit-GEMM pixels are cut where SplitBalance says.
                    if threads == 2 {
                        assertSameOutputAtEitherCut(
                            kernel, kernel.balance, inputs: [c.x, nil, nil], output: y, "conv \(input) \(weights) \(attributes) \(bands) \(isa)")
                    }
                }
            }
          }
        }
        }
        Parallel.threads = 1
    }

    /// Winograd with its default tile (F(2×2, 3×3) below 13×13 outputs, F(4×4, 3×3) from
    /// there: 28×28 here) equals `ConvReference` within 1e-4 relative to the output's
    /// magnitude: even and odd output sizes, pads 0/1/asymmetric, one and several tile-row
    /// bands, batch 2, one and two threads.
    /// Which 3×3 layers take Winograd: not the small planes whose transformed weights exceed
    /// 2 MB (open-nsfw's and ResNet-50's 7×7 stages: im2col streams 9/16 of the bytes), but
    /// small planes with small weights (DenseNet-121's 7×7 128 → 32) and larger planes.
    func testWinogradSkipsWeightBoundSmallPlanes() throws {
        let cases: [(input: [Int], weights: [Int], winograd: Bool)] = [
            ([1, 256, 7, 7], [256, 256, 3, 3], false), ([1, 512, 7, 7], [512, 512, 3, 3], false),
            ([1, 128, 7, 7], [32, 128, 3, 3], true), ([1, 160, 7, 7], [180, 160, 3, 3], true),
            ([1, 512, 14, 14], [512, 512, 3, 3], true), ([1, 256, 13, 13], [384, 256, 3, 3], true),
        ]
        for (input, weights, winograd) in cases {
            let g = try ConvOp(node: node(["pads": .ints([1, 1, 1, 1])])).geometry(input: input, weights: weights)
            XCTAssertEqual(WinogradConvKernel.applies(to: g), winograd, "\(input) \(weights)")
        }
    }

    func testWinogradConvMatchesReference() throws {
        let cases: [(input: [Int], weights: [Int], attributes: [String: Attribute], band: Int?)] = [
            ([2, 16, 12, 12], [16, 16, 3, 3], ["pads": .ints([1, 1, 1, 1])], nil),
            ([1, 17, 11, 10], [20, 17, 3, 3], ["pads": .ints([1, 1, 1, 1])], 2),
            ([1, 32, 12, 13], [16, 32, 3, 3], [:], 1),
            ([2, 16, 11, 12], [24, 16, 3, 3], ["pads": .ints([0, 2, 1, 0])], 3),
            ([1, 64, 28, 28], [64, 64, 3, 3], ["pads": .ints([1, 1, 1, 1])], nil),
        ]
        for threads in [1, 2] {
            Parallel.threads = threads
            for (input, weights, attributes, band) in cases {
                var op = try ConvOp(node: node(attributes))
                op.activation = .relu
                let g = try op.geometry(input: input, weights: weights)
                XCTAssertTrue(WinogradConvKernel.applies(to: g))
                let c = randomConvCase(g, input: input, weights: weights)
                let expected = op.activation.applied(to: c.reference)
                let kernel = WinogradConvKernel(geometry: g, weights: c.w, bias: c.b, activation: op.activation, bandTileRows: band)
                let y = kernel.output(inputs: [c.x, nil, nil], outputCount: expected.count)
                let scale = expected.map { abs($0) }.max() ?? 1
                let diff = maxAbsDifference(y, expected)
                XCTAssertLessThan(diff, 1e-4 * max(1, scale), "winograd \(input) \(weights) \(attributes) threads \(threads)")
            }
        }
        Parallel.threads = 1
    }

    /// The pooling kernels (max: the C kernel, on its AVX2 and its portable path; average: the
    /// range-precomputing Swift loop) equal the bounds-checking reference.
    func testPoolKernelMatchesReference() throws {
        defer { InstructionSet.forcePortable(false) }
        for portable in [false, true] {
        InstructionSet.forcePortable(portable)
        let cases: [(kernel: [Int], attributes: [String: Attribute], ceil: Bool)] = [
            ([3, 3], ["strides": .ints([2, 2]), "pads": .ints([0, 0, 1, 1])], true),
            ([3, 3], ["strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1])], false),
            ([2, 3], ["auto_pad": .string("SAME_UPPER"), "strides": .ints([2, 1])], false),
            ([3, 2], ["dilations": .ints([2, 3]), "pads": .ints([2, 1, 0, 3])], true),
            ([7, 7], [:], false),
            ([3, 3], ["strides": .ints([1, 1]), "pads": .ints([1, 1, 1, 1])], false),
            ([3, 3], ["strides": .ints([3, 3]), "pads": .ints([1, 0, 1, 2])], true),
        ]
        for (kernel, attributes, ceil) in cases {
            let window = try Window(node: node(attributes), kernel: kernel, inH: 9, inW: 11, ceilMode: ceil)
            let planes = 5
            let x = randoms(planes * 9 * 11)
            assertPoolKernelMatchesReference(
                window: window, planes: planes, input: x, "\(kernel) \(attributes) ceil \(ceil) portable \(portable)")
        }
        }
    }

    /// The strided broadcast kernel equals the gather-based reference.
    func testBroadcastKernelMatchesReference() throws {
        let shapes: [([Int], [Int])] = [([2, 3, 4], [3, 1]), ([4], [2, 3, 4]), ([2, 1, 5], [1, 3, 1]), ([3, 4], [3, 4]), ([], [2, 2])]
        for (a, b) in shapes {
            for function in [BinaryOp.Function.add, .sub, .mul, .div] {
                let op = BinaryOp(function: function)
                let av = randoms(a.reduce(1, *)), bv = randoms(b.reduce(1, *)).map { $0 + 3 }
                let ref = try op.evaluate([HostTensor(shape: a, floats: av), HostTensor(shape: b, floats: bv)])[0]
                let outInfo = try op.infer([ValueInfo(shape: a), ValueInfo(shape: b)])
                let kernel = try op.makeKernel([ValueInfo(shape: a), ValueInfo(shape: b)], outputs: outInfo)
                let y = kernel.output(inputs: [av, bv], outputCount: ref.count, scratchFill: 0)
                XCTAssertEqual(ref.shape, outInfo[0].shape)
                XCTAssertEqual(y, ref.floats, "\(a) \(function) \(b)")
            }
        }
    }

    /// Gemm's sgemm kernel against its triple-loop reference.
    func testGemmKernelMatchesReference() throws {
        for (transA, transB) in [(false, false), (true, false), (false, true), (true, true)] {
            let node = Node(
                name: "g", opType: "Gemm", domain: "", inputs: ["a", "b", "c"], outputs: ["y"],
                attributes: ["transA": .int(transA ? 1 : 0), "transB": .int(transB ? 1 : 0), "alpha": .float(0.7), "beta": .float(-1.5)],
                opset: 13)
            let op = try GemmOp(node: node)
            let (m, n, k) = (5, 7, 6)
            let a = HostTensor(shape: transA ? [k, m] : [m, k], floats: randoms(m * k))
            let b = HostTensor(shape: transB ? [n, k] : [k, n], floats: randoms(k * n))
            let c = HostTensor(shape: [1, n], floats: randoms(n))
            let ref = try op.evaluate([a, b, c])[0]
            let infos = [ValueInfo(shape: a.shape), ValueInfo(constant: b), ValueInfo(constant: c)]
            let kernel = try op.makeKernel(infos, outputs: try op.infer(infos))
            let y = kernel.output(inputs: [a.floats, nil, nil], outputCount: m * n, scratchFill: 0)
            let diff = maxAbsDifference(y, ref.floats)
            XCTAssertLessThan(diff, 1e-5, "transA \(transA) transB \(transB)")
        }
    }
}
