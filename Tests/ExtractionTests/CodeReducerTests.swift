@testable import Extraction
import Tensor
import XCTest

final class CodeReducerTests: XCTestCase {
    // Two images, 2 channels, 2×2 maps; hand-computed expectations.
    let map = Tensor(shape: [2, 2, 2, 2], data: [
        1, -3, 5, 2, /* c1 */ -1, -2, -4, -8,
        0, 0, 0, 4, /* c1 */ 3, -3, 3, -3,
    ])

    func testAveragePoolingOfReluedMaps() {
        let codes = CodeReducer(relu: true, pooling: .avg).codes(from: map)
        XCTAssertEqual(codes, [[2, 0], [1, 1.5]])
    }

    func testMaxPoolingAndNoRelu() {
        XCTAssertEqual(CodeReducer(relu: true, pooling: .max).codes(from: map), [[5, 0], [4, 3]])
        XCTAssertEqual(CodeReducer(relu: false, pooling: .avg).codes(from: map), [[1.25, -3.75], [1, 0]])
        XCTAssertEqual(CodeReducer(relu: false, pooling: .max).codes(from: map), [[5, -1], [4, 3]])
    }

    func testFlattenKeepsCOrder() {
        let codes = CodeReducer(relu: true, pooling: .none).codes(from: map)
        XCTAssertEqual(codes[0], [1, 0, 5, 2, 0, 0, 0, 0])
        XCTAssertEqual(CodeReducer(pooling: .none).codeLength(forOutputShape: [2, 2, 2, 2]), 8)
        XCTAssertEqual(CodeReducer(pooling: .avg).codeLength(forOutputShape: [2, 1280, 1, 1]), 1280)
    }

    func testTwoDimensionalOutputsAreOnlyRelued() {
        let fc = Tensor(shape: [2, 3], data: [-1, 2, 0.5, 3, -0, -7])
        XCTAssertEqual(CodeReducer().codes(from: fc), [[0, 2, 0.5], [3, 0, 0]])
        XCTAssertEqual(CodeReducer(relu: false).codes(from: fc)[1], [3, -0, -7])
    }

    func testEtaFormatting() {
        XCTAssertEqual(ProgressReporter.format(seconds: 75), "01:15")
        XCTAssertEqual(ProgressReporter.format(seconds: 3725), "1:02:05")
        XCTAssertEqual(ProgressReporter.format(seconds: .infinity), "--:--")
    }
}
