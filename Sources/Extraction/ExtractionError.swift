import Foundation

/// Errors of the extraction module; each names the model, layer, file or collection.
public enum ExtractionError: Error, CustomStringConvertible {
    case unknownLayer(model: String, layer: String, suggestions: [String])
    case inputMismatch(model: String, modelInput: [Int?], preprocessing: [Int])
    case modelMissing(path: String, collection: String)
    case modelChanged(path: String, collection: String, expected: String, found: String)
    case nothingExtracted(failed: Int, firstReason: String?)
    case invalid(String)

    public var description: String {
        switch self {
        case let .unknownLayer(model, layer, suggestions):
            let hint = suggestions.isEmpty ? "" : " (did you mean: \(suggestions.joined(separator: ", "))?)"
            return "\(model): no tensor named '\(layer)'\(hint); `cnncodes inspect \(model)` lists every layer"
        case let .inputMismatch(model, modelInput, preprocessing):
            let declared = modelInput.map { $0.map(String.init) ?? "?" }.joined(separator: "×")
            return "\(model): the preprocessing makes images of shape \(preprocessing.map(String.init).joined(separator: "×")) but the model takes \(declared); choose the matching --profile (e.g. NHWC models need a profile with layout nhwc)"
        case let .modelMissing(path, collection):
            return "collection '\(collection)' was made with the model \(path), which is no longer there; pass --model with the same file"
        case let .modelChanged(path, collection, expected, found):
            return "\(path): this model file (sha256 \(found.prefix(12))…) is not the one collection '\(collection)' was made with (sha256 \(expected.prefix(12))…)"
        case let .nothingExtracted(failed, firstReason):
            return "nothing could be extracted: \(failed) image(s) failed" + (firstReason.map { "; first: \($0)" } ?? "")
        case let .invalid(message):
            return message
        }
    }
}
