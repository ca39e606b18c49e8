import CKernels
import Foundation
import TestSupport
import XCTest

/// The vectorized erf, GELU, exp and sigmoid (Sources/CKernels/vmath.c) on every path this CPU
/// has — AVX-512, AVX2+FMA (ck_force_avx2 caps the dispatch), portable (libm) — against Double
/// libm on a dense grid, on lengths that leave every tail, and on the special values.
final class VectorMathTests: XCTestCase {
    override func tearDown() { KernelPaths.reset() }

    /// Worst |ours − exact| (or relative, for exp) over `x`.
    func worst(_ x: [Float], _ kernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void,
               _ exact: (Double) -> Double, relative: Bool = false) -> (error: Double, at: Float) {
        var y = [Float](repeating: .nan, count: x.count)
        kernel(x, &y, x.count)
        var result = (error: 0.0, at: Float(0))
        for (xi, yi) in zip(x, y) {
            let e = exact(Double(xi))
            let error = relative ? abs(Double(yi) - e) / e : abs(Double(yi) - e)
            if !(error <= result.error) { result = (error, xi) }  // NaN counts as worst
        }
        return result
    }

    func testErfGeluExpSigmoidMatchDoubleLibm() {
        // −6 … 6 in 300,001 steps: both erf branches, the ±1 clamp, and every tail length.
        let grid = (0...300_000).map { Float(-6 + 12 * Double($0) / 300_000) }
        let wide = (0...300_000).map { Float(-87 + 175 * Double($0) / 300_000) }  // e^x normal range
        for (name, select) in KernelPaths.available() {
            select()
            let erf = worst(grid, { ck_erf($0, $1, $2) }, Foundation.erf)
            XCTAssertLessThanOrEqual(erf.error, 2e-7, "\(name) erf at \(erf.at)")
            let gelu = worst(grid, { ck_gelu($0, $1, $2) }, { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) })
            XCTAssertLessThanOrEqual(gelu.error, 6e-7, "\(name) gelu at \(gelu.at)")
            let exp = worst(wide, { ck_exp($0, $1, $2) }, Foundation.exp, relative: true)
            XCTAssertLessThanOrEqual(exp.error, 2e-7, "\(name) exp at \(exp.at)")
            let sigmoid = worst(wide, { ck_sigmoid($0, $1, $2) }, { 1 / (1 + Foundation.exp(-$0)) })
            XCTAssertLessThanOrEqual(sigmoid.error, 2e-7, "\(name) sigmoid at \(sigmoid.at)")
            // Every tail length of the 8- and 16-lane loops, in place (x and y the same array).
            for n in 0...33 {
                var v = (0..<n).map { Float($0) / 8 - 2 }
                let expected = v.map { Float(Foundation.erf(Double($0))) }
                v.withUnsafeMutableBufferPointer { p in if let base = p.baseAddress { ck_erf(base, base, n) } }
                for (got, want) in zip(v, expected) { XCTAssertEqual(got, want, accuracy: 2e-7, "\(name) erf n=\(n)") }
            }
        }
    }

    func testSpecialValues() {
        let special: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, 100, -100, 88.5, -88]
        for (name, select) in KernelPaths.available() {
            select()
            var y = [Float](repeating: 0, count: special.count)
            ck_erf(special, &y, special.count)
            XCTAssertTrue(y[0].isNaN, "\(name) erf(NaN)")
            XCTAssertEqual(Array(y[1...6]), [1, -1, 0, -0.0, 1, -1], "\(name) erf")
            XCTAssertEqual(y[4].sign, .minus, "\(name) erf(−0) keeps its sign")
            ck_exp(special, &y, special.count)
            XCTAssertTrue(y[0].isNaN, "\(name) exp(NaN)")
            XCTAssertEqual(Array(y[1...5]), [.infinity, 0, 1, 1, .infinity], "\(name) exp")
            XCTAssertLessThanOrEqual(y[6], 1e-38, "\(name) exp(−100): 0 on the vector paths, subnormal in libm")
            XCTAssertEqual(Double(y[7]), Foundation.exp(88.5), accuracy: 2e-7 * Foundation.exp(88.5), "\(name) exp(88.5), 2¹²⁸ territory")
            ck_sigmoid(special, &y, special.count)
            XCTAssertEqual(Array(y[1...6]), [1, 0, 0.5, 0.5, 1, 0], "\(name) sigmoid")
        }
    }
}
