import Tensor

/// How a 4-D activation map [N, C, H, W] becomes one vector per image.
public enum Pooling: String, Codable, CaseIterable, Sendable {
    /// Mean over H×W → C values (the usual choice for conv maps).
    case avg
    /// Max over H×W → C values.
    case max
    /// No pooling: the map flattened in C-order → C·H·W values.
    case none
}

/// Turns a layer's batch output into CNN codes: ReLU (thresholding at zero, unless disabled),
/// then pooling of spatial maps, one row per image.
///
/// ReLU comes before pooling: a code is "the ReLU'd activations", and average-pooling a
/// ReLU'd map keeps the non-negativity that linear classifiers and cosine search on CNN codes
/// assume. For layers that are already [N, C] or [N, C, 1, 1] pooling changes nothing.
/// Rank-3 outputs [N, A, B] and higher ranks other than 4 are flattened per image.
public struct CodeReducer: Equatable, Sendable {
    public var relu: Bool
    public var pooling: Pooling

    public init(relu: Bool = true, pooling: Pooling = .avg) {
        self.relu = relu
        self.pooling = pooling
    }

    /// The code length for a layer output of shape `shape` (batch first).
    public func codeLength(forOutputShape shape: [Int]) -> Int {
        if shape.count == 4 && pooling != .none { return shape[1] }
        return shape.dropFirst().reduce(1, *)
    }

    /// One code per image of the batch `output` (shape [N, ...]), each `codeLength` long.
    public func codes(from output: Tensor) -> [[Float]] {
        let n = output.shape.first ?? 0
        guard n > 0 else { return [] }
        let perImage = output.count / n
        let length = codeLength(forOutputShape: output.shape)
        var result: [[Float]] = []
        result.reserveCapacity(n)
        output.data.withUnsafeBufferPointer { all in
            for image in 0..<n {
                let src = UnsafeBufferPointer(rebasing: all[(image * perImage)..<((image + 1) * perImage)])
                var code = [Float](repeating: 0, count: length)
                if output.rank == 4 && pooling != .none {
                    let spatial = output.shape[2] * output.shape[3]
                    for channel in 0..<length {
                        let plane = UnsafeBufferPointer(rebasing: src[(channel * spatial)..<((channel + 1) * spatial)])
                        code[channel] = pool(plane)
                    }
                } else {
                    for i in 0..<length { code[i] = relu ? Swift.max(0, src[i]) : src[i] }
                }
                result.append(code)
            }
        }
        return result
    }

    private func pool(_ plane: UnsafeBufferPointer<Float>) -> Float {
        switch pooling {
        case .avg:
            var sum: Float = 0
            for v in plane { sum += relu ? Swift.max(0, v) : v }
            return plane.isEmpty ? 0 : sum / Float(plane.count)
        case .max:
            var best = -Float.infinity
            for v in plane { best = Swift.max(best, relu ? Swift.max(0, v) : v) }
            return plane.isEmpty ? 0 : best
        case .none:
            preconditionFailure("pool() is only called when pooling")
        }
    }
}
