import Foundation
import Learning
import Tensor
import TestSupport
import XCTest

/// The data sets and scikit-learn results written by tools/fixtures/sklearn_reference.py.
struct SklearnReference {
    struct DataSet {
        var xTrain: [Float]
        var yTrain: [Int]
        var xTest: [Float]
        var yTest: [Int]
        var dimension: Int
        var classCount: Int
        var trainRows: Int { yTrain.count }
        var testRows: Int { yTest.count }
    }

    struct Model {
        var C: Double
        var testAccuracy: Double
        var objective: Double
        var coef: Tensor
        var intercept: [Float]
        var predictions: [Int]
        var scores: Tensor
        var record: [String: Any]
    }

    let directory: URL
    let json: [String: Any]

    /// `reference.json` (synthetic sets, always generated) or `hymenoptera.json` (real codes,
    /// generated only when ../shared is present).
    init(_ name: String = "reference.json") throws {
        let file = try TestPaths.requireGenerated("sklearn_reference/\(name)")
        directory = file.deletingLastPathComponent()
        guard let object = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any] else {
            throw XCTSkip("\(name) is not an object")
        }
        json = object
    }

    func dataSet(_ name: String) throws -> DataSet {
        let xTrain = try NPY.read(directory.appendingPathComponent("\(name)_x_train.npy"))
        let xTest = try NPY.read(directory.appendingPathComponent("\(name)_x_test.npy"))
        let yTrain = try NPY.read(directory.appendingPathComponent("\(name)_y_train.npy")).data.map { Int($0) }
        let yTest = try NPY.read(directory.appendingPathComponent("\(name)_y_test.npy")).data.map { Int($0) }
        let sets = json["sets"] as? [String: Any]
        let generator = (sets?[name] as? [String: Any])?["generator"] as? [String: Any]
        let classes = try XCTUnwrap(generator?["classes"] as? Int)
        return DataSet(xTrain: xTrain.data, yTrain: yTrain, xTest: xTest.data, yTest: yTest,
                       dimension: xTrain.shape[1], classCount: classes)
    }

    func model(_ set: String, _ name: String) throws -> Model {
        let sets = json["sets"] as? [String: Any]
        let models = (sets?[set] as? [String: Any])?["models"] as? [String: Any]
        let record = try XCTUnwrap(models?[name] as? [String: Any], "no model \(set)/\(name) in reference.json")
        let prefix = "\(set)_\(name)"
        return Model(
            C: try XCTUnwrap(record["C"] as? Double),
            testAccuracy: try XCTUnwrap(record["test_accuracy"] as? Double),
            objective: try XCTUnwrap(record["objective"] as? Double),
            coef: try NPY.read(directory.appendingPathComponent("\(prefix)_coef.npy")),
            intercept: try NPY.read(directory.appendingPathComponent("\(prefix)_intercept.npy")).data,
            predictions: try NPY.read(directory.appendingPathComponent("\(prefix)_pred.npy")).data.map { Int($0) },
            scores: try NPY.read(directory.appendingPathComponent("\(prefix)_scores.npy")),
            record: record)
    }
}

/// Fraction of equal entries.
func accuracy(_ predicted: [Int], _ truth: [Int]) -> Double {
    Double(zip(predicted, truth).filter { $0 == $1 }.count) / Double(truth.count)
}
