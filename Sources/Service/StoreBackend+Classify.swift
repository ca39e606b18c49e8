import Foundation
import Learning
import Store

extension StoreBackend {
    public func classify(classifier name: String, input: ClassifyInput) throws -> ClassificationResponse {
        let (record, model) = try classifiers.classifier(named: name)
        let collection = try store.requireCollection(record.collection)
        guard model.dimension == collection.dim else {
            throw ServiceError.internalError(
                "classifier '\(name)' takes \(model.dimension)-d codes but its collection '\(collection.name)' holds \(collection.dim)-d codes")
        }
        var imageID: Int64?
        let code: [Float]
        switch input {
        case let .storedID(id):
            guard let stored = try store.code(collection.name, id: id) else {
                if try store.image(id: id) == nil { throw StoreError.unknownImage(id) }
                throw ServiceError.notFound("image \(id) has no code in collection '\(collection.name)'")
            }
            imageID = id
            code = stored
        case let .image(upload):
            code = try self.code(of: upload, for: collection).code
        }
        let scores = try model.decisionFunction(code, rows: 1)
        var probabilities: [Float]?
        if model.kind == .softmax { probabilities = try model.predictProbabilities(code, rows: 1) }
        var classes = model.classes.indices.map { c in
            ClassScore(label: model.classes[c], score: scores[c], probability: probabilities?[c])
        }
        // Best first; the first maximal score wins ties, as `predict` does.
        classes = classes.enumerated().sorted { a, b in
            a.element.score != b.element.score ? a.element.score > b.element.score : a.offset < b.offset
        }.map(\.element)
        return ClassificationResponse(
            classifier: name, collection: collection.name, kind: model.kind.rawValue, imageID: imageID,
            label: classes.first?.label ?? "", scores: classes)
    }
}
