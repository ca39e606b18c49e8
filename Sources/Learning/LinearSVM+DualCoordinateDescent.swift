import Tensor

/// The result of one binary problem: w (dimension), b (the weight of the appended feature 1).
struct DualSolution {
    var w: [Float]
    var b: Float
    var iterations: Int
    var converged: Bool
}

/// One binary L2-regularized SVM problem, solved in the dual as LIBLINEAR's
/// `solve_l2r_l1l2_svc` does (the same steps, shrinking rule and stopping rule):
///
///     min_α ½ αᵀ(Q + D)α − eᵀα,  0 ≤ αᵢ ≤ Uᵢ,   Qᵢⱼ = yᵢyⱼ x̃ᵢ·x̃ⱼ,  x̃ = (x, 1)
///     squared hinge: Dᵢᵢ = 1/(2Cᵢ), Uᵢ = ∞;   hinge: Dᵢᵢ = 0, Uᵢ = Cᵢ
///
/// keeping w̃ = Σ yᵢαᵢx̃ᵢ up to date, so each coordinate step costs one dot product and one
/// axpy over the row. Rows whose projected gradient shows they will stay at a bound are
/// shrunk out of the active set; when the gap max PG − min PG over the active rows falls
/// below `tolerance`, the whole set is checked once more before stopping.
///
/// Precision: x and w are Float (BLAS sdot/saxpy); α, the gradient and the bias are Double.
struct DualProblem {
    /// Row-major rows × dimension, already scaled.
    let x: UnsafeBufferPointer<Float>
    let rows: Int
    let dimension: Int
    /// ‖x̃ᵢ‖² = ‖xᵢ‖² + 1.
    let squaredNorms: [Double]
    /// yᵢ = +1 where true.
    let positive: [Bool]
    /// Cᵢ per row.
    let perSampleC: [Double]
    let loss: SVMLoss
    let tolerance: Double
    let maxIterations: Int
    let seed: UInt64

    func solve() -> DualSolution {
        let n = rows
        let d = dimension
        var diag = [Double](repeating: 0, count: n)
        var upper = [Double](repeating: .infinity, count: n)
        for i in 0..<n {
            switch loss {
            case .squaredHinge: diag[i] = 0.5 / perSampleC[i]
            case .hinge: upper[i] = perSampleC[i]
            }
        }
        var qd = [Double](repeating: 0, count: n)
        for i in 0..<n { qd[i] = diag[i] + squaredNorms[i] }
        var y = [Double](repeating: -1, count: n)
        for i in 0..<n where positive[i] { y[i] = 1 }
        var alpha = [Double](repeating: 0, count: n)
        var index = Array(0..<n)
        var w = [Float](repeating: 0, count: d)
        var b: Double = 0
        var generator = SeededGenerator(seed: seed)

        var activeSize = n
        var pgMaxOld = Double.infinity
        var pgMinOld = -Double.infinity
        var iteration = 0
        var converged = false
        let xBase = x.baseAddress!

        w.withUnsafeMutableBufferPointer { wp in
            let wBase = wp.baseAddress!
            while iteration < maxIterations {
                var pgMaxNew = -Double.infinity
                var pgMinNew = Double.infinity
                for i in 0..<activeSize {
                    let j = i + generator.below(activeSize - i)
                    index.swapAt(i, j)
                }
                var s = 0
                while s < activeSize {
                    let i = index[s]
                    let row = xBase + i * d
                    let yi = y[i]
                    var g = yi * (Double(BLAS.sdot(d, wBase, row)) + b) - 1
                    let u = upper[i]
                    g += alpha[i] * diag[i]
                    var pg = 0.0
                    if alpha[i] == 0 {
                        if g > pgMaxOld {
                            // At the lower bound and moving away from it: shrink.
                            activeSize -= 1
                            index.swapAt(s, activeSize)
                            continue
                        } else if g < 0 {
                            pg = g
                        }
                    } else if alpha[i] == u {
                        if g < pgMinOld {
                            activeSize -= 1
                            index.swapAt(s, activeSize)
                            continue
                        } else if g > 0 {
                            pg = g
                        }
                    } else {
                        pg = g
                    }
                    pgMaxNew = max(pgMaxNew, pg)
                    pgMinNew = min(pgMinNew, pg)
                    if abs(pg) > 1e-12 {
                        let old = alpha[i]
                        alpha[i] = min(max(old - g / qd[i], 0), u)
                        let step = (alpha[i] - old) * yi
                        BLAS.saxpy(d, alpha: Float(step), row, wBase)
                        b += step
                    }
                    s += 1
                }
                iteration += 1
                if pgMaxNew - pgMinNew <= tolerance {
                    if activeSize == n {
                        converged = true
                        break
                    }
                    // Converged on the active rows: check every row once more.
                    activeSize = n
                    pgMaxOld = .infinity
                    pgMinOld = -.infinity
                    continue
                }
                pgMaxOld = pgMaxNew
                pgMinOld = pgMinNew
                if pgMaxOld <= 0 { pgMaxOld = .infinity }
                if pgMinOld >= 0 { pgMinOld = -.infinity }
            }
        }
        return DualSolution(w: w, b: Float(b), iterations: iteration, converged: converged)
    }
}
