@testable import Inference
import XCTest

/// The C depthwise kernel (Sources/CKernels/depthwise.c) against `ConvReference`, on its
/// AVX2+FMA path (when the CPU has it) and its portable path.
final class DepthwiseKernelTests: XCTestCase, SeededKernelTest {
    var randomState: UInt64 = 777

    override func tearDown() {
        InstructionSet.forcePortable(false)
        Parallel.threads = 1
    }

    /// Widths below, at and above the 8- and 32-column vector blocks (tails of 1–7 columns),
    /// padding on every side (asymmetric), strides 1, 2 and 3 (3 takes the portable code on
    /// both paths), 3×3 / 5×5 / 3×5 kernels, dilation, batch > 1, every activation; one and
    /// two threads. Scratch starts as NaN so nothing may rely on it being zeroed.
    func testDepthwiseMatchesReferenceOnBothPaths() throws {
        let cases: [(input: [Int], kernel: [Int], attributes: [String: Attribute], activation: Activation)] = [
            ([2, 6, 10, 9], [3, 3], ["pads": .ints([1, 1, 1, 1])], .clip(min: 0, max: 6)),
            ([1, 5, 11, 12], [5, 5], ["strides": .ints([2, 2]), "pads": .ints([2, 1, 2, 3])], .relu),
            ([3, 3, 7, 7], [5, 5], ["pads": .ints([2, 2, 2, 2])], .clip(min: -0.5, max: 1.5)),
            ([2, 4, 14, 14], [5, 5], ["strides": .ints([2, 2]), "pads": .ints([1, 1, 2, 2])], .none),
            ([1, 3, 37, 75], [3, 3], ["pads": .ints([1, 1, 1, 1])], .leakyRelu(alpha: 0.1)),
            ([2, 2, 33, 69], [3, 3], ["strides": .ints([2, 2]), "pads": .ints([0, 1, 1, 0])], .relu),
            ([1, 4, 12, 13], [3, 3], ["dilations": .ints([2, 3]), "pads": .ints([2, 3, 2, 3])], .none),
            ([1, 3, 16, 41], [3, 3], ["strides": .ints([2, 2]), "dilations": .ints([1, 2]), "pads": .ints([1, 2, 1, 2])], .relu),
            ([1, 2, 9, 80], [3, 3], ["strides": .ints([2, 2]), "dilations": .ints([1, 3]), "pads": .ints([1, 3, 1, 4])], .none),
            ([1, 3, 112, 112], [3, 3], ["strides": .ints([2, 2]), "pads": .ints([0, 0, 1, 1])], .clip(min: 0, max: 6)),
            ([1, 3, 10, 11], [3, 5], ["strides": .ints([3, 3]), "pads": .ints([1, 2, 1, 2])], .clip(min: 0, max: 6)),
            ([2, 3, 9, 8], [3, 3], ["strides": .ints([1, 2])], .none),
        ]
        try check(cases)
    }

    /// The 8-channel transposed path (AVX2+FMA, 8 consecutive channels of one image whose padded
    /// plane fits its block): channel counts with and without a remainder (the remainder takes
    /// the plane path, also across images of a batch), planes of 7×7, 14×14 and 28×28 as in
    /// EfficientNet, odd and non-square sizes, planes of fewer than 8 pixels in or out (plane
    /// path), strides 1, 2 and 3, asymmetric padding, dilation (vertical only: the unrolled
    /// 3- and 5-column kernels; horizontal: the offset table); on two threads the plane ranges
    /// split inside a group of 8 (20 channels → 10 + 10); kernels of fewer than 8 taps (weights
    /// transposed by scalars) and of exactly 8.
    func testEightChannelPathMatchesReference() throws {
        let cases: [(input: [Int], kernel: [Int], attributes: [String: Attribute], activation: Activation)] = [
            ([1, 16, 7, 7], [5, 5], ["pads": .ints([2, 2, 2, 2])], .clip(min: 0, max: 6)),
            ([1, 8, 7, 7], [3, 3], ["pads": .ints([1, 1, 1, 1])], .relu),
            ([2, 12, 14, 14], [3, 3], ["strides": .ints([2, 2]), "pads": .ints([0, 0, 1, 1])], .clip(min: 0, max: 6)),
            ([1, 20, 14, 14], [5, 5], ["strides": .ints([2, 2]), "pads": .ints([1, 1, 2, 2])], .none),
            ([1, 20, 28, 28], [5, 5], ["pads": .ints([2, 2, 2, 2])], .leakyRelu(alpha: 0.2)),
            ([1, 8, 28, 28], [3, 3], ["strides": .ints([2, 2]), "pads": .ints([0, 0, 1, 1])], .relu),
            ([3, 9, 13, 11], [3, 3], ["pads": .ints([1, 0, 2, 1])], .clip(min: -1, max: 1)),
            ([1, 16, 17, 23], [5, 3], ["strides": .ints([3, 2]), "pads": .ints([2, 1, 2, 1])], .none),
            ([1, 8, 15, 12], [3, 3], ["dilations": .ints([2, 3]), "pads": .ints([2, 3, 2, 3])], .relu),
            ([1, 8, 12, 12], [3, 3], ["dilations": .ints([2, 1]), "pads": .ints([2, 1, 2, 1])], .none),
            ([1, 8, 11, 13], [5, 5], ["dilations": .ints([3, 1]), "strides": .ints([1, 2]), "pads": .ints([6, 2, 6, 2])], .relu),
            ([1, 8, 3, 3], [3, 3], ["pads": .ints([1, 1, 1, 1])], .none),
            ([1, 16, 2, 3], [3, 3], ["pads": .ints([1, 1, 1, 1])], .relu),
            ([1, 8, 9, 9], [3, 3], ["strides": .ints([3, 3])], .none),
            ([1, 8, 56, 56], [5, 5], ["strides": .ints([2, 2]), "pads": .ints([1, 1, 2, 2])], .clip(min: 0, max: 6)),
            ([1, 8, 10, 10], [2, 3], ["pads": .ints([0, 1, 1, 1])], .none),
            ([1, 16, 10, 9], [2, 4], ["pads": .ints([1, 2, 0, 1])], .relu),
            // AVX-512's 16-channel groups: 16 + 8 (the layouts alternate, each image), 16 + 16 + 5
            // over a batch, 32 on two threads (16 each), a 7×7 kernel (49 taps: transposed in 8s).
            ([2, 24, 14, 14], [3, 3], ["pads": .ints([1, 1, 1, 1])], .clip(min: 0, max: 6)),
            ([2, 37, 7, 7], [5, 5], ["strides": .ints([2, 2]), "pads": .ints([2, 2, 2, 2])], .relu),
            ([1, 32, 28, 28], [7, 7], ["pads": .ints([3, 3, 3, 3])], .none),
            ([1, 48, 9, 11], [3, 3], ["dilations": .ints([1, 2]), "pads": .ints([1, 2, 1, 2])], .leakyRelu(alpha: 0.1)),
        ]
        try check(cases)
    }

    /// The 8-channel path on planes above 2048 padded pixels, which streams transposed rows
    /// through a ring (group8_rows_avx2): stride 1, 2 (as EfficientNet's 112 → 56) and 3, row
    /// lengths that are not multiples of 8 (the last vector overlaps), dilation (a longer
    /// ring), channel remainders across a batch; and the plane-path fallbacks of that size:
    /// rows shorter than 8 pixels, more than 16 kernel rows.
    func testEightChannelRowPathMatchesReference() throws {
        let cases: [(input: [Int], kernel: [Int], attributes: [String: Attribute], activation: Activation)] = [
            ([1, 16, 50, 47], [3, 3], ["pads": .ints([1, 1, 1, 1])], .clip(min: 0, max: 6)),
            ([1, 8, 60, 61], [3, 3], ["strides": .ints([2, 2]), "pads": .ints([0, 0, 1, 1])], .relu),
            ([2, 10, 56, 56], [5, 5], ["strides": .ints([2, 2]), "pads": .ints([1, 1, 2, 2])], .none),
            ([1, 8, 64, 50], [3, 3], ["strides": .ints([3, 3]), "pads": .ints([1, 0, 1, 2])], .leakyRelu(alpha: 0.1)),
            ([1, 8, 48, 48], [3, 3], ["dilations": .ints([2, 2]), "pads": .ints([2, 2, 2, 2])], .relu),
            ([1, 8, 46, 52], [5, 3], ["strides": .ints([1, 2]), "dilations": .ints([2, 1]), "pads": .ints([3, 1, 4, 1])], .none),
            ([1, 8, 400, 6], [3, 3], ["pads": .ints([1, 1, 1, 1])], .none),
            ([1, 8, 60, 40], [17, 1], ["pads": .ints([8, 0, 8, 0])], .relu),
            // 16-channel groups on the row path: 16 + 8 per image over a batch, stride 2.
            ([2, 24, 50, 47], [3, 3], ["strides": .ints([2, 2]), "pads": .ints([0, 0, 1, 1])], .clip(min: 0, max: 6)),
            ([1, 32, 46, 52], [5, 3], ["dilations": .ints([2, 1]), "pads": .ints([4, 1, 4, 1])], .relu),
        ]
        try check(cases)
    }

    /// Runs each case through ConvKernel on the AVX2 path, the AVX-512 one where the CPU has
    /// it, and the portable path, 1 and 2 threads, against ConvReference.
    private func check(
        _ cases: [(input: [Int], kernel: [Int], attributes: [String: Attribute], activation: Activation)]
    ) throws {
        try InstructionSet.eachVectorPath { isa in try check(cases, isa: isa) }
    }

    private func check(
        _ cases: [(input: [Int], kernel: [Int], attributes: [String: Attribute], activation: Activation)], isa: String
    ) throws {
        for portable in [false, true] {
            InstructionSet.forcePortable(portable)
            for threads in [1, 2] {
                Parallel.threads = threads
                for (input, kernelShape, attributes, activation) in cases {
                    let channels = input[1]
                    let node = Node(
                        name: "dw", opType: "Conv", domain: "", inputs: ["x", "w", "b"], outputs: ["y"],
                        attributes: attributes.merging(["group": .int(Int64(channels))]) { a, _ in a }, opset: 13)
                    var op = try ConvOp(node: node)
                    op.activation = activation
                    let weightShape = [channels, 1] + kernelShape
                    let g = try op.geometry(input: input, weights: weightShape)
                    XCTAssertTrue(g.isDepthwise)
                    let c = randomConvCase(g, input: input, weights: weightShape)
                    let expected = activation.applied(to: c.reference)
                    let kernel = ConvKernel(geometry: g, weights: c.w, bias: c.b, activation: activation)
                    let y = kernel.output(inputs: [c.x, nil, nil], outputCount: expected.count)
                    let diff = maxAbsDifference(y, expected)
                    XCTAssertLessThan(
                        diff, 1e-5, "depthwise \(input) \(kernelShape) \(attributes) portable \(portable) threads \(threads) \(isa)")
                }
            }
        }
    }
}
