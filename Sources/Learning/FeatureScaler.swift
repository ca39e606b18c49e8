/// How features are scaled before training and prediction. The fitted scaler is part of the
/// persisted classifier, so prediction applies exactly what training saw.
public enum Scaling: String, Codable, Sendable, CaseIterable {
    /// Features as they are.
    case none
    /// Per feature: (x − mean) / std, both fitted on the training rows (std 0 → 1, as
    /// scikit-learn's StandardScaler; population std, ddof 0).
    case standard
    /// Each row divided by its L2 norm (rows of norm 0 stay 0). Needs no fitting.
    case l2
}

/// A fitted feature scaling. `mean` and `scale` have one entry per feature for `.standard`
/// and are empty otherwise.
public struct FeatureScaler: Codable, Equatable, Sendable {
    public var method: Scaling
    public var mean: [Float]
    public var scale: [Float]

    /// The identity scaling.
    public static let identity = FeatureScaler(method: .none, mean: [], scale: [])

    public init(method: Scaling, mean: [Float], scale: [Float]) {
        self.method = method
        self.mean = mean
        self.scale = scale
    }

    /// Fits `method` on row-major `x` (`rows × dimension`); statistics accumulated in Double.
    public static func fit(_ method: Scaling, x: [Float], rows: Int, dimension: Int) -> FeatureScaler {
        guard method == .standard, rows > 0 else { return FeatureScaler(method: method, mean: [], scale: []) }
        var sum = [Double](repeating: 0, count: dimension)
        var sumSquares = [Double](repeating: 0, count: dimension)
        x.withUnsafeBufferPointer { p in
            for row in 0..<rows {
                let base = row * dimension
                for j in 0..<dimension {
                    let v = Double(p[base + j])
                    sum[j] += v
                    sumSquares[j] += v * v
                }
            }
        }
        let n = Double(rows)
        var mean = [Float](repeating: 0, count: dimension)
        var scale = [Float](repeating: 1, count: dimension)
        for j in 0..<dimension {
            let m = sum[j] / n
            let variance = max(0, sumSquares[j] / n - m * m)
            mean[j] = Float(m)
            // StandardScaler treats (near-)zero variance as 1 so constant features stay 0.
            let std = variance.squareRoot()
            scale[j] = std < 1e-7 * max(1, abs(m)) ? 1 : Float(std)
        }
        return FeatureScaler(method: .standard, mean: mean, scale: scale)
    }

    /// `x` scaled (a copy; `x` itself is returned unchanged for `.none`).
    public func transform(_ x: [Float], rows: Int, dimension: Int) -> [Float] {
        switch method {
        case .none:
            return x
        case .standard:
            var out = x
            mean.withUnsafeBufferPointer { m in
                scale.withUnsafeBufferPointer { s in
                    out.withUnsafeMutableBufferPointer { o in
                        for row in 0..<rows {
                            let base = row * dimension
                            for j in 0..<dimension { o[base + j] = (o[base + j] - m[j]) / s[j] }
                        }
                    }
                }
            }
            return out
        case .l2:
            var out = x
            out.withUnsafeMutableBufferPointer { o in
                for row in 0..<rows {
                    let base = row * dimension
                    var norm: Float = 0
                    for j in 0..<dimension { norm += o[base + j] * o[base + j] }
                    norm = norm.squareRoot()
                    guard norm > 0 else { continue }
                    let inverse = 1 / norm
                    for j in 0..<dimension { o[base + j] *= inverse }
                }
            }
            return out
        }
    }
}
