import Foundation
import Tensor

/// Which model a `LinearClassifier` is.
public enum ClassifierKind: String, Codable, Sendable, CaseIterable {
    /// One-vs-rest linear SVM (LIBLINEAR dual coordinate descent).
    case svm
    /// Multinomial logistic regression (binary logistic for two classes), L-BFGS.
    case softmax
}

/// How samples of each class are weighted in the loss.
public enum ClassWeighting: String, Codable, Sendable, CaseIterable {
    case none
    /// n / (classes × count_c), as scikit-learn's `class_weight="balanced"`.
    case balanced
}

/// How a fit ended, stored with the model.
public struct TrainingInfo: Codable, Equatable, Sendable {
    /// Training rows and their class counts.
    public var rows: Int
    public var classCounts: [Int]
    /// Solver iterations: epochs per one-vs-rest problem (SVM) or L-BFGS iterations (softmax, one entry).
    public var iterations: [Int]
    /// False when a problem stopped at the iteration cap before meeting the tolerance.
    public var converged: Bool
    /// Primal objective at the solution (see `LinearSVM.primalObjective` / `SoftmaxRegression.objective`),
    /// in the scaled feature space the model works in.
    public var objective: Double
    /// Stopping tolerance used.
    public var tolerance: Double
    /// Wall-clock seconds of the solver (not of validation or scaling).
    public var seconds: Double
    /// Human-readable warnings (e.g. "problem 3 reached 1000 epochs without converging").
    public var warnings: [String]
}

/// A trained linear classifier on codes: scores = scaler(x) · Wᵀ + b.
///
/// Weights are row-major `weightRows × dimension`. `weightRows` is 1 for a two-class model
/// (one vector scoring class 1 against class 0, as scikit-learn stores it) and the number of
/// classes otherwise. Persisted as JSON (`Codable`); floats round-trip exactly through
/// JSONEncoder's shortest representation, so a decoded model predicts identically.
public struct LinearClassifier: Equatable, Sendable {
    /// Format tag and version of the JSON form, checked on decode.
    public static let format = "cnncodes.linear-classifier"
    public static let formatVersion = 1

    public var kind: ClassifierKind
    /// Class names; predictions are indices into this array.
    public var classes: [String]
    /// Length of the codes the model takes (before scaling; scaling keeps the length).
    public var dimension: Int
    public var weights: [Float]
    public var bias: [Float]
    public var scaler: FeatureScaler
    /// Regularization parameter (larger C = weaker regularization).
    public var C: Double
    /// SVM loss; nil for softmax.
    public var loss: SVMLoss?
    public var classWeighting: ClassWeighting
    public var training: TrainingInfo
    /// Metrics on a held-out split, set by whoever evaluates the model (e.g. `evaluate`); nil until then.
    public var evaluation: ClassificationMetrics?
    /// Free-form provenance set by the caller (e.g. the store collection the codes came
    /// from), so a stored model can refuse codes of another origin; nil when unset.
    public var collection: String?

    /// Rows of `weights`: 1 for two classes, else one per class.
    public var weightRows: Int { classes.count == 2 ? 1 : classes.count }

    public init(
        kind: ClassifierKind, classes: [String], dimension: Int, weights: [Float], bias: [Float],
        scaler: FeatureScaler, C: Double, loss: SVMLoss?, classWeighting: ClassWeighting, training: TrainingInfo,
        evaluation: ClassificationMetrics? = nil, collection: String? = nil
    ) {
        self.kind = kind
        self.classes = classes
        self.dimension = dimension
        self.weights = weights
        self.bias = bias
        self.scaler = scaler
        self.C = C
        self.loss = loss
        self.classWeighting = classWeighting
        self.training = training
        self.evaluation = evaluation
        self.collection = collection
    }

    // MARK: Applying

    /// Scores, row-major `rows × classes.count`; the predicted class is the argmax of a row.
    /// For two classes the model has one score s (scikit-learn's `decision_function`), given
    /// here as [−s, s] so that argmax and top-k work the same for every model.
    public func decisionFunction(_ x: [Float], rows: Int) throws -> [Float] {
        let scaled = try prepared(x, rows: rows)
        let k = weightRows
        var raw = [Float](repeating: 0, count: rows * k)
        if rows > 0 {
            // raw (rows × k) = X (rows × d) · Wᵀ (d × k)
            scaled.withUnsafeBufferPointer { xp in
                weights.withUnsafeBufferPointer { wp in
                    raw.withUnsafeMutableBufferPointer { rp in
                        BLAS.sgemm(
                            transB: true, m: rows, n: k, k: dimension,
                            a: xp.baseAddress!, lda: dimension, b: wp.baseAddress!, ldb: dimension,
                            c: rp.baseAddress!, ldc: k)
                    }
                }
            }
        }
        for row in 0..<rows { for c in 0..<k { raw[row * k + c] += bias[c] } }
        guard k == 1 else { return raw }
        var scores = [Float](repeating: 0, count: rows * 2)
        for row in 0..<rows {
            scores[row * 2] = -raw[row]
            scores[row * 2 + 1] = raw[row]
        }
        return scores
    }

    /// `decisionFunction` on a `rows × dimension` tensor.
    public func decisionFunction(_ x: Tensor) throws -> [Float] {
        try decisionFunction(x.data, rows: try rowCount(of: x))
    }

    /// Predicted class index per row (first maximal score on ties).
    public func predict(_ x: [Float], rows: Int) throws -> [Int] {
        let scores = try decisionFunction(x, rows: rows)
        return LinearClassifier.argmaxRows(scores, rows: rows, columns: classes.count)
    }

    /// `predict` on a `rows × dimension` tensor.
    public func predict(_ x: Tensor) throws -> [Int] {
        try predict(x.data, rows: try rowCount(of: x))
    }

    /// Class probabilities, row-major `rows × classes.count` (softmax models only): the
    /// multinomial softmax of the scores, or for two classes [1 − σ(s), σ(s)] as scikit-learn.
    public func predictProbabilities(_ x: [Float], rows: Int) throws -> [Float] {
        guard kind == .softmax else { throw LearningError.probabilitiesUnavailable(kind: kind) }
        var scores = try decisionFunction(x, rows: rows)
        let k = classes.count
        for row in 0..<rows {
            if k == 2 {
                let s = Double(scores[row * 2 + 1])
                let p1 = 1 / (1 + exp(-s))
                scores[row * 2] = Float(1 - p1)
                scores[row * 2 + 1] = Float(p1)
                continue
            }
            var maximum = -Float.infinity
            for c in 0..<k { maximum = max(maximum, scores[row * k + c]) }
            var sum: Double = 0
            for c in 0..<k {
                let e = exp(Double(scores[row * k + c] - maximum))
                scores[row * k + c] = Float(e)
                sum += e
            }
            for c in 0..<k { scores[row * k + c] = Float(Double(scores[row * k + c]) / sum) }
        }
        return scores
    }

    /// `predictProbabilities` on a `rows × dimension` tensor.
    public func predictProbabilities(_ x: Tensor) throws -> [Float] {
        try predictProbabilities(x.data, rows: try rowCount(of: x))
    }

    // MARK: Helpers

    /// Checks the buffer and features, then applies the scaler.
    private func prepared(_ x: [Float], rows: Int) throws -> [Float] {
        guard rows >= 0, rows == 0 || x.count % rows == 0 else {
            throw LearningError.shapeMismatch(
                expectedElements: rows * dimension, actualElements: x.count, rows: rows, dimension: dimension)
        }
        let actual = rows == 0 ? dimension : x.count / rows
        guard actual == dimension else { throw LearningError.dimensionMismatch(expected: dimension, actual: actual) }
        guard x.count == rows * dimension else {
            throw LearningError.shapeMismatch(
                expectedElements: rows * dimension, actualElements: x.count, rows: rows, dimension: dimension)
        }
        try TrainingSet.checkFinite(x, rows: rows, dimension: dimension)
        return scaler.transform(x, rows: rows, dimension: dimension)
    }

    private func rowCount(of x: Tensor) throws -> Int {
        guard x.rank == 2 else {
            throw LearningError.invalidParameter(name: "codes", reason: "expected a rows × \(dimension) matrix, got shape \(x.shape)")
        }
        guard x.shape[1] == dimension else { throw LearningError.dimensionMismatch(expected: dimension, actual: x.shape[1]) }
        return x.shape[0]
    }

    /// Index of the first maximum of each row of a row-major matrix.
    static func argmaxRows(_ m: [Float], rows: Int, columns: Int) -> [Int] {
        var result = [Int](repeating: 0, count: rows)
        for row in 0..<rows {
            var best = 0
            var bestValue = m[row * columns]
            for c in 1..<max(columns, 1) where m[row * columns + c] > bestValue {
                best = c
                bestValue = m[row * columns + c]
            }
            result[row] = best
        }
        return result
    }
}
