import ArgumentParser
import Foundation
import Workflows

/// `cnncodes evaluate`: a stored classifier's metrics on a split.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Measure a stored classifier on the labeled codes of a split.",
        discussion: """
            Prints accuracy (and top-5 accuracy with 5 or more classes), per-class \
            precision, recall, F1 and support, and the confusion matrix (rows: true class, \
            columns: predicted). The metrics are stored with the classifier.

            Example:
              cnncodes evaluate --classifier ants-bees --split val
            """
    )

    @Option(help: "The classifier's name (see `cnncodes train`).")
    var classifier: String

    @Option(help: "The split to evaluate on; 'all' for every labeled code.")
    var split: String = "val"

    @Flag(help: "Print the metrics as JSON.")
    var json = false

    @OptionGroup var storeOptions: StoreOptions

    func run() throws {
        let store = try storeOptions.open(.readWrite)
        let metrics = try ClassifierWorkflow.evaluate(classifier, split: split == "all" ? nil : split, store: store)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(metrics), as: UTF8.self))
        } else {
            print("classifier \(classifier) on split \(split): \(metrics.count) codes")
            print(metrics.table)
        }
    }
}
