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
                    XCTAssertLessThan(diff, 1e-5, "depthwise \(input) \(kernelShape) \(attributes) portable \(portable) threads \(threads)")
                }
            }
        }
    }
}
