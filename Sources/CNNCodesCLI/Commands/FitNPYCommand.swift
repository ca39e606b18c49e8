import ArgumentParser
import Foundation
import Learning
import Tensor

/// `cnncodes fit-npy`: trains a classifier on codes and labels from .npy files and prints
/// accuracy, objective and seconds — the hook benchmarks/train uses to compare with
/// scikit-learn on identical input. Hidden: users train from a store with `train`.
struct FitNPYCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fit-npy",
        abstract: "Train a linear classifier on codes and labels stored as .npy files.",
        discussion: """
            X is a rows × dimension array of codes, y the class index (0, 1, …) of each row. \
            Prints one line per result (key value), for benchmarks and comparisons with \
            scikit-learn on the same arrays.

            Example:
              cnncodes fit-npy --x x_train.npy --y y_train.npy --test-x x_test.npy --test-y y_test.npy \
            --classifier svm --C 0.01
            """,
        shouldDisplay: false
    )

    @Option(name: .customLong("x"), help: "Training codes (.npy, rows × dimension).")
    var x: String

    @Option(name: .customLong("y"), help: "Training labels (.npy, one class index per row).")
    var y: String

    @Option(name: .customLong("test-x"), help: "Test codes (.npy), to report test accuracy.")
    var testX: String?

    @Option(name: .customLong("test-y"), help: "Test labels (.npy).")
    var testY: String?

    @Option(help: "svm or softmax.")
    var classifier: ClassifierKind = .svm

    @Option(name: .customLong("C"), help: "Inverse regularization strength.")
    var c: Double = 1

    @Option(help: "SVM loss: squared_hinge or hinge.")
    var loss: SVMLoss = .squaredHinge

    @Option(help: "Feature scaling: none, standard or l2.")
    var scale: Scaling = .none

    @Option(name: .customLong("class-weight"), help: "none or balanced.")
    var classWeight: ClassWeighting = .none

    @Option(help: "Stopping tolerance (default: 1e-4 for svm, 1e-5 for softmax).")
    var tolerance: Double?

    @Option(name: .customLong("max-iter"), help: "Iteration cap (SVM epochs per problem, or L-BFGS iterations).")
    var maxIterations: Int = 1000

    @Option(help: "Cross-validate C over the default grid with this many folds instead of using --C.")
    var cv: Int?

    @Option(help: "Write the trained classifier as JSON to this file.")
    var output: String?

    func validate() throws {
        guard c > 0 else { throw ValidationError("--C must be > 0") }
        guard (testX == nil) == (testY == nil) else { throw ValidationError("give both --test-x and --test-y, or neither") }
        if let cv, cv < 2 { throw ValidationError("--cv needs at least 2 folds") }
        guard maxIterations > 0 else { throw ValidationError("--max-iter must be > 0") }
    }

    func run() throws {
        let (codes, rows, dimension) = try Self.readCodes(x)
        let labels = try Self.readLabels(y, rows: rows)
        let classCount = (labels.max() ?? 0) + 1
        let names = (0..<classCount).map(String.init)
        var svm = LinearSVM.Options(C: c, loss: loss, maxIterations: maxIterations, classWeighting: classWeight, scaling: scale)
        var softmax = SoftmaxRegression.Options(C: c, maxIterations: maxIterations, classWeighting: classWeight, scaling: scale)
        if let tolerance {
            svm.tolerance = tolerance
            softmax.tolerance = tolerance
        }
        var chosenC = c
        if let cv {
            let trainer: CrossValidation.Trainer = classifier == .svm ? .svm(svm) : .softmax(softmax)
            let started = Date()
            let report = try CrossValidation.select(
                trainer: trainer, x: codes, rows: rows, dimension: dimension, labels: labels, classNames: names, folds: cv)
            print(report.table, terminator: "")
            print("cv_seconds \(String(format: "%.3f", Date().timeIntervalSince(started)))")
            chosenC = report.bestC
        }
        svm.C = chosenC
        softmax.C = chosenC
        let started = Date()
        let model = classifier == .svm
            ? try LinearSVM.fit(x: codes, rows: rows, dimension: dimension, labels: labels, classNames: names, options: svm)
            : try SoftmaxRegression.fit(x: codes, rows: rows, dimension: dimension, labels: labels, classNames: names,
                                        options: softmax)
        let seconds = Date().timeIntervalSince(started)
        let trainAccuracy = try Self.accuracy(model, codes, rows, labels)
        print("classifier \(classifier.rawValue)")
        print("C \(chosenC)")
        print("rows \(rows)")
        print("dimension \(dimension)")
        print("classes \(classCount)")
        print("seconds \(String(format: "%.3f", seconds))")
        print("solver_seconds \(String(format: "%.3f", model.training.seconds))")
        print("iterations \(model.training.iterations.max() ?? 0)")
        print("converged \(model.training.converged)")
        print("objective \(model.training.objective)")
        print("train_accuracy \(String(format: "%.4f", trainAccuracy))")
        if let testX, let testY {
            let (testCodes, testRows, testDimension) = try Self.readCodes(testX)
            guard testDimension == dimension else {
                throw LearningError.dimensionMismatch(expected: dimension, actual: testDimension)
            }
            let testLabels = try Self.readLabels(testY, rows: testRows)
            print("test_accuracy \(String(format: "%.4f", try Self.accuracy(model, testCodes, testRows, testLabels)))")
        }
        for warning in model.training.warnings {
            FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
        }
        if let output {
            try model.jsonData().write(to: URL(fileURLWithPath: output))
        }
    }

    private static func readCodes(_ path: String) throws -> ([Float], Int, Int) {
        let tensor = try NPY.read(URL(fileURLWithPath: path))
        guard tensor.rank == 2 else {
            throw FitNPYInputError(message: "\(path): expected a rows × dimension array, got shape \(tensor.shape)")
        }
        return (tensor.data, tensor.shape[0], tensor.shape[1])
    }

    private static func readLabels(_ path: String, rows: Int) throws -> [Int] {
        let tensor = try NPY.read(URL(fileURLWithPath: path))
        guard tensor.count == rows else {
            throw FitNPYInputError(message: "\(path): \(tensor.count) labels for \(rows) rows")
        }
        var labels = [Int]()
        labels.reserveCapacity(rows)
        for (row, value) in tensor.data.enumerated() {
            guard value >= 0, value == value.rounded(), value < 1e6 else {
                throw FitNPYInputError(message: "\(path): label \(value) at row \(row) is not a class index (0, 1, …)")
            }
            labels.append(Int(value))
        }
        return labels
    }

    private static func accuracy(_ model: LinearClassifier, _ x: [Float], _ rows: Int, _ labels: [Int]) throws -> Double {
        let predicted = try model.predict(x, rows: rows)
        return Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(max(rows, 1))
    }
}

/// A bad input file of `fit-npy` (wrong shape, labels that are not class indices), naming it.
struct FitNPYInputError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

