import Foundation
import Tensor

/// Σᵢ sᵢ · logloss of a linear model and its gradient, the data term of softmax regression.
///
/// Parameters are one Double vector: W (`weightRows × dimension`, row-major) then b
/// (`weightRows`). weightRows = classes, or 1 for two classes (binary logistic: p₁ = σ(w·x + b)).
/// Scores and the gradient product run in Float through sgemm; per-row losses and sums in Double.
struct SoftmaxLoss {
    let x: [Float]
    let rows: Int
    let dimension: Int
    let labels: [Int]
    let classCount: Int
    let sampleWeights: [Double]

    var weightRows: Int { classCount == 2 ? 1 : classCount }
    var totalWeight: Double { sampleWeights.reduce(0, +) }

    /// Returns Σ sᵢ logloss at `point` and writes its gradient (same layout as `point`).
    func evaluate(_ point: [Double], gradient: inout [Double]) -> Double {
        let k = weightRows
        let d = dimension
        let n = rows
        let w = point[0..<(k * d)].map { Float($0) }
        let b = Array(point[(k * d)...])
        // scores (n × k) = X · Wᵀ
        var scores = [Float](repeating: 0, count: n * k)
        x.withUnsafeBufferPointer { xp in
            w.withUnsafeBufferPointer { wp in
                scores.withUnsafeMutableBufferPointer { sp in
                    BLAS.sgemm(transB: true, m: n, n: k, k: d, a: xp.baseAddress!, lda: d,
                               b: wp.baseAddress!, ldb: d, c: sp.baseAddress!, ldc: k)
                }
            }
        }
        // scores become G = ∂loss/∂score (n × k), in place.
        var total = 0.0
        var biasGradient = [Double](repeating: 0, count: k)
        var z = [Double](repeating: 0, count: k)
        scores.withUnsafeMutableBufferPointer { g in
            for i in 0..<n {
                let s = sampleWeights[i]
                if k == 1 {
                    // logloss = log(1 + e^(−t·z)), t = ±1; ∂/∂z = −t·σ(−t·z).
                    let t: Double = labels[i] == 1 ? 1 : -1
                    let margin = t * (Double(g[i]) + b[0])
                    total += s * (margin > 0 ? log1p(exp(-margin)) : -margin + log1p(exp(margin)))
                    let derivative = -t * s / (1 + exp(margin))
                    g[i] = Float(derivative)
                    biasGradient[0] += derivative
                    continue
                }
                var maximum = -Double.infinity
                for c in 0..<k {
                    z[c] = Double(g[i * k + c]) + b[c]
                    maximum = max(maximum, z[c])
                }
                // logloss = log Σ e^z − z_y, shifted by the maximum so exp cannot overflow.
                let label = labels[i]
                let shiftedTrueScore = z[label] - maximum
                var sum = 0.0
                for c in 0..<k {
                    z[c] = exp(z[c] - maximum)
                    sum += z[c]
                }
                total += s * (log(sum) - shiftedTrueScore)
                for c in 0..<k {
                    let derivative = s * (z[c] / sum - (c == label ? 1 : 0))
                    g[i * k + c] = Float(derivative)
                    biasGradient[c] += derivative
                }
            }
        }
        // ∂/∂W (k × d) = Gᵀ · X
        var weightGradient = [Float](repeating: 0, count: k * d)
        scores.withUnsafeBufferPointer { gp in
            x.withUnsafeBufferPointer { xp in
                weightGradient.withUnsafeMutableBufferPointer { wg in
                    BLAS.sgemm(transA: true, m: k, n: d, k: n, a: gp.baseAddress!, lda: k,
                               b: xp.baseAddress!, ldb: d, c: wg.baseAddress!, ldc: d)
                }
            }
        }
        for i in 0..<(k * d) { gradient[i] = Double(weightGradient[i]) }
        for c in 0..<k { gradient[k * d + c] = biasGradient[c] }
        return total
    }
}
