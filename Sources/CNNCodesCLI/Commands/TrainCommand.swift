import ArgumentParser
import Foundation
import Learning
import Workflows

/// `cnncodes train`: a linear classifier on a collection's labeled codes.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a linear SVM or softmax classifier on the labeled codes of a collection.",
        discussion: """
            Trains on the codes of --train-split (labels from the class folders or the \
            manifest) and stores the classifier in the store under --name, with its classes, \
            scaler, C and training metrics. With --cv K, C is chosen by stratified K-fold \
            cross-validation over a grid (the table is printed), then the model is refit on \
            the whole split.

            Example:
              cnncodes train --collection lite0 --classifier svm --name ants-bees --cv 5
              cnncodes evaluate --classifier ants-bees --split val
            """
    )

    @Option(help: "The collection whose codes to train on.")
    var collection: String

    @Option(help: "svm (one-vs-rest linear SVM, LIBLINEAR's dual coordinate descent) or softmax (multinomial logistic regression, L-BFGS).")
    var classifier: ClassifierKind = .svm

    @Option(help: "A name for the classifier (unique in the store).")
    var name: String

    @Option(name: .customLong("C"), help: "Inverse regularization strength (ignored with --cv).")
    var c: Double = 1

    @Option(help: "Choose C by stratified K-fold cross-validation.")
    var cv: Int?

    @Option(help: "Comma-separated C values for --cv.")
    var grid: String?

    @Option(help: "Feature scaling fitted on the training codes: none, standard or l2.")
    var scale: Scaling = .none

    @Option(name: .customLong("class-weight"), help: "none, or balanced (weights inversely proportional to class frequency).")
    var classWeight: ClassWeighting = .none

    @Option(help: "SVM loss: squared_hinge or hinge.")
    var loss: SVMLoss = .squaredHinge

    @Option(name: .customLong("train-split"), help: "The split to train on; 'all' for every labeled code.")
    var trainSplit: String = "train"

    @Option(help: "Stopping tolerance (default: 1e-4 for svm, 1e-5 for softmax).")
    var tolerance: Double?

    @Option(name: .customLong("max-iter"), help: "Iteration cap (SVM epochs, or L-BFGS iterations).")
    var maxIterations: Int = 1000

    @Flag(help: "Replace an existing classifier of the same name.")
    var replace = false

    @OptionGroup var storeOptions: StoreOptions

    func validate() throws {
        if c <= 0 || !c.isFinite { throw ValidationError("--C must be a positive number") }
        if let cv, cv < 2 { throw ValidationError("--cv needs at least 2 folds") }
        if let grid, parsedGrid(grid) == nil { throw ValidationError("--grid must be comma-separated positive numbers, e.g. 0.01,0.1,1,10") }
    }

    private func parsedGrid(_ text: String) -> [Double]? {
        let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        return values.map { $0! }
    }

    func run() throws {
        let store = try storeOptions.open(.readWrite)
        let request = TrainingRequest(
            collection: collection, name: name, kind: classifier, C: c, crossValidationFolds: cv,
            grid: grid.flatMap(parsedGrid) ?? CrossValidation.defaultGrid, scaling: scale,
            classWeighting: classWeight, loss: loss, trainSplit: trainSplit == "all" ? nil : trainSplit,
            tolerance: tolerance, maxIterations: maxIterations, replace: replace)
        let outcome = try ClassifierWorkflow.train(request, store: store)
        if let report = outcome.crossValidation {
            print(report.table)
        }
        let model = outcome.classifier
        print("trained \(model.kind.rawValue) '\(name)' on \(outcome.rows) codes of '\(collection)' (split \(trainSplit)): "
              + "\(model.classes.count) classes, C=\(model.C), train accuracy \(String(format: "%.4f", outcome.trainAccuracy)), "
              + "\(String(format: "%.2f", model.training.seconds)) s")
        for warning in model.training.warnings { print("warning: \(warning)") }
        print("next: cnncodes evaluate --classifier \(name) --split val --store \(storeOptions.store)")
    }
}

extension ClassifierKind: ExpressibleByArgument {}
extension SVMLoss: ExpressibleByArgument {}
extension Scaling: ExpressibleByArgument {}
extension ClassWeighting: ExpressibleByArgument {}
