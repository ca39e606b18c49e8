import ArgumentParser
import Foundation
import Store

/// `cnncodes verify`: reconcile a store and check its invariants.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Reconcile a store after a crash and check that catalog and codes agree.",
        discussion: """
            Opens the store for writing (which reconciles: adopts codes committed without a done \
            mark, re-queues done marks without a code, deletes codes without an image row), then \
            checks every collection: each code has the right size, an image row and a done mark, \
            and the counts agree. Exits non-zero when a problem remains.

            Example:
              cnncodes verify --store stores/default
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    func run() throws {
        let store = try storeOptions.open(.readWrite)
        print("reconciled: \(store.openingReconciliation)")
        let report = try store.verify()
        for problem in report.problems { print("problem: \(problem)") }
        for collection in try store.collections() {
            print("collection \(collection.name): \(collection.count) codes")
        }
        print("\(report.isConsistent ? "consistent" : "INCONSISTENT"): \(report.collectionsChecked) collections, \(report.codesChecked) codes checked")
        if !report.isConsistent { throw ExitCode.failure }
    }
}
