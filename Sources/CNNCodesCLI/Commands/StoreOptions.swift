import ArgumentParser
import Foundation
import Store

/// `--store PATH`, shared by every command that reads or writes a store.
public struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The store directory (catalog.sqlite + codes.lmdb).", valueName: "path"))
    public var store: String = FeatureStore.defaultPath

    public init() {}

    public var url: URL { URL(fileURLWithPath: store) }

    /// Opens the store: `.readWrite` creates it, takes the writer lock and reconciles;
    /// `.readOnly` changes nothing and works beside a running extraction.
    public func open(_ mode: FeatureStore.Mode = .readWrite) throws -> FeatureStore {
        try FeatureStore(at: url, mode: mode)
    }
}
