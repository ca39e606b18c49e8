import ArgumentParser
import Foundation
import Store

/// `cnncodes failures`: images that could not be extracted, and why.
struct FailuresCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "failures",
        abstract: "List the images that could not be extracted, with the reason.",
        discussion: """
            One line per failure: run id, path (relative to its source folder) and reason.

            Example:
              cnncodes failures --store stores/default --run 3
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Option(name: .customLong("run"), help: "Only the failures of this run.")
    var runID: Int64?

    func run() throws {
        let store = try storeOptions.open(.readOnly)
        let failures = try store.failures(run: runID)
        for failure in failures {
            let runText = failure.runID.map { "run \($0)" } ?? "run -"
            print("\(runText)\t\(failure.path)\t\(failure.reason)")
        }
        print("\(failures.count) failure\(failures.count == 1 ? "" : "s")")
    }
}
