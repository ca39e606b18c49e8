@testable import Inference
import XCTest

/// The batch-1 fast paths (sgemv for row-vector GEMMs, separable pooling, plane-wise LRN)
/// against plain references, single- and multi-threaded.
final class EngineKernelTests: XCTestCase, SeededKernelTest {
    var randomState: UInt64 = 987_654_321

    override func tearDown() { Parallel.threads = 1 }

    /// Gemm with M = 1 (a fully connected layer at batch 1) takes the sgemv path, split over
    /// output columns; it must equal the triple-loop reference for every transposition, with
    /// and without C.
    func testRowVectorGemmMatchesReference() throws {
        let (m, n, k) = (1, 301, 257)  // n·k above the threading threshold, odd split
        for threads in [1, 2] {
            Parallel.threads = threads
            for (transA, transB) in [(false, false), (true, false), (false, true), (true, true)] {
                for withC in [false, true] {
                    let node = Node(
                        name: "g", opType: "Gemm", domain: "", inputs: withC ? ["a", "b", "c"] : ["a", "b"], outputs: ["y"],
                        attributes: ["transA": .int(transA ? 1 : 0), "transB": .int(transB ? 1 : 0), "alpha": .float(0.7), "beta": .float(-1.5)],
                        opset: 13)
                    let op = try GemmOp(node: node)
                    let a = HostTensor(shape: transA ? [k, m] : [m, k], floats: randoms(m * k))
                    let b = HostTensor(shape: transB ? [n, k] : [k, n], floats: randoms(k * n))
                    let c = HostTensor(shape: [n], floats: randoms(n))
                    let ref = try op.evaluate(withC ? [a, b, c] : [a, b])[0]
                    let infos = [ValueInfo(shape: a.shape), ValueInfo(constant: b)] + (withC ? [ValueInfo(constant: c)] : [])
                    let kernel = try op.makeKernel(infos, outputs: try op.infer(infos))
                    // y starts as NaN: beta = 0 must overwrite it.
                    let y = kernel.output(inputs: [a.floats, nil, nil], outputCount: m * n, scratchFill: 0)
                    let diff = maxAbsDifference(y, ref.floats)
                    XCTAssertLessThan(diff, 1e-4, "transA \(transA) transB \(transB) C \(withC) threads \(threads)")
                }
            }
        }
    }

    /// Separable (row-buffer) pooling equals the bounds-checking reference on the windows of
    /// real networks (3×3 s1 p1 of Inception, 3×3 s2 ceil of SqueezeNet, 2×2 s2 of DenseNet,
    /// global-sized 7×7) and odd ones, on planes large enough to be split across threads.
    func testSeparablePoolingMatchesReference() throws {
        let cases: [(kernel: [Int], strides: [Int], pads: [Int], ceil: Bool)] = [
            ([3, 3], [1, 1], [1, 1, 1, 1], false),
            ([3, 3], [2, 2], [0, 0, 0, 0], true),
            ([2, 2], [2, 2], [0, 0, 0, 0], false),
            ([7, 7], [1, 1], [0, 0, 0, 0], false),
            ([5, 4], [3, 2], [2, 0, 1, 3], true),
            ([3, 3], [2, 2], [1, 1, 1, 1], false),
        ]
        // Width 15 leaves few vectorized columns; 43 gives the AVX2 max pool whole vectors at
        // stride 2 with scalar edge columns on both sides.
        for threads in [1, 2] {
            Parallel.threads = threads
            for (kernel, strides, pads, ceil) in cases {
                for width in [15, 43] {
                    let node = Node(
                        name: "p", opType: "MaxPool", domain: "", inputs: ["x"], outputs: ["y"],
                        attributes: ["strides": .ints(strides.map(Int64.init)), "pads": .ints(pads.map(Int64.init))], opset: 13)
                    let window = try Window(node: node, kernel: kernel, inH: 17, inW: width, ceilMode: ceil)
                    let planes = 40
                    let x = randoms(planes * 17 * width)
                    assertPoolKernelMatchesReference(
                        window: window, planes: planes, input: x,
                        "\(kernel) s\(strides) p\(pads) ceil \(ceil) width \(width) threads \(threads)")
                }
            }
        }
    }

    /// The max pool's row path (Sources/CKernels/pool.c rows_avx2: vertical max into a −∞
    /// row buffer, then horizontal), its in-place 3×3 stride-2 path (inplace_k3_s2), the
    /// whole-plane 3×3 stride-1 pad-1 path (plane_k3_s1_same) and the portable fallback against the reference, on every branch: rows narrower than 8 (masked loads) and outputs narrower than 8, the specialized
    /// 3-wide (stride 1, 2) and 2-wide stride-2 windows and the generic widths, 1–3 and more
    /// window rows, vertical dilation, and windows lying wholly in the padding (−∞ out).
    func testRowPathMaxPoolingMatchesReference() throws {
        defer { InstructionSet.forcePortable(false) }
        let cases: [(kernel: [Int], strides: [Int], pads: [Int], dilations: [Int], ceil: Bool)] = [
            ([3, 3], [1, 1], [1, 1, 1, 1], [1, 1], false),
            ([3, 3], [2, 2], [0, 0, 0, 0], [1, 1], true),
            ([3, 3], [2, 2], [1, 1, 1, 1], [1, 1], false),
            ([3, 3], [2, 2], [0, 0, 1, 1], [1, 1], false),
            ([2, 2], [2, 2], [0, 0, 0, 0], [1, 1], true),
            ([5, 3], [2, 2], [2, 1, 2, 1], [1, 1], false),
            ([1, 4], [1, 1], [0, 2, 0, 1], [1, 1], false),
            ([2, 5], [1, 2], [1, 2, 0, 2], [1, 1], true),
            ([3, 3], [1, 1], [2, 1, 2, 1], [2, 1], false),
            ([2, 3], [1, 1], [3, 1, 3, 1], [1, 1], false),  // first and last rows: no input
            ([2, 3], [2, 2], [1, 0, 1, 0], [1, 1], false),  // in place (3 wide, stride 2), 1–2 rows
            ([2, 3], [2, 2], [3, 0, 3, 0], [1, 1], false),  // in place, rows without input
        ]
        for portable in [false, true] {
            InstructionSet.forcePortable(portable)
            for (kernel, strides, pads, dilations, ceil) in cases {
                // 13 wide at 3×3 stride 2: fewer than 8 outputs per row, in place (narrow_k3_s2;
                // 13×13: last row scalar, 14×13: last row through the temporary).
                // 27 and 40 wide: 3×3 stride 2 windows inside the row take the in-place path (12×27
                // with ceil_mode: pairs of rows, then a last row partly below the input);
                // 28 with ceil_mode overhangs (row path). 3×3 stride 1 pad 1 runs on whole
                // planes when (H − 2)·W >= 8 (6×2 the narrowest), else by rows (3×5).
                for (height, width) in [(6, 6), (5, 7), (9, 8), (13, 13), (14, 13), (11, 27), (12, 27), (7, 28), (5, 40), (6, 2), (3, 5)] {
                    let node = Node(
                        name: "p", opType: "MaxPool", domain: "", inputs: ["x"], outputs: ["y"],
                        attributes: [
                            "strides": .ints(strides.map(Int64.init)), "pads": .ints(pads.map(Int64.init)),
                            "dilations": .ints(dilations.map(Int64.init)),
                        ], opset: 13)
                    // Only the 2- and 5-wide planes may be too small for a case's window.
                    guard let window = try? Window(node: node, kernel: kernel, inH: height, inW: width, ceilMode: ceil) else {
                        XCTAssertLessThanOrEqual(width, 5, "\(kernel) s\(strides) p\(pads) on \(height)×\(width)")
                        continue
                    }
                    let planes = 3
                    let x = randoms(planes * height * width)
                    let context = "\(kernel) s\(strides) p\(pads) d\(dilations) ceil \(ceil) \(height)×\(width) portable \(portable)"
                    // Exact equality: max pooling only selects, and −∞ (windows without input)
                    // must come out as −∞ (a difference of infinities would be NaN).
                    let expected = PoolReference.pool(kind: .max, window: window, planes: planes, countIncludePad: false, input: x)
                    var y = [Float](repeating: .nan, count: expected.count)
                    x.withUnsafeBufferPointer { xp in
                        y.withUnsafeMutableBufferPointer { yp in
                            PoolKernel(kind: .max, window: window, planes: planes, countIncludePad: false).pool(xp.baseAddress!, yp.baseAddress!)
                        }
                    }
                    XCTAssertEqual(y, expected, context)
                    if pads[0] < kernel[0] { XCTAssertFalse(expected.contains(-.infinity), context) }
                }
            }
        }
    }

    /// Pools whose one window covers the whole plane (ResNet-50's 7×7 on 7×7, Inception v1's
    /// 7×7 with end padding on 6×6, a padded 3×3 on 1×1) take the whole-plane average; with
    /// and without count_include_pad, threads 1 and 2 (700 planes pass the split threshold).
    func testWholePlaneAveragePoolMatchesReference() throws {
        let cases: [(kernel: [Int], pads: [Int], size: Int)] = [([7, 7], [0, 0, 0, 0], 7), ([7, 7], [0, 0, 1, 1], 6), ([3, 3], [1, 1, 1, 1], 1)]
        for threads in [1, 2] {
            Parallel.threads = threads
            for (kernel, pads, size) in cases {
                let node = Node(
                    name: "p", opType: "AveragePool", domain: "", inputs: ["x"], outputs: ["y"],
                    attributes: ["pads": .ints(pads.map(Int64.init))], opset: 13)
                let window = try Window(node: node, kernel: kernel, inH: size, inW: size, ceilMode: false)
                XCTAssertEqual([window.outH, window.outW], [1, 1])
                let planes = 700
                assertPoolKernelMatchesReference(
                    window: window, planes: planes, input: randoms(planes * size * size), "\(kernel) p\(pads) on \(size)² threads \(threads)")
            }
        }
    }

    /// Global average and max pooling against a Double reference, for plane sizes below,
    /// at and past the 8-lane sum (1, 7, 8, 13² = SqueezeNet's last map, 7² + 3).
    func testGlobalPoolingMatchesReference() throws {
        for size in [1, 7, 8, 169, 52] {
            let planes = 37
            let x = randoms(planes * size)
            for kind in [PoolOp.Kind.average, .max] {
                var y = [Float](repeating: .nan, count: planes)
                x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { GlobalPoolKernel(kind: kind, planes: planes, size: size).pool(xp.baseAddress!, $0.baseAddress!) }
                }
                for p in 0..<planes {
                    let plane = x[(p * size)..<((p + 1) * size)].map(Double.init)
                    let expected = kind == .average ? plane.reduce(0, +) / Double(size) : plane.max()!
                    XCTAssertEqual(Double(y[p]), expected, accuracy: 1e-6, "size \(size) \(kind) plane \(p)")
                }
            }
        }
    }

    /// LRN against its formula in Double, for the beta = 0.75 fast path and a general beta,
    /// odd and even window sizes, threads 1 and 2.
    func testLRNMatchesFormula() throws {
        defer { InstructionSet.forcePortable(false) }
        // Planes of 117 (narrower than the C kernel's column: vectors then one ending at the
        // plane's end), 5 (portable), 8, 300 (a 256 column, then one shifted back to end at
        // the plane's end); window sizes up to the C kernel's 16 and past it (Swift loop).
        for (shape, portable) in [([2, 11, 9, 13], false), ([2, 11, 9, 13], true), ([1, 7, 1, 5], false), ([1, 20, 2, 4], false), ([2, 9, 10, 30], false)] {
        InstructionSet.forcePortable(portable)
        let (batch, channels, inner) = (shape[0], shape[1], shape[2] * shape[3])
        let x = randoms(shape.reduce(1, *)).map { $0 * 3 }
        for threads in [1, 2] {
            Parallel.threads = threads
            for (size, beta) in [(5, Float(0.75)), (4, 0.6), (1, 0.75), (2, 0.75), (16, 0.75), (17, 0.75)] {
                let (alpha, bias): (Float, Float) = (0.3, 1.5)
                let node = Node(
                    name: "l", opType: "LRN", domain: "", inputs: ["x"], outputs: ["y"],
                    attributes: ["size": .int(Int64(size)), "alpha": .float(alpha), "beta": .float(beta), "bias": .float(bias)], opset: 13)
                let y = try LRNOp(node: node).evaluate([HostTensor(shape: shape, floats: x)])[0].floats
                let before = (size - 1) / 2, after = size - 1 - before
                var worst = 0.0
                for n in 0..<batch {
                    for c in 0..<channels {
                        for s in 0..<inner {
                            var sum = 0.0
                            for k in max(0, c - before)...min(channels - 1, c + after) {
                                let v = Double(x[(n * channels + k) * inner + s]); sum += v * v
                            }
                            let i = (n * channels + c) * inner + s
                            let expected = Double(x[i]) / Foundation.pow(Double(bias) + Double(alpha) / Double(size) * sum, Double(beta))
                            worst = max(worst, abs(Double(y[i]) - expected) / max(1, abs(expected)))
                        }
                    }
                }
                XCTAssertLessThan(worst, 1e-6, "\(shape) portable \(portable) size \(size) beta \(beta) threads \(threads)")
            }
        }
        }
    }
    /// The C Winograd transforms and GEMMs (AVX2: packed kernel; portable: OpenBLAS), F(2×2, 3×3)
    /// and F(4×4, 3×3), equal `ConvReference` within 1e-4 of the output's magnitude: widths
    /// with whole 8-tile vectors plus a tail, output sizes that are not a multiple of the tile
    /// (a tile's last rows/columns dropped), bands, every activation kind, a partial last
    /// block of 8 tiles (AVX2; 16 for the AVX-512 transforms, whose output blocks span tile rows). With 2 threads every way of sharing an image (`Split`): with bands of 3
    /// tile rows a thread's run of tiles (`.tiles`) starts and ends inside tile rows.
    func testWinogradTransformsBothPathsMatchReference() throws {
        let cases: [(input: [Int], weights: [Int], pads: [Int64], band: Int?, activation: Activation)] = [
            ([1, 16, 37, 41], [16, 16, 3, 3], [1, 1, 1, 1], nil, .relu),
            ([1, 16, 37, 41], [20, 16, 3, 3], [0, 2, 1, 0], 3, .clip(min: -0.5, max: 0.5)),
            ([2, 17, 20, 35], [16, 17, 3, 3], [1, 1, 1, 1], 2, .leakyRelu(alpha: 0.1)),
            ([1, 16, 34, 34], [16, 16, 3, 3], [1, 1, 1, 1], 1, .none),
            // The packed GEMM: K = C = 300 (two k-blocks), M = 23 (ragged panel), T = 5·5 tiles.
            ([1, 300, 10, 10], [23, 300, 3, 3], [1, 1, 1, 1], nil, .relu),
            // On AVX-512 the channel-lanes products (ck_lanes_fits: 16 or 49 tiles, C ≥ 64):
            // M = 70 in 32-row blocks (0..<64 and 64..<70 under the output-channel split).
            ([1, 96, 14, 14], [70, 96, 3, 3], [1, 1, 1, 1], nil, .clip(min: 0, max: 6)),
        ]
        for threads in [1, 2] {
            Parallel.threads = threads
            // The vector paths only where the CPU runs them (InstructionSet says so); AVX-512
            // runs F(4×4)'s transforms in blocks of 16 tiles (AVX2: 8).
            let paths: [(isa: String, avx2: Bool, capAtAVX2: Bool)] =
                [("portable", false, false)] + (InstructionSet.hasAVX2 ? [("avx2", true, true)] : [])
                + (InstructionSet.hasAVX512 ? [("avx512", true, false)] : [])
            for (isa, avx2, capAtAVX2) in paths {
                InstructionSet.forceAVX2(capAtAVX2)
                defer { InstructionSet.forceAVX2(false) }
                for tile in [2, 4] {
                let splits: [WinogradConvKernel.Split?] = threads == 1 ? [nil] : [nil, .tiles, .outputChannels, .steps]
                for split in splits {
                for (input, weights, pads, band, activation) in cases {
                    let node = Node(name: "c", opType: "Conv", domain: "", inputs: ["x", "w", "b"], outputs: ["y"], attributes: ["pads": .ints(pads)], opset: 13)
                    var op = try ConvOp(node: node)
                    op.activation = activation
                    let g = try op.geometry(input: input, weights: weights)
                    XCTAssertTrue(WinogradConvKernel.applies(to: g))
                    let c = randomConvCase(g, input: input, weights: weights)
                    let expected = activation.applied(to: c.reference)
                    let kernel = WinogradConvKernel(
                        geometry: g, weights: c.w, bias: c.b, activation: activation, bandTileRows: band, avx2: avx2, tile: tile,
                        split: split)
                    let y = kernel.output(inputs: [c.x, nil, nil], outputCount: expected.count)
                    let scale = expected.map { abs($0) }.max() ?? 1
                    let diff = maxAbsDifference(y, expected)
                    XCTAssertLessThan(
                        diff, 1e-4 * max(1, scale),
                        "\(input) \(weights) pads \(pads) \(activation) \(isa) tile \(tile) threads \(threads) split \(String(describing: split)) → \(kernel.split)")
                    if threads == 2 {  // the .tiles cut is learned (SplitBalance)
                        assertSameOutputAtEitherCut(
                            kernel, kernel.balance, inputs: [c.x, nil, nil], output: y, "\(input) \(weights) tile \(tile) split \(kernel.split) \(isa)")
                    }
                }
                }
                }
            }
        }
    }
}
