import Foundation
import Learning
import XCTest

/// The acceptance cases on 10,000 × 1280 synthetic CNN codes (non-negative, clustered):
/// both classifiers against scikit-learn, one data set load per test.
final class CodesReferenceTests: XCTestCase {
    func testTwentyClassCodes() throws {
        let reference = try SklearnReference()
        let data = try reference.dataSet("c20")
        try checkSVM(reference, data, set: "c20", model: "svm", loss: .squaredHinge)
        try checkSoftmax(reference, data, set: "c20", model: "softmax")
    }

    func testTwoClassCodes() throws {
        let reference = try SklearnReference()
        let data = try reference.dataSet("c2")
        try checkSVM(reference, data, set: "c2", model: "svm", loss: .squaredHinge)
        try checkSoftmax(reference, data, set: "c2", model: "softmax")
    }
}
