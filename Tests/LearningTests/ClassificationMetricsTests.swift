import Foundation
import Learning
import Tensor
import TestSupport
import XCTest

/// Metrics equal scikit-learn's classification_report / confusion_matrix / top_k_accuracy_score
/// on the same predictions (LinearSVC's on the s8 test set).
final class ClassificationMetricsTests: XCTestCase {
    func testMatchesClassificationReport() throws {
        let reference = try SklearnReference()
        let data = try reference.dataSet("s8")
        let sk = try reference.model("s8", "svm")
        let classes = (0..<data.classCount).map { "class \($0)" }
        let metrics = try ClassificationMetrics(
            truth: data.yTest, predicted: sk.predictions, classes: classes, scores: sk.scores.data)
        let report = try XCTUnwrap(sk.record["report"] as? [String: Any])
        XCTAssertEqual(metrics.accuracy, try XCTUnwrap(report["accuracy"] as? Double), accuracy: 1e-12)
        for c in 0..<data.classCount {
            let row = try XCTUnwrap(report[String(c)] as? [String: Any], "class \(c) in report")
            try assertScores(metrics.perClass[c], row, "class \(c)")
        }
        try assertScores(metrics.macroAverage, try XCTUnwrap(report["macro avg"] as? [String: Any]), "macro")
        try assertScores(metrics.weightedAverage, try XCTUnwrap(report["weighted avg"] as? [String: Any]), "weighted")
        let confusion = try XCTUnwrap(sk.record["confusion_matrix"] as? [[Int]])
        XCTAssertEqual(metrics.confusion, confusion)
        XCTAssertEqual(try XCTUnwrap(metrics.top5Accuracy), try XCTUnwrap(sk.record["top5_accuracy"] as? Double),
                       accuracy: 1e-12)

        let table = metrics.table
        XCTAssertTrue(table.contains("precision"), table)
        XCTAssertTrue(table.contains("class 7"), table)
        XCTAssertTrue(table.contains(String(format: "%.4f", metrics.accuracy)), table)
        XCTAssertTrue(table.contains("confusion matrix"), table)
        // JSON round trip keeps every number.
        let decoded = try JSONDecoder().decode(ClassificationMetrics.self, from: JSONEncoder().encode(metrics))
        XCTAssertEqual(decoded, metrics)
    }

    private func assertScores(_ ours: ClassificationMetrics.ClassScores, _ row: [String: Any], _ what: String) throws {
        XCTAssertEqual(ours.precision, try XCTUnwrap(row["precision"] as? Double), accuracy: 1e-12, what)
        XCTAssertEqual(ours.recall, try XCTUnwrap(row["recall"] as? Double), accuracy: 1e-12, what)
        XCTAssertEqual(ours.f1, try XCTUnwrap(row["f1-score"] as? Double), accuracy: 1e-12, what)
        XCTAssertEqual(Double(ours.support), try XCTUnwrap(row["support"] as? Double), what)
    }

    /// Hand-checked small case, independent of the fixtures: a class never predicted has
    /// precision 0 (zero_division = 0), and no top-5 with fewer than 5 classes.
    func testHandComputedCase() throws {
        let metrics = try ClassificationMetrics(
            truth: [0, 0, 1, 1, 2, 2], predicted: [0, 1, 1, 1, 1, 0], classes: ["a", "b", "c"],
            scores: [Float](repeating: 0, count: 18))
        XCTAssertEqual(metrics.accuracy, 0.5, accuracy: 1e-12)
        XCTAssertEqual(metrics.confusion, [[1, 1, 0], [0, 2, 0], [1, 1, 0]])
        XCTAssertEqual(metrics.perClass[0].precision, 0.5, accuracy: 1e-12)
        XCTAssertEqual(metrics.perClass[1].precision, 0.5, accuracy: 1e-12)
        XCTAssertEqual(metrics.perClass[1].recall, 1, accuracy: 1e-12)
        XCTAssertEqual(metrics.perClass[1].f1, 2.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(metrics.perClass[2].precision, 0)
        XCTAssertEqual(metrics.perClass[2].f1, 0)
        XCTAssertNil(metrics.top5Accuracy)
        // A fourth class absent from truth and predictions does not dilute the macro average.
        let withAbsent = try ClassificationMetrics(
            truth: [0, 0, 1, 1, 2, 2], predicted: [0, 1, 1, 1, 1, 0], classes: ["a", "b", "c", "d"])
        XCTAssertEqual(withAbsent.macroAverage.f1, metrics.macroAverage.f1, accuracy: 1e-12)
        XCTAssertEqual(metrics.macroAverage.f1, (0.5 + 2.0 / 3.0 + 0) / 3, accuracy: 1e-12)
    }
}
