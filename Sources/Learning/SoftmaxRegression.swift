import Foundation
import Tensor

/// Multinomial logistic regression with an L2 penalty, solved by L-BFGS to convergence — the
/// model scikit-learn's `LogisticRegression(C=...)` fits with its default lbfgs solver:
///
///     min_{W,b}  C · Σᵢ sᵢ · logloss(softmax(W·xᵢ + b), yᵢ) + ½‖W‖²     (b not penalized)
///
/// sᵢ = the class weight of row i (1 without weighting). With two classes it is binary
/// logistic regression on one weight vector (class 1 against class 0), as scikit-learn fits it
/// — not a 2-class softmax, whose penalty would differ.
///
/// Each objective evaluation is two sgemm calls (scores X·Wᵀ and gradient Gᵀ·X, OpenBLAS
/// threads) plus a pass over the n × classes scores; the solver works on
/// f/(C·Σsᵢ) (the mean loss plus ‖W‖²/(2CΣsᵢ)), so the gradient tolerance does not depend on n.
public enum SoftmaxRegression {
    public struct Options: Codable, Equatable, Sendable {
        /// Inverse regularization strength (> 0).
        public var C: Double = 1
        /// Stop when the largest gradient component of the mean-scaled objective is ≤ this
        /// (scikit-learn's `tol` has the same meaning; 1e-5 is 10× tighter than its default).
        public var tolerance: Double = 1e-5
        /// L-BFGS iteration cap.
        public var maxIterations: Int = 1000
        public var classWeighting: ClassWeighting = .none
        public var scaling: Scaling = .none
        /// Correction pairs kept by L-BFGS.
        public var memory: Int = 10

        public init(
            C: Double = 1, tolerance: Double = 1e-5, maxIterations: Int = 1000,
            classWeighting: ClassWeighting = .none, scaling: Scaling = .none, memory: Int = 10
        ) {
            self.C = C
            self.tolerance = tolerance
            self.maxIterations = maxIterations
            self.classWeighting = classWeighting
            self.scaling = scaling
            self.memory = memory
        }

        func validate() throws {
            try SolverParameters.validate(C: C, tolerance: tolerance, maxIterations: maxIterations)
            guard memory > 0 else { throw LearningError.invalidParameter(name: "memory", reason: "must be > 0, got \(memory)") }
        }
    }

    /// Trains on row-major `x` (`rows × dimension`) with `labels` in `0..<classNames.count`.
    ///
    /// - Throws: `LearningError` for an empty set, one class, NaN/inf features (naming the
    ///   row), mismatched shapes or bad options.
    public static func fit(
        x: [Float], rows: Int, dimension: Int, labels: [Int], classNames: [String], options: Options = Options()
    ) throws -> LinearClassifier {
        try options.validate()
        try TrainingSet.validate(x: x, rows: rows, dimension: dimension, labels: labels, classNames: classNames)
        let scaler = FeatureScaler.fit(options.scaling, x: x, rows: rows, dimension: dimension)
        let scaled = scaler.transform(x, rows: rows, dimension: dimension)
        let classCount = classNames.count
        let classWeights = options.classWeighting == .balanced
            ? TrainingSet.balancedWeights(labels, classCount: classCount)
            : [Double](repeating: 1, count: classCount)
        let started = Date()

        let loss = SoftmaxLoss(x: scaled, rows: rows, dimension: dimension, labels: labels,
                               classCount: classCount, sampleWeights: labels.map { classWeights[$0] },
                               center: columnMeans(scaled, rows: rows, dimension: dimension))
        let totalWeight = loss.totalWeight
        let penalty = 1 / (options.C * totalWeight)
        let parameterCount = loss.weightRows * (dimension + 1)
        let solver = LBFGS(memory: options.memory, gradientTolerance: options.tolerance, maxIterations: options.maxIterations)
        let result = solver.minimize(start: [Double](repeating: 0, count: parameterCount)) { point, gradient in
            let value = loss.evaluate(point, gradient: &gradient)
            // f/(CΣs) = Σ s·logloss / Σs + ‖W‖²/(2CΣs); the bias (last weightRows entries) is not penalized.
            var scaledValue = value / totalWeight
            for i in 0..<parameterCount {
                gradient[i] /= totalWeight
            }
            for i in 0..<(loss.weightRows * dimension) {
                scaledValue += 0.5 * penalty * point[i] * point[i]
                gradient[i] += penalty * point[i]
            }
            return scaledValue
        }
        let seconds = Date().timeIntervalSince(started)

        let weightCount = loss.weightRows * dimension
        let weights = result.point[0..<weightCount].map { Float($0) }
        // Back from centered coordinates: b = b′ − W·μ.
        var bias = [Float]()
        for c in 0..<loss.weightRows {
            var shift = 0.0
            for j in 0..<dimension { shift += result.point[c * dimension + j] * (loss.center?[j] ?? 0) }
            bias.append(Float(result.point[weightCount + c] - shift))
        }
        var warnings = [String]()
        if !result.converged {
            warnings.append(
                "L-BFGS stopped after \(result.iterations) iterations (\(result.reason)) with gradient "
                    + "\(result.gradientNorm) above the tolerance \(options.tolerance); the solution may be inaccurate")
        }
        let objective = try SoftmaxRegression.objective(
            x: scaled, rows: rows, dimension: dimension, labels: labels, classCount: classCount,
            weights: weights, bias: bias, C: options.C, classWeights: classWeights)
        return LinearClassifier(
            kind: .softmax, classes: classNames, dimension: dimension, weights: weights, bias: bias, scaler: scaler,
            C: options.C, loss: nil, classWeighting: options.classWeighting,
            training: TrainingInfo(
                rows: rows, classCounts: TrainingSet.classCounts(labels, classCount: classCount),
                iterations: [result.iterations], converged: result.converged, objective: objective,
                tolerance: options.tolerance, seconds: seconds, warnings: warnings))
    }

    /// Per-feature means in Double (the implicit centering of `SoftmaxLoss.center`).
    static func columnMeans(_ x: [Float], rows: Int, dimension: Int) -> [Double] {
        var sum = [Double](repeating: 0, count: dimension)
        x.withUnsafeBufferPointer { p in
            for row in 0..<rows {
                for j in 0..<dimension { sum[j] += Double(p[row * dimension + j]) }
            }
        }
        return sum.map { $0 / Double(max(rows, 1)) }
    }

    /// `fit` with classes named "0", "1", ….
    public static func fit(
        x: [Float], rows: Int, dimension: Int, labels: [Int], classCount: Int, options: Options = Options()
    ) throws -> LinearClassifier {
        try fit(x: x, rows: rows, dimension: dimension, labels: labels,
                classNames: (0..<classCount).map(String.init), options: options)
    }

    /// The objective C · Σᵢ sᵢ logloss + ½‖W‖² (bias unpenalized) of a model given by its
    /// weights (`weightRows × dimension`, weightRows = 1 for two classes) and bias, in Double —
    /// the same formula as tools/fixtures/sklearn_reference.py. `x` must be already scaled.
    ///
    /// - Throws: `LearningError` when the arrays do not fit together.
    public static func objective(
        x: [Float], rows: Int, dimension: Int, labels: [Int], classCount: Int,
        weights: [Float], bias: [Float], C: Double, classWeights: [Double]? = nil
    ) throws -> Double {
        try ModelShape.check(x: x, rows: rows, dimension: dimension, labels: labels, classCount: classCount,
                             weights: weights, bias: bias, classWeights: classWeights)
        let sampleWeights = labels.map { classWeights?[$0] ?? 1 }
        let loss = SoftmaxLoss(x: x, rows: rows, dimension: dimension, labels: labels,
                               classCount: classCount, sampleWeights: sampleWeights)
        let point = weights.map(Double.init) + bias.map(Double.init)
        var gradient = [Double](repeating: 0, count: point.count)
        var value = C * loss.evaluate(point, gradient: &gradient)
        for w in weights { value += 0.5 * Double(w) * Double(w) }
        return value
    }
}
