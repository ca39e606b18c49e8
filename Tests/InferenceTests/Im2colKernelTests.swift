@testable import Inference
import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import XCTest

/// The C im2col (Sources/CKernels/im2col.c) against the definition written out element by
/// element, on its AVX2 path (when the CPU has it) and its portable path.
final class Im2colKernelTests: XCTestCase, SeededKernelTest {
    var randomState: UInt64 = 4242

    override func tearDown() {
        InstructionSet.forcePortable(false)
        Parallel.threads = 1
    }

    /// col[(c·kH + ky)·kW + kx][p − pixels.lower] = x[c][iy][ix] (p = oy·outW + ox) or 0
    /// outside the plane, rows `ld` apart, NaN in the gap between a row's end and the next row
    /// (which the kernel may overwrite): the semantics of the Swift loop `ConvKernel.im2col` was before.
    func reference(_ x: [Float], channels: Int, window w: Window, pixels: Range<Int>, ld: Int) -> [Float] {
        var col = [Float](repeating: .nan, count: channels * w.kernelH * w.kernelW * ld)
        for c in 0..<channels {
            for ky in 0..<w.kernelH {
                for kx in 0..<w.kernelW {
                    let r = (c * w.kernelH + ky) * w.kernelW + kx
                    for p in pixels {
                        let (oy, ox) = (p / w.outW, p % w.outW)
                        let iy = oy * w.strideH - w.padTop + ky * w.dilationH
                        let ix = ox * w.strideW - w.padLeft + kx * w.dilationW
                        let inside = iy >= 0 && iy < w.inH && ix >= 0 && ix < w.inW
                        col[r * ld + p - pixels.lowerBound] = inside ? x[(c * w.inH + iy) * w.inW + ix] : 0
                    }
                }
            }
        }
        return col
    }

    /// Equal element for element where `expected` is not NaN (NaN marks the gaps).
    func matches(_ a: [Float], _ expected: [Float]) -> Bool {
        a.count == expected.count && zip(a, expected).allSatisfy { $0 == $1 || $1.isNaN }
    }

    /// Floats placed so that the last one ends exactly at a page that may not be touched (a
    /// PROT_NONE guard page): a read past the input or a write past the column matrix crashes
    /// the test instead of passing.
    final class GuardedBuffer {
        let base: UnsafeMutableRawPointer, length: Int
        let floats: UnsafeMutablePointer<Float>

        init?(_ values: [Float]) {
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            let dataPages = (values.count * 4 + page - 1) / page
            length = (dataPages + 1) * page
            guard let m = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), m != MAP_FAILED else {
                return nil
            }
            base = m
            guard mprotect(m + dataPages * page, page, PROT_NONE) == 0 else { munmap(m, length); return nil }
            floats = (m + dataPages * page - values.count * 4).bindMemory(to: Float.self, capacity: values.count)
            floats.initialize(from: values, count: values.count)
        }

        func array(_ count: Int) -> [Float] { Array(UnsafeBufferPointer(start: floats, count: count)) }

        deinit { munmap(base, length) }
    }

    /// Strides 1, 2, 3 and 4 (3 and 4 take the gather), pads on every side (asymmetric, wider
    /// than the kernel's reach), dilation, odd widths below / at / above the 8-float vectors and
    /// the stride-2 16-float reads, 1×1 strided windows (the pointwise subsample), pixel
    /// bands (whole image, one pixel, ranges starting and ending inside output rows), row
    /// strides without a gap, with a short one (3) and with one that allows whole-vector
    /// stores (11), ranges of patch rows (as threads split them, written last to first, so a
    /// row that spilled into the next would show), and channel subsets of a larger input (a
    /// group). The column buffer starts as NaN: every element must be written; the input ends
    /// at a guard page: nothing past it may be read.
    func testIm2colMatchesDefinitionOnBothPaths() throws {
        for portable in [false, true] {
            InstructionSet.forcePortable(portable)
            for threads in [1, 2] {
                Parallel.threads = threads
                for (channels, inH, inW, kernel, attributes) in Im2colKernelTests.windows {
                    let node = Node(
                        name: "c", opType: "Conv", domain: "", inputs: ["x", "w"], outputs: ["y"], attributes: attributes, opset: 13)
                    let window = try Window(node: node, kernel: kernel, inH: inH, inW: inW)
                    // One extra leading channel: the tested channels are a group at an offset.
                    let all = randoms((channels + 1) * inH * inW)
                    let x = Array(all[(inH * inW)...])
                    guard let input = GuardedBuffer(all) else { XCTFail("mmap failed"); return }
                    let context = "\(channels)×\(inH)×\(inW) \(kernel) \(attributes) portable \(portable) threads \(threads)"
                    let count = window.outH * window.outW
                    var bands = [0..<count, 0..<1, count - 1..<count]
                    if window.outW > 2 { bands += [3..<min(count, 2 * window.outW + 1), window.outW - 1..<count] }
                    for pixels in bands {
                        for ld in [pixels.count, pixels.count + 3, pixels.count + 11] {
                            let expected = reference(x, channels: channels, window: window, pixels: pixels, ld: ld)
                            guard let col = GuardedBuffer([Float](repeating: .nan, count: expected.count)),
                                let parts = GuardedBuffer([Float](repeating: .nan, count: expected.count))
                            else { XCTFail("mmap failed"); return }
                            ConvKernel.im2col(
                                input.floats + inH * inW, channels: channels, window: window, pixels: pixels, into: col.floats,
                                ld: ld)
                            XCTAssertTrue(matches(col.array(expected.count), expected), "\(context) pixels \(pixels) ld \(ld)")
                            // Patch-row ranges written separately fill the same matrix.
                            let patches = channels * kernel[0] * kernel[1]
                            var w = window.ck
                            for (lower, upper) in [(patches / 2, patches), (1, patches / 2), (0, 1)] {
                                ck_im2col(
                                    input.floats + inH * inW, Int32(channels), &w, pixels.lowerBound, pixels.upperBound,
                                    Int32(lower), Int32(upper), parts.floats, ld)
                            }
                            XCTAssertTrue(matches(parts.array(expected.count), expected), "\(context) pixels \(pixels) ld \(ld) in patch ranges")
                        }
                    }
                }
            }
        }
    }

    /// ck_implicit_conv (the packed GEMM gathering its strips from the input, AVX-512) equals
    /// act(bias + W · col) with col the definition above, over every window of the im2col test
    /// plus shapes that take its contiguous runs (16-pixel halves inside one output row at
    /// stride 1 and 2, a stride-2 run reaching the input's last float) and K past one k-block:
    /// whole images, pixel ranges starting and ending inside output rows (as threads split
    /// them), row ranges of whole panels. The input ends at a guard page, the output starts as
    /// NaN: nothing outside the range may be written. Where the CPU has no AVX-512 (or the ISA
    /// is capped at AVX2) the kernel must return 0 and leave the output alone.
    func testImplicitConvMatchesIm2colGEMM() throws {
        let extra: [(channels: Int, inH: Int, inW: Int, kernel: [Int], attributes: [String: Attribute])] = [
            (3, 64, 64, [7, 7], ["strides": .ints([2, 2]), "pads": .ints([3, 3, 3, 3])]),  // a stem: 32-wide rows
            (30, 20, 64, [3, 3], ["strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1])]),  // K = 270: two k-blocks
            (4, 9, 33, [3, 3], ["strides": .ints([2, 2])]),  // a stride-2 run whose 32nd float is past the input
            (5, 6, 40, [3, 3], [:]),  // stride 1, rows of 38: halves inside and across rows
            (3, 8, 48, [3, 3], ["pads": .ints([1, 1, 1, 1]), "dilations": .ints([1, 2])]),
            (1, 170, 170, [3, 3], ["pads": .ints([1, 1, 1, 1])]),  // 1.5 MB of output, K = 9: BLIS's order (chunks of 256 pixels)
        ]
        let relu = ck_activation(kind: CK_ACT_RELU, lo: 0, hi: 0)
        for avx2Cap in [true, false] {
            InstructionSet.forceAVX2(avx2Cap)
            defer { InstructionSet.forceAVX2(false) }
            let runs = InstructionSet.hasAVX512
            for (channels, inH, inW, kernel, attributes) in Im2colKernelTests.windows + extra {
                let node = Node(name: "c", opType: "Conv", domain: "", inputs: ["x", "w"], outputs: ["y"], attributes: attributes, opset: 13)
                let window = try Window(node: node, kernel: kernel, inH: inH, inW: inW)
                let m = 13, k = channels * kernel[0] * kernel[1], count = window.outH * window.outW
                let x = randoms(channels * inH * inW), w = randoms(m * k), bias = randoms(m)
                guard let input = GuardedBuffer(x) else { XCTFail("mmap failed"); return }
                let col = reference(x, channels: channels, window: window, pixels: 0..<count, ld: count)
                var packed = [Float](repeating: 0, count: ck_pointwise_packed_floats(Int32(m), Int32(k)))
                ck_pointwise_pack(w, Int32(m), Int32(k), &packed)
                var ck = window.ck
                var pixelRanges = [0..<count, count - 1..<count]
                if window.outW > 2 { pixelRanges += [3..<min(count, 2 * window.outW + 1), window.outW - 1..<count] }
                for pixels in pixelRanges {
                    for rows in [0..<m, 6..<m] {
                        var y = [Float](repeating: .nan, count: m * count)
                        let ok = ck_implicit_conv(
                            packed, bias, input.floats, Int32(channels), &ck, &y, Int32(m), Int32(rows.lowerBound), Int32(rows.upperBound),
                            pixels.lowerBound, pixels.upperBound, relu)
                        let context = "\(channels)×\(inH)×\(inW) \(kernel) \(attributes) pixels \(pixels) rows \(rows) avx2 cap \(avx2Cap)"
                        XCTAssertEqual(ok, runs ? 1 : 0, context)
                        var worst: Float = 0, untouched = true
                        for row in 0..<m {
                            for p in 0..<count {
                                let value = y[row * count + p]
                                guard runs && rows.contains(row) && pixels.contains(p) else {
                                    untouched = untouched && value.isNaN
                                    continue
                                }
                                var sum = Double(bias[row])
                                for r in 0..<k { sum += Double(w[row * k + r]) * Double(col[r * count + p]) }
                                worst = max(worst, abs(value - Float(max(sum, 0))))
                                if value.isNaN { worst = .infinity }
                            }
                        }
                        XCTAssertTrue(untouched, "\(context): wrote outside its range")
                        XCTAssertLessThan(worst, 1e-5 * Float(max(64, k)), context)
                    }
                }
            }
        }
    }

    /// The windows both tests run (see testIm2colMatchesDefinitionOnBothPaths).
    static let windows: [(channels: Int, inH: Int, inW: Int, kernel: [Int], attributes: [String: Attribute])] = [
        (3, 9, 11, [3, 3], ["pads": .ints([1, 1, 1, 1])]),
        (3, 23, 23, [7, 7], ["strides": .ints([2, 2]), "pads": .ints([3, 3, 3, 3])]),
        (3, 61, 67, [7, 7], ["strides": .ints([2, 2]), "pads": .ints([3, 3, 3, 3])]),
        (2, 17, 33, [3, 3], ["strides": .ints([2, 2]), "pads": .ints([0, 0, 1, 1])]),
        (2, 16, 32, [3, 3], ["strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1])]),
        (2, 15, 40, [3, 5], ["strides": .ints([1, 2]), "pads": .ints([2, 0, 1, 4])]),
        (3, 27, 27, [11, 11], ["strides": .ints([4, 4])]),
        (2, 31, 29, [11, 11], ["strides": .ints([4, 4]), "pads": .ints([2, 5, 2, 1])]),
        (2, 13, 19, [3, 3], ["strides": .ints([3, 3]), "pads": .ints([1, 1, 1, 1])]),
        (2, 12, 13, [3, 3], ["dilations": .ints([2, 3]), "pads": .ints([2, 3, 2, 3])]),
        (2, 14, 41, [3, 3], ["strides": .ints([2, 2]), "dilations": .ints([1, 2]), "pads": .ints([1, 2, 1, 2])]),
        (4, 14, 14, [1, 1], ["strides": .ints([2, 2])]),
        (5, 7, 9, [1, 1], ["strides": .ints([2, 2])]),
        (2, 5, 3, [5, 5], ["pads": .ints([4, 4, 4, 4])]),
        (1, 4, 4, [3, 3], ["pads": .ints([6, 7, 1, 0])]),
        (2, 9, 70, [5, 5], ["pads": .ints([2, 2, 2, 2])]),
    ]
}
