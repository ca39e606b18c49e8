import ArgumentParser
import Extraction
import Foundation
import Store
import Workflows

/// `cnncodes predict`: apply a stored classifier to new images or stored ids.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify images (or stored image ids) with a stored classifier.",
        discussion: """
            An image's code is extracted exactly as the classifier's collection was made: the \
            same model file (its digest is checked), layer, preprocessing, pooling and ReLU. \
            Pass --model if the model file has moved since extraction.

            Example:
              cnncodes predict --classifier ants-bees photo1.jpg photo2.png
              cnncodes predict --classifier ants-bees --id 17 --id 42
            """
    )

    @Option(help: "The classifier's name.")
    var classifier: String

    @Argument(help: "Image files to classify.")
    var images: [String] = []

    @Option(name: .customLong("id"), help: "A stored image id to classify (repeatable).")
    var ids: [Int64] = []

    @Option(help: ArgumentHelp("The model file, if it moved since extraction.", valueName: "model.onnx"))
    var model: String?

    @Flag(help: "Print JSON lines instead of a table.")
    var json = false

    @OptionGroup var storeOptions: StoreOptions

    func validate() throws {
        if images.isEmpty && ids.isEmpty { throw ValidationError("give image files or --id N") }
    }

    func run() throws {
        let store = try storeOptions.open(.readOnly)
        let (model, record, _) = try ClassifierWorkflow.load(classifier, store: store)
        var rows: [(name: String, prediction: Prediction?, error: String?)] = []
        for id in ids {
            guard let code = try store.code(record.collection, id: id) else {
                rows.append(("id \(id)", nil, "no code for id \(id) in collection '\(record.collection)'"))
                continue
            }
            rows.append(("id \(id)", try ClassifierWorkflow.predict(model, codes: code, rows: 1)[0], nil))
        }
        if !images.isEmpty {
            let collection = try store.requireCollection(record.collection)
            let extractor = try CodeExtractor.matching(collection, modelOverride: self.model.map { URL(fileURLWithPath: $0) })
            for path in images {
                do {
                    let data = try Data(contentsOf: URL(fileURLWithPath: path))
                    let code = try extractor.codes(forImageData: data, name: path)[collection.provenance.layer]!
                    rows.append((path, try ClassifierWorkflow.predict(model, codes: code, rows: 1)[0], nil))
                } catch let error as CocoaError {
                    rows.append((path, nil, "\(path): cannot read: \(error.localizedDescription)"))
                } catch {
                    rows.append((path, nil, "\(error)"))
                }
            }
        }
        for row in rows {
            if json {
                var object: [String: Any] = ["input": row.name]
                if let p = row.prediction {
                    object["label"] = p.label
                    object["scores"] = Dictionary(uniqueKeysWithValues: zip(p.classes, p.scores.map(Double.init)))
                }
                if let e = row.error { object["error"] = e }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else if let p = row.prediction {
                let scores = zip(p.classes, p.scores).map { "\($0)=\(String(format: "%.3f", $1))" }.joined(separator: " ")
                print("\(row.name)\t\(p.label)\t\(scores)")
            } else {
                print("\(row.name)\terror: \(row.error ?? "")")
            }
        }
        if rows.allSatisfy({ $0.prediction == nil }) {
            throw ValidationError("nothing could be classified")
        }
    }
}
