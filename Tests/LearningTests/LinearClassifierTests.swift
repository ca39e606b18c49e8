import Foundation
import Learning
import Tensor
import XCTest

/// Persistence, input checks and scaling of `LinearClassifier`, on small deterministic data.
final class LinearClassifierTests: XCTestCase {
    /// 4 classes in 6-D: class c has feature c raised; non-negative like ReLU'd codes.
    private func data(rows: Int = 120, dimension: Int = 6, seed: UInt64 = 7) -> ([Float], [Int]) {
        var generator = SeededGenerator(seed: seed)
        var x = [Float]()
        var labels = [Int]()
        for row in 0..<rows {
            let label = row % 4
            for j in 0..<dimension {
                let noise = Float(generator.next() % 1000) / 1000
                x.append((j == label ? 2 : 0) + noise)
            }
            labels.append(label)
        }
        return (x, labels)
    }

    private let names = ["ants", "bees", "wasps", "flies"]

    func testJSONRoundTripPredictsIdentically() throws {
        let (x, labels) = data()
        for scaling in Scaling.allCases {
            let models = [
                try LinearSVM.fit(x: x, rows: 120, dimension: 6, labels: labels, classNames: names,
                                  options: .init(C: 0.5, scaling: scaling)),
                try SoftmaxRegression.fit(x: x, rows: 120, dimension: 6, labels: labels, classNames: names,
                                          options: .init(C: 0.5, scaling: scaling)),
            ]
            for var model in models {
                model.collection = "hymenoptera/efficientnet_lite0/pool"
                model.evaluation = try ClassificationMetrics(
                    truth: labels, predicted: try model.predict(x, rows: 120), classes: names,
                    scores: try model.decisionFunction(x, rows: 120))
                let decoded = try LinearClassifier.fromJSON(try model.jsonData())
                XCTAssertEqual(decoded, model)
                XCTAssertEqual(try decoded.decisionFunction(x, rows: 120), try model.decisionFunction(x, rows: 120))
                XCTAssertEqual(try decoded.predict(x, rows: 120), try model.predict(x, rows: 120))
                XCTAssertGreaterThan(accuracy(try model.predict(x, rows: 120), labels), 0.95, "\(model.kind) \(scaling)")
            }
        }
    }

    func testDecodingRejectsForeignAndTruncatedBlobs() throws {
        let (x, labels) = data()
        let model = try LinearSVM.fit(x: x, rows: 120, dimension: 6, labels: labels, classNames: names)
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: model.jsonData()) as? [String: Any])
        object["weights"] = [Float](repeating: 0, count: 5)
        XCTAssertThrowsError(try LinearClassifier.fromJSON(JSONSerialization.data(withJSONObject: object)))
        object["format"] = "something-else"
        XCTAssertThrowsError(try LinearClassifier.fromJSON(JSONSerialization.data(withJSONObject: object)))
    }

    func testRefusesWrongDimension() throws {
        let (x, labels) = data()
        let model = try SoftmaxRegression.fit(x: x, rows: 120, dimension: 6, labels: labels, classNames: names)
        XCTAssertThrowsError(try model.predict([Float](repeating: 0, count: 10), rows: 2)) { error in
            XCTAssertEqual(error as? LearningError, .dimensionMismatch(expected: 6, actual: 5))
            XCTAssertTrue("\(error)".contains("dimension 5"), "\(error)")
        }
        XCTAssertThrowsError(try model.predict(Tensor(shape: [3, 7]))) { error in
            XCTAssertEqual(error as? LearningError, .dimensionMismatch(expected: 6, actual: 7))
        }
        XCTAssertThrowsError(try LinearSVM.fit(x: x, rows: 120, dimension: 6, labels: labels, classNames: names)
            .predictProbabilities(x, rows: 120))
    }

    func testTrainingErrorsNameTheProblem() throws {
        let (x, labels) = data()
        XCTAssertThrowsError(try LinearSVM.fit(x: [], rows: 0, dimension: 6, labels: [], classNames: names)) {
            XCTAssertEqual($0 as? LearningError, .emptyTrainingSet)
        }
        XCTAssertThrowsError(try SoftmaxRegression.fit(
            x: x, rows: 120, dimension: 6, labels: [Int](repeating: 2, count: 120), classNames: names)) {
            XCTAssertEqual($0 as? LearningError, .singleClass(name: "wasps"))
        }
        var bad = x
        bad[37 * 6 + 4] = .nan
        XCTAssertThrowsError(try LinearSVM.fit(x: bad, rows: 120, dimension: 6, labels: labels, classNames: names)) {
            XCTAssertEqual("\($0)", "row 37 has a non-finite feature (nan at column 4)")
        }
        bad[37 * 6 + 4] = 1
        bad[90 * 6] = .infinity
        XCTAssertThrowsError(try SoftmaxRegression.fit(x: bad, rows: 120, dimension: 6, labels: labels, classNames: names)) {
            XCTAssertEqual($0 as? LearningError, .nonFiniteFeature(row: 90, column: 0, value: .infinity))
        }
        XCTAssertThrowsError(try LinearSVM.fit(x: x, rows: 120, dimension: 6, labels: labels, classNames: names,
                                               options: .init(C: 0))) {
            XCTAssertTrue("\($0)".contains("C"), "\($0)")
        }
        XCTAssertThrowsError(try LinearSVM.fit(x: x, rows: 120, dimension: 6, labels: labels.map { $0 + 1 },
                                               classNames: names)) {
            XCTAssertEqual($0 as? LearningError, .labelOutOfRange(row: 3, label: 4, classCount: 4))
        }
    }

    func testNotConvergedIsFlagged() throws {
        let (x, labels) = data()
        let svm = try LinearSVM.fit(x: x, rows: 120, dimension: 6, labels: labels, classNames: names,
                                    options: .init(C: 100, maxIterations: 1))
        XCTAssertFalse(svm.training.converged)
        XCTAssertFalse(svm.training.warnings.isEmpty)
        let softmax = try SoftmaxRegression.fit(x: x, rows: 120, dimension: 6, labels: labels, classNames: names,
                                                options: .init(C: 100, maxIterations: 2))
        XCTAssertFalse(softmax.training.converged)
        XCTAssertFalse(softmax.training.warnings.isEmpty)
    }

    func testStandardScalerMatchesDefinition() {
        let x: [Float] = [1, 10, 3, 10, 5, 10]  // 3 rows × 2; column 1 constant
        let scaler = FeatureScaler.fit(.standard, x: x, rows: 3, dimension: 2)
        XCTAssertEqual(scaler.mean, [3, 10])
        XCTAssertEqual(Double(scaler.scale[0]), (8.0 / 3.0).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(scaler.scale[1], 1)
        let scaled = scaler.transform(x, rows: 3, dimension: 2)
        XCTAssertEqual(Double(scaled[0]), -2 / (8.0 / 3.0).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(scaled[1], 0)
        let l2 = FeatureScaler.fit(.l2, x: [3, 4, 0, 0], rows: 2, dimension: 2).transform([3, 4, 0, 0], rows: 2, dimension: 2)
        XCTAssertEqual(l2, [0.6, 0.8, 0, 0])
    }
}
