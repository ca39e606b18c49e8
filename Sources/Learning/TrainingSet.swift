/// Checks shared by every trainer, run before any work: shapes, finite features, labels in
/// range, at least two classes present. Rows are row-major `[Float]`, `rows × dimension`.
enum TrainingSet {
    /// Throws the first problem found, naming the row.
    static func validate(x: [Float], rows: Int, dimension: Int, labels: [Int], classNames: [String]) throws {
        guard rows > 0 else { throw LearningError.emptyTrainingSet }
        guard dimension > 0 else {
            throw LearningError.invalidParameter(name: "dimension", reason: "must be positive, got \(dimension)")
        }
        guard x.count == rows * dimension else {
            throw LearningError.shapeMismatch(
                expectedElements: rows * dimension, actualElements: x.count, rows: rows, dimension: dimension)
        }
        guard labels.count == rows else { throw LearningError.labelCountMismatch(labels: labels.count, rows: rows) }
        guard classNames.count >= 2 else {
            throw LearningError.singleClass(name: classNames.first ?? "?")
        }
        for (row, label) in labels.enumerated() where label < 0 || label >= classNames.count {
            throw LearningError.labelOutOfRange(row: row, label: label, classCount: classNames.count)
        }
        let counts = classCounts(labels, classCount: classNames.count)
        let present = counts.indices.filter { counts[$0] > 0 }
        if present.count < 2 { throw LearningError.singleClass(name: classNames[present.first ?? 0]) }
        try checkFinite(x, rows: rows, dimension: dimension)
    }

    /// Throws `.nonFiniteFeature` naming the first row holding a NaN or an infinity.
    static func checkFinite(_ x: [Float], rows: Int, dimension: Int) throws {
        try x.withUnsafeBufferPointer { p in
            for row in 0..<rows {
                let base = row * dimension
                // v·0 is 0 for finite v and NaN for NaN or ±inf, so this sum is finite iff the
                // row is: one vectorizable pass per row, the exact scan only for a bad row.
                var sum: Float = 0
                for j in 0..<dimension { sum += p[base + j] * 0 }
                if sum.isFinite { continue }
                for j in 0..<dimension where !p[base + j].isFinite {
                    throw LearningError.nonFiniteFeature(row: row, column: j, value: p[base + j])
                }
            }
        }
    }

    static func classCounts(_ labels: [Int], classCount: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: classCount)
        for label in labels { counts[label] += 1 }
        return counts
    }

    /// scikit-learn's "balanced" weights: n / (classes × count_c), over the classes present.
    static func balancedWeights(_ labels: [Int], classCount: Int) -> [Double] {
        let counts = classCounts(labels, classCount: classCount)
        let present = Double(counts.filter { $0 > 0 }.count)
        return counts.map { $0 > 0 ? Double(labels.count) / (present * Double($0)) : 1 }
    }
}
