/// Shape checks for the public objective functions, which take a model as loose arrays.
enum ModelShape {
    static func check(
        x: [Float], rows: Int, dimension: Int, labels: [Int], classCount: Int,
        weights: [Float], bias: [Float], classWeights: [Double]?
    ) throws {
        guard rows > 0 else { throw LearningError.emptyTrainingSet }
        guard dimension > 0, x.count == rows * dimension else {
            throw LearningError.shapeMismatch(
                expectedElements: rows * dimension, actualElements: x.count, rows: rows, dimension: dimension)
        }
        guard labels.count == rows else { throw LearningError.labelCountMismatch(labels: labels.count, rows: rows) }
        guard classCount >= 2 else { throw LearningError.singleClass(name: "0") }
        for (row, label) in labels.enumerated() where label < 0 || label >= classCount {
            throw LearningError.labelOutOfRange(row: row, label: label, classCount: classCount)
        }
        let weightRows = classCount == 2 ? 1 : classCount
        guard weights.count == weightRows * dimension, bias.count == weightRows else {
            throw LearningError.invalidParameter(
                name: "weights", reason: "\(weights.count) weights and \(bias.count) biases for \(weightRows) rows × \(dimension)")
        }
        if let classWeights, classWeights.count != classCount {
            throw LearningError.invalidParameter(
                name: "class weights", reason: "\(classWeights.count) weights for \(classCount) classes")
        }
    }
}
