import CKernels
@testable import Inference
import XCTest

/// The direct convolution on the channel-lanes kernel (ck_lanes_window_conv, AVX-512) and its
/// Swift kernel (`LanesWindowConvKernel`) against Double sums and `ConvReference`.
final class LanesWindowKernelTests: XCTestCase, SeededKernelTest {
    var randomState: UInt64 = 0x1a2e5

    override func tearDown() {
        Parallel.threads = 2
        super.tearDown()
    }

    /// The C kernel over pixel ranges that start and end inside output rows and run across an
    /// image boundary, row ranges from the second 32-row block, tiles of every kind (two rows of
    /// a 5-, 6- or 7-wide plane, pieces of 8 … 14 of a wider row, a row's leftover), horizontal
    /// strides 1 and 2, asymmetric padding, and a fused residual separate from Y or Y itself.
    func testWindowKernelMatchesDirectSum() throws {
        try XCTSkipUnless(InstructionSet.hasAVX512, "the channel-lanes kernel runs only on AVX-512")
        // (channels, m, in_h, in_w, kernel_h, kernel_w, stride_h, stride_w, pads top/left/bottom/right)
        let cases: [(c: Int, m: Int, inH: Int, inW: Int, kh: Int, kw: Int, sh: Int, sw: Int, pads: [Int])] = [
            (20, 40, 7, 7, 3, 3, 1, 1, [1, 1, 1, 1]),
            (9, 33, 8, 6, 3, 3, 1, 1, [1, 1, 1, 1]),
            (12, 70, 14, 14, 3, 3, 2, 2, [1, 1, 1, 1]),
            (8, 32, 10, 10, 3, 3, 2, 2, [1, 1, 0, 0]),
            (7, 20, 9, 5, 5, 5, 1, 1, [2, 1, 2, 3]),
            (16, 36, 4, 29, 1, 3, 1, 1, [0, 1, 0, 1]),
        ]
        let images = 2
        for (c, m, inH, inW, kh, kw, sh, sw, pads) in cases {
            let window = ck_window(
                in_h: Int32(inH), in_w: Int32(inW), out_h: Int32((inH + pads[0] + pads[2] - kh) / sh + 1),
                out_w: Int32((inW + pads[1] + pads[3] - kw) / sw + 1), kernel_h: Int32(kh), kernel_w: Int32(kw), stride_h: Int32(sh),
                stride_w: Int32(sw), dilation_h: 1, dilation_w: 1, pad_top: Int32(pads[0]), pad_left: Int32(pads[1]),
                pad_bottom: Int32(pads[2]), pad_right: Int32(pads[3]))
            let (outH, outW, k) = (Int(window.out_h), Int(window.out_w), c * kh * kw)
            let plane = outH * outW
            let x = randoms(images * c * inH * inW), w = randoms(m * k), bias = randoms(m), r = randoms(images * m * plane)
            var win = window
            let padded = ck_lanes_padded_floats(Int32(c), &win)
            var xpad = [Float](repeating: .nan, count: images * padded)
            xpad.withUnsafeMutableBufferPointer { xp in
                for i in 0..<images { ck_lanes_pad(Array(x[(i * c * inH * inW)...]), Int32(c), &win, xp.baseAddress! + i * padded) }
            }
            XCTAssertFalse(xpad.contains { $0.isNaN }, "ck_lanes_pad left floats unwritten")
            var koff = [Int32](repeating: 0, count: k)
            ck_lanes_window_offsets(Int32(c), &win, &koff)
            let packed = AlignedFloats(count: ck_lanes_packed_floats(Int32(m), Int32(k))) { ck_lanes_pack(w, Int32(m), Int32(k), $0) }
            // The direct sum, per image, output channel and pixel.
            func expected(_ n: Int, _ o: Int, _ p: Int, residual: Bool, useBias: Bool) -> Double {
                let (oy, ox) = (p / outW, p % outW)
                var sum = (useBias ? Double(bias[o]) : 0) + (residual ? Double(r[(n * m + o) * plane + p]) : 0)
                for ci in 0..<c {
                    for ky in 0..<kh {
                        let iy = oy * sh - pads[0] + ky
                        guard iy >= 0 && iy < inH else { continue }
                        for kx in 0..<kw {
                            let ix = ox * sw - pads[1] + kx
                            guard ix >= 0 && ix < inW else { continue }
                            sum += Double(w[(o * c + ci) * kh * kw + ky * kw + kx]) * Double(x[((n * c + ci) * inH + iy) * inW + ix])
                        }
                    }
                }
                return min(max(sum, -2), 3)
            }
            let all = images * plane
            let columnRanges = [0..<all, 3..<(plane + outW + 2), (outW + 1)..<(all - 1)]
            for cols in columnRanges {
                for (useBias, residual) in [(true, "none"), (false, "separate"), (true, "in place")] {
                    let rows = m > 32 ? 32..<m : 0..<m
                    let sentinel: Float = 12345
                    var y = residual == "in place" ? r : [Float](repeating: sentinel, count: images * m * plane)
                    let ok = y.withUnsafeMutableBufferPointer { yp in
                        r.withUnsafeBufferPointer { rp in
                            bias.withUnsafeBufferPointer { bp in
                            let res: UnsafePointer<Float>? =
                                residual == "none" ? nil : residual == "separate" ? rp.baseAddress : UnsafePointer(yp.baseAddress)
                            return ck_lanes_window_conv(
                                packed.base, useBias ? bp.baseAddress : nil, res, xpad, koff, yp.baseAddress, Int32(m), Int32(k), &win, padded,
                                m * plane, Int32(rows.lowerBound), Int32(rows.upperBound), cols.lowerBound, cols.upperBound,
                                Activation.clip(min: -2, max: 3).ck)
                            }
                        }
                    }
                    XCTAssertEqual(ok, 1)
                    var worst: Double = 0
                    for n in 0..<images {
                        for o in 0..<m {
                            for p in 0..<plane {
                                let got = y[(n * m + o) * plane + p]
                                guard rows.contains(o) && cols.contains(n * plane + p) else {
                                    let untouched = residual == "in place" ? r[(n * m + o) * plane + p] : sentinel
                                    XCTAssertEqual(got, untouched, "image \(n) channel \(o) pixel \(p) outside the range was written")
                                    continue
                                }
                                let want = expected(n, o, p, residual: residual != "none", useBias: useBias)
                                worst = max(worst, abs(Double(got) - want))
                            }
                        }
                    }
                    XCTAssertLessThan(
                        worst, 1e-5 * Double(max(k, 16)), "c \(c) m \(m) \(inH)×\(inW) window \(kh)×\(kw) stride \(sh)×\(sw) cols \(cols) residual \(residual)")
                }
            }
        }
    }

    /// `LanesWindowConvKernel` equals `ConvReference` (plus a fused residual, activated) with
    /// one and two threads: whole images per thread with several images per pass (batch 3),
    /// blocks of 32 output channels per thread (M = 130), output rows per thread (M = 70, and
    /// the wide planes, whose padding the threads share).
    func testLanesWindowConvKernelMatchesReference() throws {
        try XCTSkipUnless(InstructionSet.hasAVX512, "the channel-lanes kernel runs only on AVX-512")
        let cases: [(input: [Int], weights: [Int], strides: [Int64], pads: [Int64])] = [
            ([1, 64, 7, 7], [70, 64, 3, 3], [1, 1], [1, 1, 1, 1]),
            ([1, 32, 7, 7], [130, 32, 3, 3], [1, 1], [1, 1, 1, 1]),
            ([3, 40, 8, 6], [33, 40, 3, 3], [1, 1], [1, 1, 1, 1]),
            ([2, 24, 14, 14], [40, 24, 3, 3], [2, 2], [1, 1, 1, 1]),
            ([1, 16, 9, 10], [32, 16, 5, 5], [1, 1], [2, 1, 2, 3]),
            // A wide plane (K ≥ 2M): 64 × 32×32 input floats, padded by both threads (a share of
            // the channels each), then split by output rows.
            ([1, 64, 32, 32], [40, 64, 3, 3], [1, 1], [1, 1, 1, 1]),
            ([1, 16, 30, 30], [32, 16, 5, 5], [2, 2], [2, 2, 2, 2]),
        ]
        for threads in [1, 2] {
            Parallel.threads = threads
            for (input, weights, strides, pads) in cases {
                for residual in [false, true] {
                    let node = Node(
                        name: "c", opType: "Conv", domain: "", inputs: ["x", "w", "b"], outputs: ["y"],
                        attributes: ["pads": .ints(pads), "strides": .ints(strides)], opset: 13)
                    let g = try ConvOp(node: node).geometry(input: input, weights: weights)
                    XCTAssertTrue(LanesWindowConvKernel.applies(to: g), "\(input) \(weights)")
                    let c = randomConvCase(g, input: input, weights: weights)
                    let r = residual ? randoms(c.reference.count) : []
                    let activation = Activation.relu
                    let expected = activation.applied(to: residual ? zip(c.reference, r).map { $0 + $1 } : c.reference)
                    let kernel = LanesWindowConvKernel(geometry: g, weights: c.w, bias: c.b, activation: activation, residual: residual)
                    let label = "\(input) \(weights) strides \(strides) residual \(residual) threads \(threads)"
                    let y = kernel.output(inputs: [c.x, nil, nil] + (residual ? [r] : []), outputCount: expected.count)
                    let scale = max(1, expected.map { abs($0) }.max() ?? 1)
                    XCTAssertLessThan(maxAbsDifference(y, expected), 1e-5 * scale, label)
                    if residual {
                        let inPlace = kernel.outputInPlace(inputs: [c.x, nil, nil, r], overwriting: 3)
                        XCTAssertLessThan(maxAbsDifference(inPlace, expected), 1e-5 * scale, label + " in place")
                    }
                }
            }
        }
    }
}
