import Tensor
import XCTest

/// The BLAS wrapper against a naive triple loop (row-major, transposes, alpha/beta).
final class BLASTests: XCTestCase {
    func testSgemmMatchesNaiveProductForAllTransposes() {
        var rng = SystemRandomNumberGenerator()
        let m = 7, n = 5, k = 9
        for transA in [false, true] {
            for transB in [false, true] {
                let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &rng) }
                let b = (0..<(k * n)).map { _ in Float.random(in: -1...1, using: &rng) }
                let c0 = (0..<(m * n)).map { _ in Float.random(in: -1...1, using: &rng) }
                var c = c0
                let lda = transA ? m : k, ldb = transB ? k : n
                BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5,
                           a: a, lda: lda, b: b, ldb: ldb, beta: 2, c: &c, ldc: n)
                for i in 0..<m {
                    for j in 0..<n {
                        var sum: Float = 0
                        for p in 0..<k {
                            let av = transA ? a[p * lda + i] : a[i * lda + p]
                            let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                            sum += av * bv
                        }
                        XCTAssertEqual(c[i * n + j], 0.5 * sum + 2 * c0[i * n + j], accuracy: 1e-5)
                    }
                }
            }
        }
    }

    func testDotAndAxpy() {
        let x: [Float] = [1, 2, 3], y0: [Float] = [4, -5, 6]
        XCTAssertEqual(BLAS.sdot(3, x, y0), 12)
        var y = y0
        BLAS.saxpy(3, alpha: 2, x, &y)
        XCTAssertEqual(y, [6, -1, 12])
    }
}

/// Tensor shape helpers.
final class TensorShapeTests: XCTestCase {
    func testStridesRowsAndStack() {
        let t = Tensor(shape: [2, 3, 4], data: (0..<24).map(Float.init))
        XCTAssertEqual(t.strides, [12, 4, 1])
        XCTAssertEqual(t[1, 2, 3], 23)
        XCTAssertEqual(t.rows(1..<2).data.first, 12)
        let s = Tensor.stack([t.rows(0..<1).reshaped([12]), t.rows(1..<2).reshaped([12])])
        XCTAssertEqual(s.shape, [2, 12])
        XCTAssertEqual(s.data, t.data)
    }
}
