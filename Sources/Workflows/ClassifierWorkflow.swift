import Foundation
import Learning
import Store

/// What `cnncodes train` asks for.
public struct TrainingRequest: Sendable {
    public var collection: String
    public var name: String
    public var kind: ClassifierKind
    /// Fixed C, used when `crossValidationFolds` is nil.
    public var C: Double
    /// Cross-validate C over `grid` with this many stratified folds, then refit on all rows.
    public var crossValidationFolds: Int?
    public var grid: [Double]
    public var scaling: Scaling
    public var classWeighting: ClassWeighting
    public var loss: SVMLoss
    public var trainSplit: String?
    public var tolerance: Double?
    public var maxIterations: Int
    public var replace: Bool

    public init(collection: String, name: String, kind: ClassifierKind = .svm, C: Double = 1,
                crossValidationFolds: Int? = nil, grid: [Double] = CrossValidation.defaultGrid,
                scaling: Scaling = .none, classWeighting: ClassWeighting = .none, loss: SVMLoss = .squaredHinge,
                trainSplit: String? = "train", tolerance: Double? = nil, maxIterations: Int = 1000, replace: Bool = false) {
        self.collection = collection
        self.name = name
        self.kind = kind
        self.C = C
        self.crossValidationFolds = crossValidationFolds
        self.grid = grid
        self.scaling = scaling
        self.classWeighting = classWeighting
        self.loss = loss
        self.trainSplit = trainSplit
        self.tolerance = tolerance
        self.maxIterations = maxIterations
        self.replace = replace
    }
}

/// What training produced.
public struct TrainingOutcome: Sendable {
    public var classifier: LinearClassifier
    public var crossValidation: CrossValidation.Report?
    public var trainAccuracy: Double
    public var rows: Int
}

/// What is stored with a classifier besides its weights (the catalog's metrics column).
public struct ClassifierMetricsRecord: Codable, Sendable {
    public var trainSplit: String?
    public var trainAccuracy: Double
    public var crossValidation: CrossValidation.Report?
    /// Evaluations by split name, newest last written.
    public var evaluations: [String: ClassificationMetrics]

    public init(trainSplit: String?, trainAccuracy: Double, crossValidation: CrossValidation.Report?,
                evaluations: [String: ClassificationMetrics] = [:]) {
        self.trainSplit = trainSplit
        self.trainAccuracy = trainAccuracy
        self.crossValidation = crossValidation
        self.evaluations = evaluations
    }
}

/// A prediction for one image.
public struct Prediction: Codable, Equatable, Sendable {
    public var label: String
    /// Per class, in `classes` order: decision values (SVM) or probabilities (softmax).
    public var scores: [Float]
    public var classes: [String]
}

/// Train, persist, evaluate and apply linear classifiers on a store's collections.
public enum ClassifierWorkflow {
    /// Trains on the labeled codes of the request's split, persists the classifier in the
    /// catalog (weights, classes, scaler, C, CV grid, training accuracy) and returns it.
    public static func train(_ request: TrainingRequest, store: FeatureStore) throws -> TrainingOutcome {
        let data = try LabeledCodes.load(from: store, collection: request.collection, split: request.trainSplit)
        let trainer: CrossValidation.Trainer
        switch request.kind {
        case .svm:
            var options = LinearSVM.Options()
            options.C = request.C
            options.loss = request.loss
            options.scaling = request.scaling
            options.classWeighting = request.classWeighting
            options.maxIterations = request.maxIterations
            if let tolerance = request.tolerance { options.tolerance = tolerance }
            trainer = .svm(options)
        case .softmax:
            var options = SoftmaxRegression.Options()
            options.C = request.C
            options.scaling = request.scaling
            options.classWeighting = request.classWeighting
            options.maxIterations = request.maxIterations
            if let tolerance = request.tolerance { options.tolerance = tolerance }
            trainer = .softmax(options)
        }
        var report: CrossValidation.Report? = nil
        var C = request.C
        if let folds = request.crossValidationFolds {
            report = try CrossValidation.select(
                trainer: trainer, x: data.x, rows: data.rows, dimension: data.dim, labels: data.labels,
                classNames: data.classNames, grid: request.grid, folds: folds)
            C = report!.bestC
        }
        let classifier = try trainer.fit(x: data.x, rows: data.rows, dimension: data.dim, labels: data.labels,
                                         classNames: data.classNames, C: C,
                                         innerThreads: ProcessInfo.processInfo.activeProcessorCount)
        let predicted = try classifier.predict(data.x, rows: data.rows)
        let trainAccuracy = Double(zip(predicted, data.labels).filter { $0 == $1 }.count) / Double(data.rows)
        let metrics = ClassifierMetricsRecord(trainSplit: request.trainSplit, trainAccuracy: trainAccuracy, crossValidation: report)
        try store.saveClassifier(
            name: request.name, collection: request.collection, kind: request.kind.rawValue,
            modelJSON: String(decoding: try classifier.jsonData(), as: UTF8.self),
            metricsJSON: try encode(metrics), replace: request.replace)
        return TrainingOutcome(classifier: classifier, crossValidation: report, trainAccuracy: trainAccuracy, rows: data.rows)
    }

    /// A stored classifier with the collection it was trained on and its metrics.
    public static func load(_ name: String, store: FeatureStore) throws -> (classifier: LinearClassifier, record: ClassifierRecord, metrics: ClassifierMetricsRecord?) {
        let record = try store.classifier(named: name)
        let classifier = try LinearClassifier.fromJSON(Data(record.modelJSON.utf8))
        let metrics = try? JSONDecoder().decode(ClassifierMetricsRecord.self, from: Data(record.metricsJSON.utf8))
        return (classifier, record, metrics)
    }

    /// Evaluates a stored classifier on the labeled codes of `split` of its collection and
    /// stores the metrics with it.
    public static func evaluate(_ name: String, split: String?, store: FeatureStore) throws -> ClassificationMetrics {
        let (classifier, record, stored) = try load(name, store: store)
        let data = try LabeledCodes.load(from: store, collection: record.collection, split: split,
                                         classNames: classifier.classes, classifierName: name)
        let scores = try classifier.decisionFunction(data.x, rows: data.rows)
        let predicted = try classifier.predict(data.x, rows: data.rows)
        let metrics = try ClassificationMetrics(
            truth: data.labels, predicted: predicted, classes: classifier.classes,
            scores: scores)
        var updated = stored ?? ClassifierMetricsRecord(trainSplit: nil, trainAccuracy: .nan, crossValidation: nil)
        updated.evaluations[split ?? "all"] = metrics
        try store.saveClassifier(name: name, collection: record.collection, kind: record.kind,
                                 modelJSON: record.modelJSON, metricsJSON: try encode(updated), replace: true)
        return metrics
    }

    /// Predictions for codes (row-major, `rows × classifier.dimension`).
    public static func predict(_ classifier: LinearClassifier, codes: [Float], rows: Int) throws -> [Prediction] {
        let predicted = try classifier.predict(codes, rows: rows)
        let k = classifier.classes.count
        let raw: [Float]  // rows × k
        if classifier.kind == .softmax {
            raw = try classifier.predictProbabilities(codes, rows: rows)
        } else {
            raw = try classifier.decisionFunction(codes, rows: rows)
        }
        return (0..<rows).map { row in
            Prediction(label: classifier.classes[predicted[row]], scores: Array(raw[(row * k)..<((row + 1) * k)]),
                       classes: classifier.classes)
        }
    }

    private static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
