@testable import Inference
import CKernels
import XCTest

/// The C pointwise kernel (Sources/CKernels/pointwise.c) against `ConvReference`.
final class PointwiseKernelTests: XCTestCase, SeededKernelTest {
    var randomState: UInt64 = 4242

    override func tearDown() {
        InstructionSet.forcePortable(false)
        InstructionSet.forceAVX2(false)
        Parallel.threads = 1
    }

    /// Output channels that are not a multiple of the 6-row panel (1, 5, 7, 13, 20), planes
    /// whose size is not a multiple of the 16-column strip (tails 1…15 columns, plane < 8),
    /// one image and batches 2–3 (whole images per thread), large planes split into column
    /// strips and small ones into row panels, strides 2 and (2, 3) (subsampled copy), every
    /// activation, with and without a fused residual input (added before the activation); one
    /// and two threads; fused residuals also in place (the output written over the residual, as
    /// the planner runs them); on the AVX2 path and, where the CPU has it, the AVX-512 one (strips of
    /// 32 columns). Without AVX2 (forced portable) the layer must go to `ConvKernel`
    /// (OpenBLAS), which must match too.
    func testPointwiseMatchesReference() throws {
        try InstructionSet.eachVectorPath { isa in try checkPointwiseMatchesReference(isa: isa) }
    }

    private func checkPointwiseMatchesReference(isa: String) throws {
        let cases: [(input: [Int], outChannels: Int, strides: [Int], activation: Activation)] = [
            ([1, 8, 9, 7], 13, [1, 1], .clip(min: 0, max: 6)),
            ([2, 5, 3, 5], 7, [1, 1], .relu),
            ([3, 16, 6, 6], 20, [1, 1], .none),
            ([1, 33, 40, 41], 5, [1, 1], .leakyRelu(alpha: 0.2)),
            ([1, 64, 7, 7], 130, [1, 1], .relu),
            ([1, 3, 2, 2], 1, [1, 1], .none),
            ([2, 12, 15, 13], 18, [2, 2], .relu),
            ([1, 9, 11, 14], 11, [2, 3], .clip(min: -0.5, max: 0.5)),
            // Batch 1 on two threads, above the split threshold: column strips (M ≤ H·W), then
            // row panels (weights outweigh the image, M > H·W).
            ([1, 40, 20, 20], 70, [1, 1], .clip(min: 0, max: 6)),
            ([1, 64, 9, 9], 200, [1, 1], .relu),
            // 7×7 = 32 + 16 + 1 columns (the AVX-512 strip, a whole vector, the narrow kernel).
            ([1, 50, 7, 7], 49, [1, 1], .relu),
            // K = 300: two k-blocks (the second reads the first's partial sums from Y).
            ([1, 300, 5, 7], 20, [1, 1], .relu),
            // The channel-lanes kernel on AVX-512 (ck_lanes_fits): 7×7 with 70 output channels
            // (two threads: 32-row blocks 0..<64 and 64..<70), 14×14 with K ≥ 3M (two threads:
            // column strips), and 7×7 behind a stride-2 subsampled copy (row stride wider than
            // the plane).
            ([1, 256, 7, 7], 70, [1, 1], .relu),
            ([1, 300, 14, 14], 64, [1, 1], .clip(min: 0, max: 6)),
            ([1, 128, 13, 13], 90, [2, 2], .none),
        ]
        let hasAVX2 = InstructionSet.hasAVX2
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
                        "pointwise \(input) M \(outChannels) strides \(strides) residual \(withResidual) portable \(portable) threads \(threads) \(isa)")
                    if threads == 2, let pointwise = kernel as? PointwiseConvKernel {
                        assertSameOutputAtEitherCut(
                            kernel, pointwise.balance, inputs: [c.x, nil, nil, r], output: y,
                            "pointwise \(input) M \(outChannels) strides \(strides) residual \(withResidual) \(isa)")
                    }
                    if let donor = kernel.overwritableInput {
                        // In place, as the planner may run it: the output written over the residual.
                        XCTAssertEqual(donor, 3)
                        let inPlace = kernel.outputInPlace(inputs: [c.x, nil, nil, r], overwriting: donor)
                        XCTAssertLessThan(
                            maxAbsDifference(inPlace, expected), 1e-4,
                            "in place: pointwise \(input) M \(outChannels) strides \(strides) threads \(threads) \(isa)")
                    }
                  }
                }
            }
        }
    }

    /// ck_pointwise_conv as the packed GEMM of the Winograd and im2col paths, against a Double
    /// sum: K around the k-block boundaries (1 block below 256, then ⌊K/128⌋ blocks), no bias
    /// (NULL) and a bias, a residual, X with a row stride wider than the columns used, and a
    /// sub-range of rows and columns (everything outside it must stay untouched); 48+ rows take
    /// the path that copies each strip of X first (full and ragged strips). Strips ending in 1,
    /// 2 or 3 columns past whole vectors (n 49, 27, 18, 3 here) take the narrow kernel, with 1,
    /// 2, 3 or 4 panels per call and a short last panel.
    /// On the AVX-512 path too where the CPU has it (strips of 32: n 81 and 50 end in strips of
    /// 1 and 2 columns past a whole strip).
    func testPackedGEMMAcrossKBlocks() throws {
        try XCTSkipUnless(InstructionSet.hasAVX2, "the packed kernel runs only on AVX2+FMA")
        try InstructionSet.eachVectorPath { isa in try checkPackedGEMMAcrossKBlocks(isa: isa) }
    }

    private func checkPackedGEMMAcrossKBlocks(isa: String) throws {
        for k in [1, 127, 255, 256, 257, 383, 384, 700] {
            // 530 and 1033 rows: the AVX-512 path runs them in chunks of rows (2 and 3), each
            // chunk through all its k-blocks.
            for (m, n) in [
                (13, 37), (6, 16), (1, 5), (61, 45), (60, 7), (61, 49), (13, 27), (20, 18), (7, 3), (61, 81), (13, 50), (530, 20), (1033, 3),
            ] {
                for useBias in [false, true] {
                    for useResidual in [false, true] {
                        let ldx = n + 3, ldy = n + 2
                        let w = randoms(m * k), x = randoms(k * ldx), bias = randoms(m), r = randoms(m * ldy)
                        let rows = m > 6 ? 6..<m : 0..<m, cols = n > 16 ? 16..<n : 0..<n
                        let sentinel: Float = 12345
                        var y = [Float](repeating: sentinel, count: m * ldy)
                        var packed = [Float](repeating: 0, count: ck_pointwise_packed_floats(Int32(m), Int32(k)))
                        ck_pointwise_pack(w, Int32(m), Int32(k), &packed)
                        let act = Activation.clip(min: -2, max: 3)
                        let ok = packed.withUnsafeBufferPointer { pp in
                            bias.withUnsafeBufferPointer { bp in
                                r.withUnsafeBufferPointer { rp in
                                    ck_pointwise_conv(
                                        pp.baseAddress, useBias ? bp.baseAddress : nil, useResidual ? rp.baseAddress : nil, x, &y,
                                        Int32(m), Int32(k), Int32(ldx), Int32(ldy), Int32(rows.lowerBound), Int32(rows.upperBound),
                                        Int32(cols.lowerBound), Int32(cols.upperBound), act.ck)
                                }
                            }
                        }
                        XCTAssertEqual(ok, 1)
                        checkClippedProduct(
                            y, w: w, x: x, bias: useBias ? bias : nil, residual: useResidual ? r : nil, m: m, k: k, ldx: ldx, ldy: ldy,
                            rows: rows, cols: cols, untouched: { _ in sentinel },
                            "k \(k) m \(m) n \(n) bias \(useBias) residual \(useResidual) \(isa)")
                    }
                }
            }
        }
    }

    /// ck_pointwise_conv where Y (and the residual) outgrow L2 and K is small (≤ 64): on AVX-512
    /// such calls run in BLIS's order (block_avx512_chunked: columns in chunks of 256 copied
    /// once, panels outside). Column ranges spanning 22 chunks and starting inside one, the last
    /// chunk ending in a strip of 17 (a whole vector and a narrow column) or of 12 columns
    /// (masked), 49 rows (a short last panel) from row 6 or all, with and without a residual,
    /// everything outside the range untouched; K = 65 runs the other order on the same shape.
    func testPackedGEMMChunkedOrderOnLargeOutputs() throws {
        try XCTSkipUnless(InstructionSet.hasAVX2, "the packed kernel runs only on AVX2+FMA")
        try InstructionSet.eachVectorPath { isa in
            for (k, n, useResidual) in [(1, 5505, true), (64, 5505, false), (40, 5500, true), (65, 5505, true)] {
                let m = 49, ldx = n + 3, ldy = n + 2
                let w = randoms(m * k), x = randoms(k * ldx), bias = randoms(m), r = randoms(m * ldy)
                let sentinel: Float = 12345
                for (rows, cols) in [(0..<m, 16..<n), (6..<m, 0..<n)] {
                    var y = [Float](repeating: sentinel, count: m * ldy)
                    var packed = [Float](repeating: 0, count: ck_pointwise_packed_floats(Int32(m), Int32(k)))
                    ck_pointwise_pack(w, Int32(m), Int32(k), &packed)
                    let act = Activation.clip(min: -2, max: 3)
                    let ok = r.withUnsafeBufferPointer { rp in
                        ck_pointwise_conv(
                            packed, bias, useResidual ? rp.baseAddress : nil, x, &y, Int32(m), Int32(k), Int32(ldx), Int32(ldy),
                            Int32(rows.lowerBound), Int32(rows.upperBound), Int32(cols.lowerBound), Int32(cols.upperBound), act.ck)
                    }
                    XCTAssertEqual(ok, 1)
                    checkClippedProduct(
                        y, w: w, x: x, bias: bias, residual: useResidual ? r : nil, m: m, k: k, ldx: ldx, ldy: ldy, rows: rows,
                        cols: cols, untouched: { _ in sentinel }, "k \(k) n \(n) rows \(rows) cols \(cols) residual \(useResidual) \(isa)")
                }
            }
        }
    }

    /// ck_lanes_conv (the channel-lanes kernel, AVX-512 only) against a Double sum: K around its
    /// k-blocks (one block below 192, then ⌊K/96⌋), rows that fill 32-row blocks partly (1,
    /// 17, 33, 70; 48 and 40: a last block of exactly 16 and of 8 rows, which runs one zmm
    /// half) and a row range starting at the second block, pixel counts that make tiles
    /// of every width 1 … 14 and more than one chunk of 16 tiles (n 250), no bias and a bias, a
    /// residual (also Y itself, read before written), row strides wider than the plane, and
    /// everything outside the row and column range left untouched.
    func testChannelLanesKernelMatchesSum() throws {
        try XCTSkipUnless(InstructionSet.hasAVX512, "the channel-lanes kernel runs only on AVX-512")
        for k in [0, 1, 64, 191, 192, 287, 700] {
            for (m, n) in [(1, 1), (17, 13), (33, 14), (70, 15), (40, 49), (48, 20), (70, 29), (33, 250)] {
                for (useBias, residual) in [(false, "none"), (true, "none"), (true, "separate"), (false, "in place")] {
                    let ldx = n + 5, ldy = n + 3
                    let w = randoms(m * k), x = randoms(k * ldx), bias = randoms(m), r = randoms(m * ldy)
                    let rows = m > 32 ? 32..<m : 0..<m, cols = n > 3 ? 2..<(n - 1) : 0..<n
                    let sentinel: Float = 12345
                    var y = residual == "in place" ? r : [Float](repeating: sentinel, count: m * ldy)
                    let packed = AlignedFloats(count: ck_lanes_packed_floats(Int32(m), Int32(k))) {
                        ck_lanes_pack(w, Int32(m), Int32(k), $0)
                    }
                    let act = Activation.clip(min: -2, max: 3)
                    let ok = bias.withUnsafeBufferPointer { bp in
                        r.withUnsafeBufferPointer { rp in
                            y.withUnsafeMutableBufferPointer { yp in
                                let res: UnsafePointer<Float>? = residual == "none" ? nil : residual == "separate" ? rp.baseAddress : UnsafePointer(yp.baseAddress)
                                return ck_lanes_conv(
                                    packed.base, useBias ? bp.baseAddress : nil, res, x, yp.baseAddress, Int32(m), Int32(k), Int32(ldx),
                                    Int32(ldy), Int32(rows.lowerBound), Int32(rows.upperBound), Int32(cols.lowerBound), Int32(cols.upperBound),
                                    act.ck)
                            }
                        }
                    }
                    XCTAssertEqual(ok, 1)
                    checkClippedProduct(
                        y, w: w, x: x, bias: useBias ? bias : nil, residual: residual == "none" ? nil : r, m: m, k: k, ldx: ldx, ldy: ldy,
                        rows: rows, cols: cols, untouched: { residual == "in place" ? r[$0] : sentinel },
                        "k \(k) m \(m) n \(n) bias \(useBias) residual \(residual)")
                }
            }
        }
    }

    /// Y [m × ldy] against a Double sum of clip(bias + R + W·X, −2, 3) inside rows × cols (W
    /// [m × k], X [k × ldx], R with Y's stride; bias and R optional), and untouched(index)
    /// everywhere outside them.
    private func checkClippedProduct(
        _ y: [Float], w: [Float], x: [Float], bias: [Float]?, residual: [Float]?, m: Int, k: Int, ldx: Int, ldy: Int,
        rows: Range<Int>, cols: Range<Int>, untouched: (Int) -> Float, _ label: String
    ) {
        var worst: Double = 0
        for i in 0..<m {
            for j in 0..<ldy {
                let got = y[i * ldy + j]
                guard rows.contains(i) && cols.contains(j) else {
                    XCTAssertEqual(got, untouched(i * ldy + j), "\(label): (\(i), \(j)) outside the range was written")
                    continue
                }
                var sum = (bias.map { Double($0[i]) } ?? 0) + (residual.map { Double($0[i * ldy + j]) } ?? 0)
                for kk in 0..<k { sum += Double(w[i * k + kk]) * Double(x[kk * ldx + j]) }
                worst = max(worst, abs(Double(got) - min(max(sum, -2), 3)))
            }
        }
        XCTAssertLessThan(worst, 1e-5 * Double(max(k, 16)), label)
    }
}
