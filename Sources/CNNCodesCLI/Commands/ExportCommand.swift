import ArgumentParser
import Foundation
import Store

/// `cnncodes export`: a collection as codes.npy + meta.csv + provenance.json.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a collection's codes and metadata to a directory for numpy, scikit-learn or FAISS.",
        discussion: """
            Writes codes.npy (N×D float32, rows in image-id order), meta.csv (id,path,label,split,\
            source,digest; row i describes code i) and provenance.json (model, layer, \
            preprocessing, pooling, relu, dtype, dim). f16 collections are widened to float32.

            Example:
              cnncodes export --collection effnet --out exports/effnet
              python -c "import numpy as np; print(np.load('exports/effnet/codes.npy').shape)"
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Option(help: "The collection to export.")
    var collection: String

    @Option(help: ArgumentHelp("The output directory (created if missing).", valueName: "dir"))
    var out: String

    func run() throws {
        let store = try storeOptions.open(.readOnly)
        let summary = try store.export(collection: collection, to: URL(fileURLWithPath: out))
        let rate = summary.readSeconds > 0 ? Int(Double(summary.count) / summary.readSeconds) : 0
        var line = "exported \(summary.count) codes × \(summary.dim) of '\(collection)' to \(out) "
            + "(codes read in \(String(format: "%.3f", summary.readSeconds)) s, \(rate) codes/s; "
            + "metadata \(String(format: "%.3f", summary.metadataSeconds)) s)"
        if summary.skippedOrphans > 0 { line += " (\(summary.skippedOrphans) codes without an image row left out)" }
        print(line)
    }
}
