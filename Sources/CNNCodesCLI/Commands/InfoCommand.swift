import ArgumentParser
import Foundation
import Store

/// `cnncodes info`: what a store holds.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show the collections of a store with their counts, sizes and provenance.",
        discussion: """
            Opens the store read-only, so it can run while an extraction writes. "codes" counts \
            what LMDB holds; "pending" images are registered but not extracted yet.

            Example:
              cnncodes info --store stores/default
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    func run() throws {
        let store = try storeOptions.open(.readOnly)
        let info = try store.info()
        print("store \(info.path): \(info.images) images, \(info.failures) failures; "
              + "catalog \(ByteCount.text(info.catalogBytes)), codes file \(ByteCount.text(info.codesFileBytes))")
        if info.collections.isEmpty { print("no collections") }
        for collection in info.collections {
            let record = collection.record
            let perCode = collection.storedCodes > 0 ? " (\(collection.bytesOnDisk / collection.storedCodes) B/code)" : ""
            print("")
            print("collection \(record.name): \(collection.storedCodes) codes × \(record.dim) \(record.provenance.dtype.rawValue), "
                  + "\(collection.pending) pending, \(ByteCount.text(collection.bytesOnDisk)) on disk\(perCode)")
            print("  model          \(record.provenance.modelDigest)\(record.provenance.modelPath.isEmpty ? "" : "  (\(record.provenance.modelPath))")")
            print("  layer          \(record.provenance.layer)")
            print("  pooling        \(record.provenance.pooling), relu \(record.provenance.relu ? "yes" : "no")")
            print("  preprocessing  \(record.provenance.preprocessingJSON)")
            print("  created        \(record.created)")
        }
    }
}
