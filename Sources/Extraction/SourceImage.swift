import Foundation

/// One image file to extract, as found by a `DatasetScanner`.
public struct SourceImage: Equatable, Sendable {
    /// Absolute location of the file.
    public var url: URL
    /// Path relative to the scanned root (or to the manifest's folder): what the catalog stores,
    /// so a store stays valid when the data folder moves.
    public var relativePath: String
    /// Class label (the parent folder in a folder-per-class tree, or the manifest's column).
    public var label: String?
    /// Split (`train`, `val`, `test`, or the manifest's column).
    public var split: String?

    public init(url: URL, relativePath: String, label: String? = nil, split: String? = nil) {
        self.url = url
        self.relativePath = relativePath
        self.label = label
        self.split = split
    }
}
