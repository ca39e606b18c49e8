import Foundation
import Learning
import XCTest

/// The acceptance case on real codes: efficientnet_lite0 pooled codes (1280-d) of
/// ../shared/data/hymenoptera, extracted by the fixture script with ONNX Runtime + PIL;
/// C = 1 as ../shared/bench/tl_reference.py. Val accuracy >= 0.94 and within 0.5 point of
/// scikit-learn, objective within 1e-3. Skips when ../shared was absent at fixture time.
final class HymenopteraCodesTests: XCTestCase {
    func testBothClassifiersMatchScikitLearnOnRealCodes() throws {
        let reference = try SklearnReference("hymenoptera.json")
        let data = try reference.dataSet("hym")
        // C = 1 on 245 separable rows of dimension 1280: the dual needs many epochs.
        try checkSVM(reference, data, set: "hym", model: "svm", loss: .squaredHinge, maxIterations: 100_000)
        try checkSoftmax(reference, data, set: "hym", model: "softmax")
        for name in ["svm", "softmax"] {
            XCTAssertGreaterThanOrEqual(try reference.model("hym", name).testAccuracy, 0.94, "sklearn \(name) on hymenoptera")
        }
    }
}
