/// Everything that can go wrong training or applying a classifier. Each case names the row,
/// class or parameter at fault, so the CLI can print it as one line.
public enum LearningError: Error, CustomStringConvertible, Equatable {
    /// No training rows (e.g. an empty split).
    case emptyTrainingSet
    /// Every training row has the same class: nothing to separate.
    case singleClass(name: String)
    /// A feature is NaN or ±infinity.
    case nonFiniteFeature(row: Int, column: Int, value: Float)
    /// `x.count` is not `rows × dimension`.
    case shapeMismatch(expectedElements: Int, actualElements: Int, rows: Int, dimension: Int)
    /// Codes of another length than the classifier was trained on.
    case dimensionMismatch(expected: Int, actual: Int)
    /// Labels and rows differ in count.
    case labelCountMismatch(labels: Int, rows: Int)
    /// A label outside `0..<classCount`.
    case labelOutOfRange(row: Int, label: Int, classCount: Int)
    /// An option out of its domain (C <= 0, folds < 2, ...).
    case invalidParameter(name: String, reason: String)
    /// Probabilities asked from a model that has none (an SVM).
    case probabilitiesUnavailable(kind: ClassifierKind)
    /// Cross-validation needs every class in every fold.
    case tooFewSamplesForFolds(className: String, count: Int, folds: Int)

    public var description: String {
        switch self {
        case .emptyTrainingSet:
            return "the training set is empty"
        case let .singleClass(name):
            return "the training set has one class only ('\(name)'); a classifier needs at least two"
        case let .nonFiniteFeature(row, column, value):
            return "row \(row) has a non-finite feature (\(value) at column \(column))"
        case let .shapeMismatch(expected, actual, rows, dimension):
            return "feature buffer has \(actual) values, expected \(expected) (\(rows) rows × \(dimension))"
        case let .dimensionMismatch(expected, actual):
            return "codes have dimension \(actual) but the classifier was trained on dimension \(expected)"
        case let .labelCountMismatch(labels, rows):
            return "\(labels) labels for \(rows) rows"
        case let .labelOutOfRange(row, label, classCount):
            return "row \(row) has label \(label), outside 0..<\(classCount)"
        case let .invalidParameter(name, reason):
            return "invalid \(name): \(reason)"
        case let .probabilitiesUnavailable(kind):
            return "a \(kind.rawValue) classifier has no probabilities (use softmax)"
        case let .tooFewSamplesForFolds(className, count, folds):
            return "class '\(className)' has \(count) training rows, fewer than the \(folds) folds"
        }
    }
}
