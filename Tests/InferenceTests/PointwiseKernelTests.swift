@testable import Inference
import XCTest

/// The C pointwise kernel (Sources/CKernels/pointwise.c) against `ConvReference`.
final class PointwiseKernelTests: XCTestCase, SeededKernelTest {
    var randomState: UInt64 = 4242

    override func tearDown() {
        InstructionSet.forcePortable(false)
        Parallel.threads = 1
    }

    /// Output channels that are not a multiple of the 6-row panel (1, 5, 7, 13, 20), planes
    /// whose size is not a multiple of the 16-column strip (tails 1…15 columns, plane < 8),
    /// one image and batches 2–3 (whole images per thread), large planes split into column
    /// strips and small ones into row panels, strides 2 and (2, 3) (subsampled copy), every
    /// activation, with and without a fused residual input (added before the activation); one
    /// and two threads. Without AVX2 (forced portable) the layer must go to
    /// `ConvKernel` (OpenBLAS), which must match too.
    func testPointwiseMatchesReference() throws {
        let cases: [(input: [Int], outChannels: Int, strides: [Int], activation: Activation)] = [
            ([1, 8, 9, 7], 13, [1, 1], .clip(min: 0, max: 6)),
            ([2, 5, 3, 5], 7, [1, 1], .relu),
            ([3, 16, 6, 6], 20, [1, 1], .none),
            ([1, 33, 40, 41], 5, [1, 1], .leakyRelu(alpha: 0.2)),
            ([1, 64, 7, 7], 130, [1, 1], .relu),
            ([1, 3, 2, 2], 1, [1, 1], .none),
            ([2, 12, 15, 13], 18, [2, 2], .relu),
            ([1, 9, 11, 14], 11, [2, 3], .clip(min: -0.5, max: 0.5)),
        ]
        let hasAVX2 = InstructionSet.name == "avx2+fma"
        for portable in [false, true] {
            InstructionSet.forcePortable(portable)
            for threads in [1, 2] {
                Parallel.threads = threads
                for (input, outChannels, strides, activation) in cases {
                  for withResidual in [false, true] {
                    let node = Node(
                        name: "pw", opType: "Conv", domain: "", inputs: ["x", "w", "b"], outputs: ["y"],
                        attributes: ["strides": .ints(strides.map(Int64.init))], opset: 13)
                    var op = try ConvOp(node: node)
                    op.activation = activation
                    let weightShape = [outChannels, input[1], 1, 1]
                    let g = try op.geometry(input: input, weights: weightShape)
                    let c = randomConvCase(g, input: input, weights: weightShape)
                    var conv = c.reference
                    let r = randoms(conv.count)
                    if withResidual { for i in conv.indices { conv[i] += r[i] } }
                    let expected = activation.applied(to: conv)
                    let kernel: Kernel
                    if portable || !hasAVX2 {
                        XCTAssertFalse(PointwiseConvKernel.applies(to: g))
                        let plain = ConvKernel(geometry: g, weights: c.w, bias: c.b, activation: withResidual ? .none : activation)
                        kernel = withResidual ? ResidualEpilogueKernel(inner: plain, count: conv.count, activation: activation) : plain
                    } else {
                        XCTAssertTrue(PointwiseConvKernel.applies(to: g))
                        kernel = PointwiseConvKernel(geometry: g, weights: c.w, bias: c.b, activation: activation, residual: withResidual)
                    }
                    // The residual r is input 3 (read only when fused).
                    let y = kernel.output(inputs: [c.x, nil, nil, r], outputCount: expected.count)
                    let diff = maxAbsDifference(y, expected)
                    XCTAssertLessThan(
                        diff, 1e-4,
                        "pointwise \(input) M \(outChannels) strides \(strides) residual \(withResidual) portable \(portable) threads \(threads)")
                  }
                }
            }
        }
    }
}
