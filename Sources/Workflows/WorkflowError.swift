/// Errors of the workflows; each names the collection, classifier, split or id.
public enum WorkflowError: Error, CustomStringConvertible, Equatable {
    case noLabeledCodes(collection: String, split: String?)
    case unknownImage(collection: String, id: Int64)
    case classifierCollectionMismatch(classifier: String, trainedOn: String, requested: String)
    case unknownLabels(classifier: String, labels: [String])
    case vectorLength(collection: String, expected: Int, got: Int)
    case indexStale(path: String, reason: String)

    public var description: String {
        switch self {
        case let .noLabeledCodes(collection, split):
            return "collection '\(collection)' has no labeled codes" + (split.map { " in split '\($0)'" } ?? "")
                + " (labels come from class folders or a manifest's label column)"
        case let .unknownImage(collection, id):
            return "collection '\(collection)' has no code for image id \(id)"
        case let .classifierCollectionMismatch(classifier, trainedOn, requested):
            return "classifier '\(classifier)' was trained on collection '\(trainedOn)', not '\(requested)': codes of another provenance cannot be classified by it"
        case let .unknownLabels(classifier, labels):
            return "classifier '\(classifier)' does not know the label(s) \(labels.joined(separator: ", ")) of the evaluation split"
        case let .vectorLength(collection, expected, got):
            return "collection '\(collection)' holds \(expected)-d codes; the query has \(got) values"
        case let .indexStale(path, reason):
            return "\(path): \(reason)"
        }
    }
}
