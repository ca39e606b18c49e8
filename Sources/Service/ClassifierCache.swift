import Foundation
import Learning
import Store

/// Stored classifiers decoded once: the catalog's JSON is parsed on first use and again only
/// when the stored row changes (re-trained under the same name: a new `created` time).
final class ClassifierCache: @unchecked Sendable {
    private let store: FeatureStore
    /// Guards `decoded`.
    private let lock = NSLock()
    private var decoded: [String: (created: String, model: LinearClassifier)] = [:]

    init(store: FeatureStore) {
        self.store = store
    }

    /// The classifier `name` with its catalog record; `StoreError.unknownClassifier` if none.
    func classifier(named name: String) throws -> (record: ClassifierRecord, model: LinearClassifier) {
        let record = try store.classifier(named: name)
        lock.lock()
        let cached = decoded[name]
        lock.unlock()
        if let cached, cached.created == record.created { return (record, cached.model) }
        let model: LinearClassifier
        do {
            model = try LinearClassifier.fromJSON(Data(record.modelJSON.utf8))
        } catch {
            throw ServiceError.internalError("stored classifier '\(name)' cannot be decoded: \(error)")
        }
        lock.lock()
        decoded[name] = (record.created, model)
        lock.unlock()
        return (record, model)
    }
}
