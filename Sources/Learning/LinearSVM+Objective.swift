import Tensor

extension LinearSVM {
    /// The primal objective of a one-vs-rest SVM in Double, summed over its problems:
    ///     Σₖ ½(‖wₖ‖² + bₖ²) + Σᵢ Cᵢ · loss(1 − yᵢ(wₖ·xᵢ + bₖ))
    /// with `perSampleC`'s Cᵢ. `weights` is `problems × dimension` (problems = 1 for two
    /// classes). The same formula as tools/fixtures/sklearn_reference.py, so ours and
    /// scikit-learn's solutions are compared on equal terms. `x` must be already scaled.
    ///
    /// - Throws: `LearningError` when the arrays do not fit together.
    public static func primalObjective(
        x: [Float], rows: Int, dimension: Int, labels: [Int], classCount: Int,
        weights: [Float], bias: [Float], C: Double, loss: SVMLoss, classWeights: [Double]? = nil
    ) throws -> Double {
        let problems = classCount == 2 ? 1 : classCount
        try ModelShape.check(x: x, rows: rows, dimension: dimension, labels: labels, classCount: classCount,
                             weights: weights, bias: bias, classWeights: classWeights)
        let weightsPerClass = classWeights ?? [Double](repeating: 1, count: classCount)
        // Scores in Float by sgemm; the margins and sums in Double.
        var scores = [Float](repeating: 0, count: rows * problems)
        x.withUnsafeBufferPointer { xp in
            weights.withUnsafeBufferPointer { wp in
                scores.withUnsafeMutableBufferPointer { sp in
                    BLAS.sgemm(transB: true, m: rows, n: problems, k: dimension,
                               a: xp.baseAddress!, lda: dimension, b: wp.baseAddress!, ldb: dimension,
                               c: sp.baseAddress!, ldc: problems)
                }
            }
        }
        var total = 0.0
        for k in 0..<problems {
            let positive = classCount == 2 ? 1 : k
            let cs = perSampleC(labels: labels, classCount: classCount, positive: positive, C: C, classWeights: weightsPerClass)
            var regularizer = Double(bias[k]) * Double(bias[k])
            for j in 0..<dimension {
                let v = Double(weights[k * dimension + j])
                regularizer += v * v
            }
            var lossSum = 0.0
            for i in 0..<rows {
                let t: Double = labels[i] == positive ? 1 : -1
                let margin = max(0, 1 - t * (Double(scores[i * problems + k]) + Double(bias[k])))
                lossSum += cs[i] * (loss == .squaredHinge ? margin * margin : margin)
            }
            total += 0.5 * regularizer + lossSum
        }
        return total
    }
}
