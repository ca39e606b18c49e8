/// Evaluation of predictions against the truth, with the numbers scikit-learn's
/// `classification_report` and `confusion_matrix` give (zero_division = 0).
public struct ClassificationMetrics: Codable, Equatable, Sendable {
    /// Precision, recall, F1 and support of one class (or an average).
    public struct ClassScores: Codable, Equatable, Sendable {
        public var precision: Double
        public var recall: Double
        public var f1: Double
        /// Rows whose true class this is (for an average: all rows).
        public var support: Int
    }

    public var classes: [String]
    /// Rows evaluated.
    public var count: Int
    public var accuracy: Double
    /// Fraction of rows whose true class is among the 5 highest scores; nil with fewer than
    /// 5 classes or without scores.
    public var top5Accuracy: Double?
    /// One entry per class, in `classes` order.
    public var perClass: [ClassScores]
    /// Unweighted mean over the classes that occur in the truth or the predictions
    /// (scikit-learn's "macro avg", which ignores classes absent from both).
    public var macroAverage: ClassScores
    /// Mean weighted by support ("weighted avg").
    public var weightedAverage: ClassScores
    /// confusion[true][predicted] = rows; rows are true classes, columns predictions.
    public var confusion: [[Int]]

    /// Metrics of `predicted` against `truth` (class indices into `classes`). `scores`, if
    /// given, is row-major `rows × classes.count` (e.g. `decisionFunction`) for top-5.
    public init(truth: [Int], predicted: [Int], classes: [String], scores: [Float]? = nil) throws {
        let k = classes.count
        guard truth.count == predicted.count else {
            throw LearningError.labelCountMismatch(labels: predicted.count, rows: truth.count)
        }
        guard !truth.isEmpty else { throw LearningError.emptyTrainingSet }
        for (row, label) in truth.enumerated() where label < 0 || label >= k {
            throw LearningError.labelOutOfRange(row: row, label: label, classCount: k)
        }
        for (row, label) in predicted.enumerated() where label < 0 || label >= k {
            throw LearningError.labelOutOfRange(row: row, label: label, classCount: k)
        }
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        for (t, p) in zip(truth, predicted) { confusion[t][p] += 1 }
        let n = truth.count
        var perClass = [ClassScores]()
        var occurs = [Bool]()
        var correct = 0
        for c in 0..<k {
            let truePositives = confusion[c][c]
            correct += truePositives
            let support = confusion[c].reduce(0, +)
            let predictedCount = (0..<k).reduce(0) { $0 + confusion[$1][c] }
            let precision = predictedCount > 0 ? Double(truePositives) / Double(predictedCount) : 0
            let recall = support > 0 ? Double(truePositives) / Double(support) : 0
            let f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
            perClass.append(ClassScores(precision: precision, recall: recall, f1: f1, support: support))
            occurs.append(support > 0 || predictedCount > 0)
        }
        func average(_ weight: (ClassScores) -> Double) -> ClassScores {
            let counted = zip(perClass, occurs).filter { $0.1 }.map { $0.0 }
            let total = counted.reduce(0) { $0 + weight($1) }
            func mean(_ value: (ClassScores) -> Double) -> Double {
                total > 0 ? counted.reduce(0) { $0 + weight($1) * value($1) } / total : 0
            }
            return ClassScores(precision: mean(\.precision), recall: mean(\.recall), f1: mean(\.f1), support: n)
        }
        self.classes = classes
        self.count = n
        self.accuracy = Double(correct) / Double(n)
        self.perClass = perClass
        self.macroAverage = average { _ in 1 }
        self.weightedAverage = average { Double($0.support) }
        self.confusion = confusion
        if let scores, k >= 5 {
            guard scores.count == n * k else {
                throw LearningError.shapeMismatch(expectedElements: n * k, actualElements: scores.count, rows: n, dimension: k)
            }
            self.top5Accuracy = Self.topKAccuracy(truth: truth, scores: scores, classCount: k, k: 5)
        } else {
            self.top5Accuracy = nil
        }
    }

    /// Fraction of rows whose true class has fewer than `k` classes scoring strictly higher.
    public static func topKAccuracy(truth: [Int], scores: [Float], classCount: Int, k: Int) -> Double {
        var hits = 0
        for (row, label) in truth.enumerated() {
            let base = row * classCount
            let own = scores[base + label]
            var higher = 0
            for c in 0..<classCount where scores[base + c] > own { higher += 1 }
            if higher < k { hits += 1 }
        }
        return Double(hits) / Double(max(truth.count, 1))
    }
}
