/// Numpy-style (multidirectional) broadcasting, as ONNX Add/Mul/… use it: shapes are aligned
/// on the right; a dimension of 1 stretches to the other's extent.
enum Broadcast {
    /// The broadcast shape of `a` and `b`.
    static func shape(_ a: [Int], _ b: [Int]) throws -> [Int] {
        let rank = max(a.count, b.count)
        let pa = [Int](repeating: 1, count: rank - a.count) + a
        let pb = [Int](repeating: 1, count: rank - b.count) + b
        return try zip(pa, pb).map { x, y in
            if x == y || y == 1 { return x }
            if x == 1 { return y }
            throw OpError("shapes \(a) and \(b) do not broadcast")
        }
    }

    /// Element strides of `shape` seen through `target` (0 along broadcast dimensions), aligned
    /// to `target`'s rank.
    static func strides(of shape: [Int], in target: [Int]) throws -> [Int] {
        guard shape.count <= target.count else { throw OpError("shape \(shape) does not broadcast to \(target)") }
        let padded = [Int](repeating: 1, count: target.count - shape.count) + shape
        let natural = HostTensor.rowMajorStrides(padded)
        return try (0..<target.count).map { axis in
            if padded[axis] == target[axis] { return padded[axis] == 1 ? 0 : natural[axis] }
            if padded[axis] == 1 { return 0 }
            throw OpError("shape \(shape) does not broadcast to \(target)")
        }
    }

    /// For every element of `target` (row-major) the flat index of its source in `shape`.
    static func sourceIndex(from shape: [Int], to target: [Int]) throws -> [Int] {
        let s = try strides(of: shape, in: target)
        let count = target.reduce(1, *)
        var result = [Int](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: target.count)
        var offset = 0
        for flat in 0..<count {
            result[flat] = offset
            var axis = target.count - 1
            while axis >= 0 {
                index[axis] += 1
                offset += s[axis]
                if index[axis] < target[axis] { break }
                offset -= s[axis] * target[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return result
    }
}

extension HostTensor {
    static func rowMajorStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = running
            running *= shape[axis]
        }
        return strides
    }
}
