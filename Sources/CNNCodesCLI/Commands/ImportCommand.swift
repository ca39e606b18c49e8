import ArgumentParser
import Foundation
import Store

/// `cnncodes import`: the inverse of export.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import codes.npy + meta.csv from a directory into a collection.",
        discussion: """
            Reads DIR/codes.npy (N×D), DIR/meta.csv (a header with at least 'path'; optional \
            label, split, source, digest) and the provenance from DIR/provenance.json or \
            --provenance-from FILE. Writes in batches, each committed durably; interrupted \
            imports resume where they stopped when re-run (stored rows are skipped).

            Example:
              cnncodes import --collection effnet-copy --from exports/effnet --store stores/other
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Option(help: "The collection to import into (created if missing; its provenance must match).")
    var collection: String

    @Option(help: ArgumentHelp("The directory holding codes.npy and meta.csv.", valueName: "dir"))
    var from: String

    @Option(help: ArgumentHelp("A provenance.json to use instead of DIR/provenance.json.", valueName: "file"))
    var provenanceFrom: String?

    @Option(help: "Codes per durable commit.")
    var batch: Int = 1000

    func validate() throws {
        guard batch > 0 else { throw ValidationError("--batch must be positive, got \(batch)") }
    }

    func run() throws {
        let provenance = try provenanceFrom.map {
            try FeatureStore.readExportedCollection(URL(fileURLWithPath: $0)).provenance
        }
        let store = try storeOptions.open(.readWrite)
        let reconciled = store.openingReconciliation
        if !reconciled.isClean { print("reconciled the store after an interrupted run: \(reconciled)") }
        let started = Date()
        let summary = try store.importCodes(
            collection: collection, from: URL(fileURLWithPath: from), provenance: provenance, batchSize: batch,
            command: CommandLine.arguments.joined(separator: " ")
        ) { done, total in
            // One line per batch: plain progress for logs (and for the kill tests to sync on).
            print("imported \(done)/\(total)")
            fflush(stdout)
        }
        let seconds = Date().timeIntervalSince(started)
        let rate = summary.writeSeconds > 0 ? Int(Double(summary.imported) / summary.writeSeconds) : 0
        let timings = summary.timings
        // Per-step times for the benchmark; the commits overlap the catalog steps.
        // Per-step CPU in parentheses: the rest of a step is waiting (I/O, or a core on a loaded machine).
        print("steps: register \(String(format: "%.2f", timings.register)) s (\(String(format: "%.2f", timings.registerCPU)) s CPU), "
              + "LMDB commits \(String(format: "%.2f", timings.commit)) s (\(String(format: "%.2f", timings.commitCPU)) s CPU), "
              + "done marks \(String(format: "%.2f", timings.markDone)) s")
        print("done: \(summary.imported) imported, \(summary.skipped) already stored, \(summary.total) rows "
              + "in \(String(format: "%.2f", seconds)) s; writing \(String(format: "%.2f", summary.writeSeconds)) s "
              + "(\(rate) codes/s with durable commits)")
    }
}
