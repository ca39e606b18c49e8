import Foundation
import Tensor

/// The SVM loss on the margin violation m = max(0, 1 − y·s).
public enum SVMLoss: String, Codable, Sendable, CaseIterable {
    /// m² (LIBLINEAR -s 1, scikit-learn LinearSVC's default).
    case squaredHinge = "squared_hinge"
    /// m (LIBLINEAR -s 3).
    case hinge
}

/// L2-regularized linear SVM, one-vs-rest, trained by LIBLINEAR's dual coordinate descent
/// (Hsieh et al. 2008) with shrinking and a seeded random permutation per epoch.
///
/// The bias is LIBLINEAR's: a constant feature 1 appended to every row (intercept_scaling = 1),
/// so it is regularized like the weights — the model scikit-learn's `LinearSVC` fits. Each
/// one-vs-rest problem k minimizes
///     ½(‖w‖² + b²) + Σᵢ Cᵢ · loss(1 − yᵢ(w·xᵢ + b)),   yᵢ = +1 for class k, −1 otherwise,
/// with LIBLINEAR's per-sample Cᵢ (see `perSampleC`). Two classes make one problem (class 1
/// positive), as scikit-learn does.
public enum LinearSVM {
    public struct Options: Codable, Equatable, Sendable {
        /// Inverse regularization strength (> 0).
        public var C: Double = 1
        public var loss: SVMLoss = .squaredHinge
        /// Stop when the projected-gradient gap max PG − min PG of an epoch over all rows is
        /// ≤ tolerance (LIBLINEAR's eps; 1e-4 as scikit-learn's default `tol`).
        public var tolerance: Double = 1e-4
        /// Epochs (passes over the active rows) per problem; scikit-learn's default `max_iter`.
        public var maxIterations: Int = 1000
        public var classWeighting: ClassWeighting = .none
        public var scaling: Scaling = .none
        /// Seed of the per-epoch permutations (problem k uses seed + k).
        public var seed: UInt64 = 0
        /// Problems solved in parallel (one-vs-rest problems are independent).
        public var threads: Int = ProcessInfo.processInfo.activeProcessorCount

        public init(
            C: Double = 1, loss: SVMLoss = .squaredHinge, tolerance: Double = 1e-4, maxIterations: Int = 1000,
            classWeighting: ClassWeighting = .none, scaling: Scaling = .none, seed: UInt64 = 0,
            threads: Int = ProcessInfo.processInfo.activeProcessorCount
        ) {
            self.C = C
            self.loss = loss
            self.tolerance = tolerance
            self.maxIterations = maxIterations
            self.classWeighting = classWeighting
            self.scaling = scaling
            self.seed = seed
            self.threads = threads
        }

        func validate() throws {
            try SolverParameters.validate(C: C, tolerance: tolerance, maxIterations: maxIterations)
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
        let problems = classCount == 2 ? 1 : classCount
        let started = Date()

        // ‖xᵢ‖² + 1 (the appended bias feature), shared by all problems.
        var squaredNorms = [Double](repeating: 1, count: rows)
        scaled.withUnsafeBufferPointer { p in
            for i in 0..<rows {
                squaredNorms[i] += Double(BLAS.sdot(dimension, p.baseAddress! + i * dimension, p.baseAddress! + i * dimension))
            }
        }

        let solutions = ParallelResults<DualSolution>(count: problems)
        let threads = max(1, min(options.threads, problems))
        scaled.withUnsafeBufferPointer { xp in
            let next = ParallelResults<Int>.Counter()
            DispatchQueue.concurrentPerform(iterations: threads) { _ in
                while let k = next.take(below: problems) {
                    let positive = classCount == 2 ? 1 : k
                    let problem = DualProblem(
                        x: xp, rows: rows, dimension: dimension, squaredNorms: squaredNorms,
                        positive: labels.map { $0 == positive },
                        perSampleC: perSampleC(labels: labels, classCount: classCount, positive: positive,
                                               C: options.C, classWeights: classWeights),
                        loss: options.loss, tolerance: options.tolerance, maxIterations: options.maxIterations,
                        seed: options.seed &+ UInt64(k))
                    solutions.set(k, problem.solve())
                }
            }
        }
        let seconds = Date().timeIntervalSince(started)

        var weights = [Float](repeating: 0, count: problems * dimension)
        var bias = [Float](repeating: 0, count: problems)
        var iterations = [Int]()
        var warnings = [String]()
        for k in 0..<problems {
            guard let solution = solutions.get(k) else { continue }
            weights.replaceSubrange(k * dimension..<(k + 1) * dimension, with: solution.w)
            bias[k] = solution.b
            iterations.append(solution.iterations)
            if !solution.converged {
                let name = classCount == 2 ? "the binary problem" : "problem '\(classNames[k])' vs rest"
                warnings.append(
                    "\(name) reached \(options.maxIterations) epochs before the tolerance \(options.tolerance); "
                        + "the solution may be inaccurate (raise the iteration cap or lower C)")
            }
        }
        let objective = try primalObjective(
            x: scaled, rows: rows, dimension: dimension, labels: labels, classCount: classCount,
            weights: weights, bias: bias, C: options.C, loss: options.loss, classWeights: classWeights)
        return LinearClassifier(
            kind: .svm, classes: classNames, dimension: dimension, weights: weights, bias: bias, scaler: scaler,
            C: options.C, loss: options.loss, classWeighting: options.classWeighting,
            training: TrainingInfo(
                rows: rows, classCounts: TrainingSet.classCounts(labels, classCount: classCount),
                iterations: iterations, converged: warnings.isEmpty, objective: objective,
                tolerance: options.tolerance, seconds: seconds, warnings: warnings))
    }

    /// `fit` with classes named "0", "1", ….
    public static func fit(
        x: [Float], rows: Int, dimension: Int, labels: [Int], classCount: Int, options: Options = Options()
    ) throws -> LinearClassifier {
        try fit(x: x, rows: rows, dimension: dimension, labels: labels,
                classNames: (0..<classCount).map(String.init), options: options)
    }

    /// LIBLINEAR's per-sample C of the problem whose positive class is `positive`, as
    /// scikit-learn calls it: for two classes Cᵢ = C · weight[class of i]; for one-vs-rest
    /// problem k, C · weight[k] for positives and plain C for the rest (LIBLINEAR does not
    /// weight the negatives of a one-vs-rest problem).
    public static func perSampleC(
        labels: [Int], classCount: Int, positive: Int, C: Double, classWeights: [Double]
    ) -> [Double] {
        if classCount == 2 { return labels.map { C * classWeights[$0] } }
        return labels.map { $0 == positive ? C * classWeights[positive] : C }
    }
}

/// Fixed-size slots written by parallel workers, one slot per index (each written once, by
/// one worker); the lock guards the slots array and the counter's next index.
final class ParallelResults<Value>: @unchecked Sendable {
    private var slots: [Value?]
    private let lock = NSLock()

    init(count: Int) { slots = [Value?](repeating: nil, count: count) }

    func set(_ index: Int, _ value: Value) {
        lock.lock()
        slots[index] = value
        lock.unlock()
    }

    func get(_ index: Int) -> Value? {
        lock.lock()
        defer { lock.unlock() }
        return slots[index]
    }

    /// Hands out 0, 1, 2, … to workers; nil when `bound` is reached.
    final class Counter: @unchecked Sendable {
        private var nextIndex = 0
        private let lock = NSLock()

        func take(below bound: Int) -> Int? {
            lock.lock()
            defer { lock.unlock() }
            guard nextIndex < bound else { return nil }
            nextIndex += 1
            return nextIndex - 1
        }
    }
}
