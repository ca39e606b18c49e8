import Foundation
import Tensor

/// Stratified k-fold cross-validation over a grid of C for either classifier.
public enum CrossValidation {
    /// What to train in each fold; the C of the options is replaced by each grid value.
    public enum Trainer: Sendable {
        case svm(LinearSVM.Options)
        case softmax(SoftmaxRegression.Options)

        public var kind: ClassifierKind {
            switch self {
            case .svm: return .svm
            case .softmax: return .softmax
            }
        }

        /// Trains on the given rows with C replaced by `C`; `innerThreads` bounds the SVM's
        /// own parallelism (1 inside cross-validation, whose folds already run in parallel).
        public func fit(x: [Float], rows: Int, dimension: Int, labels: [Int], classNames: [String], C: Double,
                 innerThreads: Int) throws -> LinearClassifier {
            switch self {
            case var .svm(options):
                options.C = C
                options.threads = innerThreads
                return try LinearSVM.fit(x: x, rows: rows, dimension: dimension, labels: labels,
                                         classNames: classNames, options: options)
            case var .softmax(options):
                options.C = C
                return try SoftmaxRegression.fit(x: x, rows: rows, dimension: dimension, labels: labels,
                                                 classNames: classNames, options: options)
            }
        }
    }

    /// One C of the grid with its per-fold validation accuracies.
    public struct GridPoint: Codable, Equatable, Sendable {
        public var C: Double
        public var foldAccuracies: [Double]
        public var meanAccuracy: Double
        /// Population standard deviation over folds.
        public var standardDeviation: Double
        /// False if any fold's fit hit its iteration cap.
        public var converged: Bool
    }

    /// The grid table and the choice.
    public struct Report: Codable, Equatable, Sendable {
        public var kind: ClassifierKind
        public var folds: Int
        public var seed: UInt64
        public var grid: [GridPoint]
        /// The C with the highest mean accuracy (the smallest such C on ties: stronger
        /// regularization when the data cannot tell).
        public var bestC: Double
        public var bestMeanAccuracy: Double

        /// A readable grid table, the chosen row marked with `*`.
        public var table: String {
            var lines = ["\(folds)-fold stratified cross-validation (\(kind.rawValue)), seed \(seed)",
                         "           C   mean acc    std    folds"]
            for point in grid {
                let mark = point.C == bestC ? "*" : " "
                let folds = point.foldAccuracies.map { String(format: "%.3f", $0) }.joined(separator: " ")
                lines.append(String(format: "%@ %10.4g   %.4f   %.4f   ", mark, point.C, point.meanAccuracy,
                                    point.standardDeviation) + folds + (point.converged ? "" : "  (not converged)"))
            }
            lines.append("best C = \(bestC) (mean accuracy \(String(format: "%.4f", bestMeanAccuracy)))")
            return lines.joined(separator: "\n") + "\n"
        }
    }

    /// 0.001 … 100, one value per decade.
    public static let defaultGrid: [Double] = [0.001, 0.01, 0.1, 1, 10, 100]

    /// The fold (0..<folds) of each row: each class's rows are shuffled (seeded) and dealt
    /// round-robin, so every fold holds ⌊n_c/k⌋ or ⌈n_c/k⌉ rows of class c.
    ///
    /// - Throws: `.tooFewSamplesForFolds` when a present class has fewer rows than folds.
    public static func stratifiedFolds(labels: [Int], classNames: [String], folds: Int, seed: UInt64) throws -> [Int] {
        guard folds >= 2 else { throw LearningError.invalidParameter(name: "folds", reason: "need at least 2, got \(folds)") }
        var byClass = [[Int]](repeating: [], count: classNames.count)
        for (row, label) in labels.enumerated() {
            guard label >= 0, label < classNames.count else {
                throw LearningError.labelOutOfRange(row: row, label: label, classCount: classNames.count)
            }
            byClass[label].append(row)
        }
        var generator = SeededGenerator(seed: seed)
        var assignment = [Int](repeating: 0, count: labels.count)
        var offset = 0
        for (c, rows) in byClass.enumerated() where !rows.isEmpty {
            guard rows.count >= folds else {
                throw LearningError.tooFewSamplesForFolds(className: classNames[c], count: rows.count, folds: folds)
            }
            var shuffled = rows
            shuffled.shuffle(using: &generator)
            // Continue the deal where the previous class stopped, so small classes do not
            // all land in fold 0 and fold sizes stay within one row of each other.
            for (i, row) in shuffled.enumerated() { assignment[row] = (offset + i) % folds }
            offset = (offset + shuffled.count) % folds
        }
        return assignment
    }

    /// Cross-validates `trainer` over `grid` and returns the table and the best C.
    ///
    /// The (C, fold) fits run on `threads` workers in parallel, each fit single-threaded;
    /// OpenBLAS is set to one thread meanwhile (and restored), so the workers do not
    /// oversubscribe the cores. Scaling is fitted inside each training fold.
    public static func select(
        trainer: Trainer, x: [Float], rows: Int, dimension: Int, labels: [Int], classNames: [String],
        grid: [Double] = defaultGrid, folds: Int = 5, seed: UInt64 = 0,
        threads: Int = ProcessInfo.processInfo.activeProcessorCount
    ) throws -> Report {
        guard !grid.isEmpty else { throw LearningError.invalidParameter(name: "grid", reason: "no C values") }
        for C in grid where !(C > 0 && C.isFinite) {
            throw LearningError.invalidParameter(name: "C", reason: "grid values must be > 0, got \(C)")
        }
        try TrainingSet.validate(x: x, rows: rows, dimension: dimension, labels: labels, classNames: classNames)
        let assignment = try stratifiedFolds(labels: labels, classNames: classNames, folds: folds, seed: seed)

        // Per fold: training and validation rows, copied once and shared by all C.
        var splits = [(train: [Float], trainLabels: [Int], test: [Float], testLabels: [Int])]()
        for fold in 0..<folds {
            var train = [Float](), test = [Float]()
            var trainLabels = [Int](), testLabels = [Int]()
            for row in 0..<rows {
                let slice = x[(row * dimension)..<((row + 1) * dimension)]
                if assignment[row] == fold {
                    test.append(contentsOf: slice)
                    testLabels.append(labels[row])
                } else {
                    train.append(contentsOf: slice)
                    trainLabels.append(labels[row])
                }
            }
            splits.append((train, trainLabels, test, testLabels))
        }

        let jobs = grid.count * folds
        let results = ParallelResults<Result<(Double, Bool), Error>>(count: jobs)
        let next = ParallelResults<Int>.Counter()
        let workers = max(1, min(threads, jobs))
        // With several workers OpenBLAS is held at one thread (`BLAS.withThreads`, shared with
        // any concurrent caller) so its threads do not fight the workers for the cores.
        let runJobs = {
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while let job = next.take(below: jobs) {
                    let (g, fold) = (job / folds, job % folds)
                    let split = splits[fold]
                    results.set(job, Result {
                        let model = try trainer.fit(
                            x: split.train, rows: split.trainLabels.count, dimension: dimension, labels: split.trainLabels,
                            classNames: classNames, C: grid[g], innerThreads: 1)
                        let predicted = try model.predict(split.test, rows: split.testLabels.count)
                        let correct = zip(predicted, split.testLabels).filter { $0 == $1 }.count
                        return (Double(correct) / Double(split.testLabels.count), model.training.converged)
                    })
                }
            }
        }
        if workers > 1 { BLAS.withThreads(1, runJobs) } else { runJobs() }

        var points = [GridPoint]()
        for (g, C) in grid.enumerated() {
            var accuracies = [Double]()
            var converged = true
            for fold in 0..<folds {
                guard let result = results.get(g * folds + fold) else { continue }
                let (accuracy, foldConverged) = try result.get()
                accuracies.append(accuracy)
                converged = converged && foldConverged
            }
            let mean = accuracies.reduce(0, +) / Double(accuracies.count)
            let variance = accuracies.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(accuracies.count)
            points.append(GridPoint(C: C, foldAccuracies: accuracies, meanAccuracy: mean,
                                    standardDeviation: variance.squareRoot(), converged: converged))
        }
        // Best mean; ties (within rounding) go to the smallest C.
        let ranked = points.sorted { a, b in
            if abs(a.meanAccuracy - b.meanAccuracy) > 1e-12 { return a.meanAccuracy > b.meanAccuracy }
            return a.C < b.C
        }
        guard let best = ranked.first else { throw LearningError.invalidParameter(name: "grid", reason: "no C values") }
        return Report(kind: trainer.kind, folds: folds, seed: seed, grid: points, bestC: best.C,
                      bestMeanAccuracy: best.meanAccuracy)
    }
}
