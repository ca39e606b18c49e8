import Store

/// The codes of a collection with their labels, as a learning problem: row-major `x`
/// (`rows × dim`), class indices into `classNames` (sorted label names), and the image ids.
public struct LabeledCodes: Sendable {
    public var ids: [Int64]
    public var x: [Float]
    public var rows: Int
    public var dim: Int
    public var labels: [Int]
    public var classNames: [String]

    /// The labeled codes of `collection`, optionally of one split. Unlabeled images are left
    /// out. `classNames` fixes the label → index mapping (e.g. a trained classifier's);
    /// labels outside it throw `unknownLabels`. Without it, the sorted distinct labels.
    public static func load(from store: FeatureStore, collection: String, split: String?,
                            classNames fixed: [String]? = nil, classifierName: String = "") throws -> LabeledCodes {
        let matrix = try store.codes(collection, filter: ImageFilter(split: split))
        let records = try store.images(ids: matrix.ids)
        var labelOf: [Int64: String] = [:]
        for record in records { if let label = record.label { labelOf[record.id] = label } }
        let classNames = fixed ?? Array(Set(labelOf.values)).sorted()
        let index = Dictionary(uniqueKeysWithValues: classNames.enumerated().map { ($1, $0) })
        var ids: [Int64] = [], x: [Float] = [], labels: [Int] = []
        var unknown = Set<String>()
        x.reserveCapacity(matrix.values.count)
        for row in 0..<matrix.count {
            let id = matrix.ids[row]
            guard let label = labelOf[id] else { continue }
            guard let classIndex = index[label] else { unknown.insert(label); continue }
            ids.append(id)
            labels.append(classIndex)
            x.append(contentsOf: matrix.values[(row * matrix.dim)..<((row + 1) * matrix.dim)])
        }
        if !unknown.isEmpty { throw WorkflowError.unknownLabels(classifier: classifierName, labels: unknown.sorted()) }
        guard !ids.isEmpty else { throw WorkflowError.noLabeledCodes(collection: collection, split: split) }
        return LabeledCodes(ids: ids, x: x, rows: ids.count, dim: matrix.dim, labels: labels, classNames: classNames)
    }
}
