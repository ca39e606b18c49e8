import Foundation
import Learning
import XCTest

/// Softmax regression against scikit-learn's LogisticRegression (lbfgs, tol 1e-6) on the
/// small imbalanced 8-class fixture set (1,200 × 64).
final class SoftmaxRegressionTests: XCTestCase {
    func testMatchesLogisticRegression() throws {
        let reference = try SklearnReference()
        try checkSoftmax(reference, try reference.dataSet("s8"), set: "s8", model: "softmax")
    }

    func testBalancedClassWeightsMatchLogisticRegression() throws {
        let reference = try SklearnReference()
        try checkSoftmax(reference, try reference.dataSet("s8"), set: "s8", model: "softmax_balanced",
                         weighting: .balanced)
    }
}
