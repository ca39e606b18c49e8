@testable import Inference
import XCTest

// Shared by the kernel tests (KernelTests, EngineKernelTests, DepthwiseKernelTests,
// PointwiseKernelTests): seeded random data, running a kernel on arrays, the conv reference
// case, and the max-difference measure they assert on.

/// A test case drawing seeded random values: `randoms(n)` advances `randomState` (a 64-bit
/// LCG, Knuth's MMIX constants), so each test method (XCTest makes a fresh instance per method)
/// sees the same data on every machine. Values are uniform on {-1, -0.999, …, 0.999}.
protocol SeededKernelTest: AnyObject {
    var randomState: UInt64 { get set }
}

extension SeededKernelTest {
    func random() -> Float {
        randomState = randomState &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: randomState >> 11) % 2000 - 1000) / 1000
    }

    func randoms(_ n: Int) -> [Float] { (0..<n).map { _ in random() } }

    /// Random input, weights and bias (drawn in that order) for a conv of `g` with the given
    /// input and weight shapes, and `ConvReference`'s output on them (before any activation).
    func randomConvCase(_ g: ConvGeometry, input: [Int], weights: [Int]) -> ConvCase {
        let x = randoms(input.reduce(1, *)), w = randoms(weights.reduce(1, *)), b = randoms(weights[0])
        return ConvCase(x: x, w: w, b: b, reference: ConvReference.run(g, input: x, weights: w, bias: b))
    }
}

/// One conv test case: input, weights, bias and the reference output without activation.
struct ConvCase {
    let x: [Float], w: [Float], b: [Float]
    let reference: [Float]
}

extension Kernel {
    /// Runs the kernel on `inputs` (nil = an input the kernel does not read, e.g. constant
    /// weights it holds itself) and returns its first output of `outputCount` floats. The
    /// output starts as NaN (every element must be written) and the scratch area
    /// (`scratchCount` floats, at least 1) as `scratchFill`: NaN, unless a test means to
    /// allow a kernel to read zeroed scratch.
    /// The output computed into input `donor`'s own buffer (which holds that input's values
    /// when the kernel starts), as ExecutionPlan runs a kernel whose `overwritableInput` it is.
    func outputInPlace(inputs: [[Float]?], overwriting donor: Int) -> [Float] {
        let pointers = Self.copies(of: inputs)
        defer { for p in pointers { p?.deallocate() } }
        var scratch = [Float](repeating: .nan, count: max(1, scratchCount))
        scratch.withUnsafeMutableBufferPointer { sp in
            run(inputs: pointers.map { $0.map { UnsafePointer($0) } }, outputs: [pointers[donor]!], scratch: sp.baseAddress!)
        }
        return Array(UnsafeBufferPointer(start: pointers[donor]!, count: inputs[donor]!.count))
    }

    /// Each input copied into memory of its own (nil stays nil); the caller deallocates.
    static func copies(of inputs: [[Float]?]) -> [UnsafeMutablePointer<Float>?] {
        inputs.map { values -> UnsafeMutablePointer<Float>? in
            guard let values else { return nil }
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, values.count))
            p.initialize(from: values, count: values.count)
            return p
        }
    }

    func output(inputs: [[Float]?], outputCount: Int, scratchFill: Float = .nan) -> [Float] {
        let pointers = Self.copies(of: inputs)
        defer { for p in pointers { p?.deallocate() } }
        var y = [Float](repeating: .nan, count: outputCount)
        var scratch = [Float](repeating: scratchFill, count: max(1, scratchCount))
        y.withUnsafeMutableBufferPointer { yp in
            scratch.withUnsafeMutableBufferPointer { sp in
                run(inputs: pointers.map { $0.map { UnsafePointer($0) } }, outputs: [yp.baseAddress!], scratch: sp.baseAddress!)
            }
        }
        return y
    }
}

/// `PoolKernel` equals the bounds-checking `PoolReference` within 1e-6 on `x` (`planes`
/// planes of the window's input size) for max and average pooling, with and without
/// countIncludePad; the output starts as NaN. `context` names the case in failure messages.
func assertPoolKernelMatchesReference(
    window: Window, planes: Int, input x: [Float], _ context: String, file: StaticString = #filePath, line: UInt = #line
) {
    for kind in [PoolOp.Kind.max, .average] {
        for includePad in [false, true] {
            let expected = PoolReference.pool(kind: kind, window: window, planes: planes, countIncludePad: includePad, input: x)
            var y = [Float](repeating: .nan, count: expected.count)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    PoolKernel(kind: kind, window: window, planes: planes, countIncludePad: includePad)
                        .pool(xp.baseAddress!, yp.baseAddress!)
                }
            }
            XCTAssertLessThan(
                maxAbsDifference(y, expected), 1e-6, "\(kind) includePad \(includePad) \(context)", file: file, line: line)
        }
    }
}

/// max |a[i] − b[i]|, or NaN when the lengths differ or either holds a NaN (an output element
/// left unwritten): NaN fails every `XCTAssertLessThan`, where `Sequence.max()` would silently
/// skip a NaN that is not the first element.
func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .nan }
    var worst: Float = 0
    for (x, y) in zip(a, b) {
        let d = abs(x - y)
        if d.isNaN { return .nan }
        worst = max(worst, d)
    }
    return worst
}

extension SplitBalance {
    /// Moves the learned cut to one bound, as if one thread had been three times faster on
    /// every pass (`callerFaster`: the caller's share grows), so that tests run the kernels
    /// with uneven cuts too.
    func skew(callerFaster: Bool) {
        for _ in 0..<40 { record(callerWork: callerShare, callerTime: callerFaster ? 1_000 : 3_000, workerTime: callerFaster ? 3_000 : 1_000) }
    }
}

/// Runs `kernel` again with its learned two-thread cut (`balance`) moved to either bound and
/// asserts the output equals `output` (the run at the cut it had) bit for bit: where the
/// threads meet never changes the result (SplitBalance cuts only in granules that keep it).
func assertSameOutputAtEitherCut(
    _ kernel: Kernel, _ balance: SplitBalance, inputs: [[Float]?], output: [Float], _ message: String,
    file: StaticString = #filePath, line: UInt = #line
) {
    for callerFaster in [true, false] {
        balance.skew(callerFaster: callerFaster)
        let skewed = kernel.output(inputs: inputs, outputCount: output.count)
        XCTAssertEqual(skewed, output, "\(message), cut skewed \(callerFaster ? "up" : "down")", file: file, line: line)
    }
}
