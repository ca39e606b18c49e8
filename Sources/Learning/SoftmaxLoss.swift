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
    /// Optional per-feature offsets μ (dimension entries): parameters are then (W, b′) with
    /// scores W·(x − μ) + b′, i.e. the model (W, b′ − W·μ) — the same optimum (the bias is not
    /// penalized) on implicitly centered features, which L-BFGS reaches in far fewer
    /// iterations when the features are all positive (CNN codes). X itself is not copied:
    /// the offset moves into the bias, and the gradient becomes Gᵀ·X − (Σᵢ Gᵢ) μᵀ.
    var center: [Double]? = nil

    var weightRows: Int { classCount == 2 ? 1 : classCount }
    var totalWeight: Double { sampleWeights.reduce(0, +) }

    /// Rows per block: the block of X (blockRows × dimension floats, 2.5 MB at 512 × 1280)
    /// stays in cache between the two products, so X streams from memory once per
    /// evaluation instead of twice.
    static let blockRows = 512

    /// Returns Σ sᵢ logloss at `point` and writes its gradient (same layout as `point`).
    func evaluate(_ point: [Double], gradient: inout [Double]) -> Double {
        let k = weightRows
        let d = dimension
        let w = point[0..<(k * d)].map { Float($0) }
        var b = Array(point[(k * d)...])
        if let center {
            for c in 0..<k {
                var shift = 0.0
                for j in 0..<d { shift += point[c * d + j] * center[j] }
                b[c] -= shift
            }
        }
        var total = 0.0
        var biasGradient = [Double](repeating: 0, count: k)
        var weightGradient = [Float](repeating: 0, count: k * d)
        var block = [Float](repeating: 0, count: Self.blockRows * k)
        var z = [Double](repeating: 0, count: k)
        x.withUnsafeBufferPointer { xp in
            w.withUnsafeBufferPointer { wp in
                weightGradient.withUnsafeMutableBufferPointer { wg in
                    block.withUnsafeMutableBufferPointer { g in
                        var start = 0
                        while start < rows {
                            let count = min(Self.blockRows, rows - start)
                            let xBlock = xp.baseAddress! + start * d
                            // scores (count × k) = X_block · Wᵀ
                            BLAS.sgemm(transB: true, m: count, n: k, k: d, a: xBlock, lda: d,
                                       b: wp.baseAddress!, ldb: d, c: g.baseAddress!, ldc: k)
                            // scores become G = ∂loss/∂score in place
                            total += lossAndDerivatives(g, rows: start..<(start + count), bias: b,
                                                        z: &z, biasGradient: &biasGradient)
                            // ∂/∂W (k × d) += G_blockᵀ · X_block
                            BLAS.sgemm(transA: true, m: k, n: d, k: count, a: g.baseAddress!, lda: k,
                                       b: xBlock, ldb: d, beta: start == 0 ? 0 : 1, c: wg.baseAddress!, ldc: d)
                            start += count
                        }
                    }
                }
            }
        }
        for i in 0..<(k * d) { gradient[i] = Double(weightGradient[i]) }
        if let center {
            for c in 0..<k {
                for j in 0..<d { gradient[c * d + j] -= biasGradient[c] * center[j] }
            }
        }
        for c in 0..<k { gradient[k * d + c] = biasGradient[c] }
        return total
    }

    /// For the rows `range` whose raw scores (without bias) are in `g` (row-major,
    /// range.count × weightRows): adds the weighted loss, replaces the scores by ∂loss/∂score
    /// and accumulates the bias gradient. `z` is scratch of weightRows entries.
    private func lossAndDerivatives(
        _ g: UnsafeMutableBufferPointer<Float>, rows range: Range<Int>, bias b: [Double],
        z: inout [Double], biasGradient: inout [Double]
    ) -> Double {
        let k = weightRows
        var total = 0.0
        for (r, i) in range.enumerated() {
            let s = sampleWeights[i]
            if k == 1 {
                // logloss = log(1 + e^(−t·z)), t = ±1; ∂/∂z = −t·σ(−t·z).
                let t: Double = labels[i] == 1 ? 1 : -1
                let margin = t * (Double(g[r]) + b[0])
                total += s * (margin > 0 ? log1p(exp(-margin)) : -margin + log1p(exp(margin)))
                let derivative = -t * s / (1 + exp(margin))
                g[r] = Float(derivative)
                biasGradient[0] += derivative
                continue
            }
            var maximum = -Double.infinity
            for c in 0..<k {
                z[c] = Double(g[r * k + c]) + b[c]
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
                g[r * k + c] = Float(derivative)
                biasGradient[c] += derivative
            }
        }
        return total
    }
}
