import CKernels
import TestSupport
import XCTest

/// The C distance kernels HNSW search and build run on (Sources/CKernels/search.c): every
/// instruction-set path this CPU has — AVX-512, AVX2+FMA (ck_force_avx2 caps the dispatch),
/// portable — against a Double reference, over lengths that leave every tail: below one
/// vector, one vector ± 1, whole 64-float blocks ± 1, and the usual code lengths.
final class DistanceKernelTests: XCTestCase {
    static let lengths = [1, 7, 8, 9, 15, 16, 17, 31, 63, 64, 65, 112, 127, 128, 129, 1280, 1283, 4096]

    override func tearDown() { KernelPaths.reset() }

    func testDotAndSquaredDistanceMatchDoubleReference() {
        var generator = SystemRandomNumberGenerator()
        for (name, select) in KernelPaths.available() {
            select()
            for n in DistanceKernelTests.lengths {
                let a = (0..<n).map { _ in Float.random(in: -1...1, using: &generator) }
                let b = (0..<n).map { _ in Float.random(in: -1...1, using: &generator) }
                let dot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                let l2 = zip(a, b).reduce(0.0) { $0 + (Double($1.0) - Double($1.1)) * (Double($1.0) - Double($1.1)) }
                // Float sums of n terms of magnitude <= 1 (<= 4 for l2): error well under n · 1e-6.
                let tolerance = Double(n) * 1e-6 + 1e-6
                XCTAssertEqual(Double(ck_dot(a, b, n)), dot, accuracy: tolerance, "\(name) dot n=\(n)")
                XCTAssertEqual(Double(ck_l2sq(a, b, n)), l2, accuracy: 4 * tolerance, "\(name) l2sq n=\(n)")
            }
        }
    }

    /// ck_distances_gathered: rows picked by id from a strided base (HNSW's level-0 records:
    /// a vector followed by links), negated dot products or squared distances, in order.
    func testGatheredDistancesMatchPerRowKernels() {
        let rows = 50
        for (name, select) in KernelPaths.available() {
            select()
            for n in [17, 128, 1283] {
                let stride = (n + 9) * MemoryLayout<Float>.size  // 9 floats of other record data
                var base = [Float](repeating: .nan, count: rows * (n + 9))
                for r in 0..<rows { for j in 0..<n { base[r * (n + 9) + j] = Float((r * 31 + j * 7) % 23) / 11 - 1 } }
                let query = (0..<n).map { Float(($0 * 13) % 17) / 8 - 1 }
                let nodes: [UInt32] = [3, 49, 0, 17, 17, 8, 31, 22, 5]
                for squared in [0, 1] {
                    var out = [Float](repeating: 0, count: nodes.count)
                    base.withUnsafeBytes { raw in
                        ck_distances_gathered(Int32(squared), query, raw.baseAddress!, stride, nodes, nodes.count, n, &out)
                    }
                    for (k, node) in nodes.enumerated() {
                        let row = Array(base[Int(node) * (n + 9)..<(Int(node) * (n + 9) + n)])
                        let expected = squared == 1 ? ck_l2sq(query, row, n) : -ck_dot(query, row, n)
                        XCTAssertEqual(out[k], expected, "\(name) n=\(n) squared=\(squared) node \(node)")
                    }
                }
            }
        }
    }
}
