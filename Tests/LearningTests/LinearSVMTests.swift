import Foundation
import Learning
import XCTest

/// The SVM against scikit-learn's LinearSVC (LIBLINEAR -s 1 / -s 3, dual) on the small
/// imbalanced 8-class fixture set (1,200 × 64).
final class LinearSVMTests: XCTestCase {
    func testSquaredHingeMatchesLinearSVC() throws {
        let reference = try SklearnReference()
        try checkSVM(reference, try reference.dataSet("s8"), set: "s8", model: "svm", loss: .squaredHinge)
    }

    func testHingeMatchesLinearSVC() throws {
        let reference = try SklearnReference()
        try checkSVM(reference, try reference.dataSet("s8"), set: "s8", model: "hinge", loss: .hinge,
                     maxIterations: 20000)  // hinge converges slowly: LinearSVC took 6,255 epochs
    }

    func testBalancedClassWeightsMatchLinearSVC() throws {
        let reference = try SklearnReference()
        try checkSVM(reference, try reference.dataSet("s8"), set: "s8", model: "balanced", loss: .squaredHinge,
                     weighting: .balanced)
    }
}
