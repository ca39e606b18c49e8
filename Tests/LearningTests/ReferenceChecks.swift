import Foundation
import Learning
import Tensor
import XCTest

// Comparisons with scikit-learn shared by the test classes: test accuracy within 0.5 point,
// the objective of sklearn's solution recomputed by our formula equal to the fixture's
// (checks the formula), and our objective within 1e-3 relative of sklearn's.

/// scikit-learn's "balanced" class weights.
func balancedWeights(_ labels: [Int], _ classes: Int) -> [Double] {
    var counts = [Int](repeating: 0, count: classes)
    for label in labels { counts[label] += 1 }
    return counts.map { Double(labels.count) / Double(classes * $0) }
}

func checkSVM(_ reference: SklearnReference, _ data: SklearnReference.DataSet, set: String, model name: String,
              loss: SVMLoss, weighting: ClassWeighting = .none, maxIterations: Int = 1000,
              file: StaticString = #filePath, line: UInt = #line) throws {
    let sk = try reference.model(set, name)
    let options = LinearSVM.Options(C: sk.C, loss: loss, maxIterations: maxIterations, classWeighting: weighting)
    let model = try LinearSVM.fit(x: data.xTrain, rows: data.trainRows, dimension: data.dimension,
                                  labels: data.yTrain, classCount: data.classCount, options: options)
    XCTAssertTrue(model.training.converged, "\(model.training.warnings)", file: file, line: line)
    let ours = accuracy(try model.predict(data.xTest, rows: data.testRows), data.yTest)
    XCTAssertEqual(ours, sk.testAccuracy, accuracy: 0.005, "\(set)/\(name) test accuracy", file: file, line: line)

    // sklearn's objective recomputed by our formula must equal the fixture's (checks the formula) ...
    let classWeights: [Double]? = weighting == .balanced ? balancedWeights(data.yTrain, data.classCount) : nil
    let skObjective = try LinearSVM.primalObjective(
        x: data.xTrain, rows: data.trainRows, dimension: data.dimension, labels: data.yTrain,
        classCount: data.classCount, weights: sk.coef.data, bias: sk.intercept, C: sk.C, loss: loss,
        classWeights: classWeights)
    XCTAssertEqual(skObjective, sk.objective, accuracy: 1e-5 * sk.objective, "objective formula", file: file, line: line)
    // ... and ours must be as low, within 1e-3 relative.
    let gap = (model.training.objective - sk.objective) / sk.objective
    XCTAssertLessThan(abs(gap), 1e-3, "\(set)/\(name): objective \(model.training.objective) vs sklearn \(sk.objective)",
                      file: file, line: line)
    print("\(set)/\(name): accuracy \(ours) vs sklearn \(sk.testAccuracy); objective gap \(gap); epochs \(model.training.iterations.max() ?? 0); \(model.training.seconds) s")
}

func checkSoftmax(_ reference: SklearnReference, _ data: SklearnReference.DataSet, set: String, model name: String,
                  weighting: ClassWeighting = .none,
                  file: StaticString = #filePath, line: UInt = #line) throws {
    let sk = try reference.model(set, name)
    let options = SoftmaxRegression.Options(C: sk.C, classWeighting: weighting)
    let model = try SoftmaxRegression.fit(x: data.xTrain, rows: data.trainRows, dimension: data.dimension,
                                          labels: data.yTrain, classCount: data.classCount, options: options)
    XCTAssertTrue(model.training.converged, "\(model.training.warnings)", file: file, line: line)
    let ours = accuracy(try model.predict(data.xTest, rows: data.testRows), data.yTest)
    XCTAssertEqual(ours, sk.testAccuracy, accuracy: 0.005, "\(set)/\(name) test accuracy", file: file, line: line)

    let classWeights: [Double]? = weighting == .balanced ? balancedWeights(data.yTrain, data.classCount) : nil
    let skObjective = try SoftmaxRegression.objective(
        x: data.xTrain, rows: data.trainRows, dimension: data.dimension, labels: data.yTrain,
        classCount: data.classCount, weights: sk.coef.data, bias: sk.intercept, C: sk.C, classWeights: classWeights)
    XCTAssertEqual(skObjective, sk.objective, accuracy: 1e-5 * sk.objective, "objective formula", file: file, line: line)
    let gap = (model.training.objective - sk.objective) / sk.objective
    XCTAssertLessThan(abs(gap), 1e-3, "\(set)/\(name): objective \(model.training.objective) vs sklearn \(sk.objective)",
                      file: file, line: line)
    print("\(set)/\(name): accuracy \(ours) vs sklearn \(sk.testAccuracy); objective gap \(gap); iterations \(model.training.iterations); \(model.training.seconds) s")

    // Probabilities: rows sum to 1 and their argmax is the prediction.
    let rows = min(data.testRows, 50)
    let probabilities = try model.predictProbabilities(Array(data.xTest[0..<(rows * data.dimension)]), rows: rows)
    let predicted = try model.predict(Array(data.xTest[0..<(rows * data.dimension)]), rows: rows)
    for row in 0..<rows {
        let p = probabilities[(row * data.classCount)..<((row + 1) * data.classCount)]
        XCTAssertEqual(Double(p.reduce(0, +)), 1, accuracy: 1e-5, file: file, line: line)
        XCTAssertEqual(p.firstIndex(of: p.max()!)! - p.startIndex, predicted[row], file: file, line: line)
    }
}
