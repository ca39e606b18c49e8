import Foundation

/// Limited-memory BFGS (Nocedal & Wright, Algorithm 7.4/7.5) with a strong-Wolfe line search
/// (Algorithms 3.5/3.6, cubic interpolation with bisection safeguard), for smooth objectives
/// of a few ten thousand Double parameters.
///
/// It stops when ‖∇f‖∞ ≤ `gradientTolerance` (converged), when the line search can no longer
/// decrease f (the float32 noise floor of the objective: converged if ‖∇f‖∞ is within
/// 10 × tolerance, else not), or at `maxIterations` (not converged).
struct LBFGS {
    /// Objective and gradient at a point: returns f, writes ∇f into the second argument.
    typealias Objective = (_ point: [Double], _ gradient: inout [Double]) -> Double

    var memory = 10
    var gradientTolerance = 1e-5
    var maxIterations = 1000
    /// Sufficient decrease and curvature constants of the strong Wolfe conditions.
    var c1 = 1e-4
    var c2 = 0.9

    struct Result {
        var point: [Double]
        var value: Double
        var gradientNorm: Double
        var iterations: Int
        var evaluations: Int
        var converged: Bool
        var reason: String
    }

    func minimize(start: [Double], objective: Objective) -> Result {
        let n = start.count
        var x = start
        var g = [Double](repeating: 0, count: n)
        var f = objective(x, &g)
        var evaluations = 1
        var sHistory = [[Double]]()
        var yHistory = [[Double]]()
        var rhoHistory = [Double]()
        var iteration = 0

        while true {
            let gNorm = g.reduce(0) { max($0, abs($1)) }
            if gNorm <= gradientTolerance {
                return Result(point: x, value: f, gradientNorm: gNorm, iterations: iteration, evaluations: evaluations,
                              converged: true, reason: "gradient below tolerance")
            }
            if iteration >= maxIterations {
                return Result(point: x, value: f, gradientNorm: gNorm, iterations: iteration, evaluations: evaluations,
                              converged: false, reason: "iteration cap reached")
            }
            // Two-loop recursion: direction = −H·g.
            var q = g
            var alphas = [Double](repeating: 0, count: sHistory.count)
            for i in stride(from: sHistory.count - 1, through: 0, by: -1) {
                alphas[i] = rhoHistory[i] * dot(sHistory[i], q)
                axpy(-alphas[i], yHistory[i], &q)
            }
            if let s = sHistory.last, let y = yHistory.last {
                let gamma = dot(s, y) / dot(y, y)
                for i in 0..<n { q[i] *= gamma }
            }
            for i in 0..<sHistory.count {
                let beta = rhoHistory[i] * dot(yHistory[i], q)
                axpy(alphas[i] - beta, sHistory[i], &q)
            }
            var direction = q.map { -$0 }
            var slope = dot(g, direction)
            if !(slope < 0) {
                // Not a descent direction (curvature information went stale): restart.
                sHistory.removeAll()
                yHistory.removeAll()
                rhoHistory.removeAll()
                direction = g.map { -$0 }
                slope = dot(g, direction)
            }
            // First step: unit step scaled to a gradient-sized move; then the natural step 1.
            let initialStep = sHistory.isEmpty ? min(1, 1 / sqrt(dot(g, g))) : 1
            guard let step = lineSearch(x: x, f: f, g: g, direction: direction, slope: slope,
                                        initialStep: initialStep, objective: objective, evaluations: &evaluations)
            else {
                return Result(point: x, value: f, gradientNorm: gNorm, iterations: iteration, evaluations: evaluations,
                              converged: gNorm <= 10 * gradientTolerance,
                              reason: "line search cannot decrease the objective further")
            }
            var s = [Double](repeating: 0, count: n)
            var y = [Double](repeating: 0, count: n)
            for i in 0..<n {
                s[i] = step.x[i] - x[i]
                y[i] = step.g[i] - g[i]
            }
            let sy = dot(s, y)
            if sy > 1e-10 * dot(y, y) {
                if sHistory.count == memory {
                    sHistory.removeFirst()
                    yHistory.removeFirst()
                    rhoHistory.removeFirst()
                }
                sHistory.append(s)
                yHistory.append(y)
                rhoHistory.append(1 / sy)
            }
            x = step.x
            f = step.f
            g = step.g
            iteration += 1
        }
    }

    private struct Point {
        var alpha: Double
        var x: [Double]
        var f: Double
        var g: [Double]
        var slope: Double
    }

    /// A step satisfying the strong Wolfe conditions along `direction`, or nil when none
    /// decreasing f can be found (f flat to rounding).
    private func lineSearch(
        x: [Double], f: Double, g: [Double], direction: [Double], slope: Double, initialStep: Double,
        objective: Objective, evaluations: inout Int
    ) -> Point? {
        func evaluate(_ alpha: Double) -> Point {
            var point = x
            axpy(alpha, direction, &point)
            var gradient = [Double](repeating: 0, count: x.count)
            let value = objective(point, &gradient)
            evaluations += 1
            return Point(alpha: alpha, x: point, f: value, g: gradient, slope: dot(gradient, direction))
        }
        let origin = Point(alpha: 0, x: x, f: f, g: g, slope: slope)
        var previous = origin
        var alpha = initialStep
        for trial in 0..<30 {
            let current = evaluate(alpha)
            if !current.f.isFinite || current.f > f + c1 * alpha * slope || (trial > 0 && current.f >= previous.f) {
                return zoom(low: previous, high: current, f0: f, slope0: slope, evaluate: evaluate)
            }
            if abs(current.slope) <= -c2 * slope { return current }
            if current.slope >= 0 {
                return zoom(low: current, high: previous, f0: f, slope0: slope, evaluate: evaluate)
            }
            previous = current
            alpha *= 2
        }
        return nil
    }

    private func zoom(low: Point, high: Point, f0: Double, slope0: Double, evaluate: (Double) -> Point) -> Point? {
        var low = low
        var high = high
        for _ in 0..<30 {
            let alpha = interpolate(low, high)
            let current = evaluate(alpha)
            if !current.f.isFinite || current.f > f0 + c1 * alpha * slope0 || current.f >= low.f {
                high = current
            } else {
                if abs(current.slope) <= -c2 * slope0 { return current }
                if current.slope * (high.alpha - low.alpha) >= 0 { high = low }
                low = current
            }
            if abs(high.alpha - low.alpha) < 1e-12 * max(1, abs(low.alpha)) { break }
        }
        // No Wolfe point found, but any strict decrease is still progress.
        return low.alpha > 0 && low.f < f0 ? low : nil
    }

    /// Minimizer of the cubic through (α, f, f') at both ends, kept inside the middle 80% of
    /// the bracket; bisection when the cubic is unusable (non-finite values or no minimum).
    private func interpolate(_ a: Point, _ b: Point) -> Double {
        let lo = min(a.alpha, b.alpha)
        let hi = max(a.alpha, b.alpha)
        let width = hi - lo
        let bisection = lo + 0.5 * width
        guard a.f.isFinite, b.f.isFinite, a.slope.isFinite, b.slope.isFinite, width > 0 else { return bisection }
        let d1 = a.slope + b.slope - 3 * (a.f - b.f) / (a.alpha - b.alpha)
        let discriminant = d1 * d1 - a.slope * b.slope
        guard discriminant >= 0 else { return bisection }
        let d2 = (b.alpha > a.alpha ? 1.0 : -1.0) * sqrt(discriminant)
        let denominator = b.slope - a.slope + 2 * d2
        guard denominator != 0 else { return bisection }
        let candidate = b.alpha - (b.alpha - a.alpha) * (b.slope + d2 - d1) / denominator
        guard candidate.isFinite, candidate > lo + 0.1 * width, candidate < hi - 0.1 * width else { return bisection }
        return candidate
    }
}

@inline(__always)
func dot(_ a: [Double], _ b: [Double]) -> Double {
    var sum = 0.0
    for i in 0..<a.count { sum += a[i] * b[i] }
    return sum
}

@inline(__always)
func axpy(_ alpha: Double, _ x: [Double], _ y: inout [Double]) {
    for i in 0..<x.count { y[i] += alpha * x[i] }
}
