import Foundation

/// Errors finding the images to extract; each names the folder or file.
public enum ScanError: Error, CustomStringConvertible, Equatable {
    case notADirectory(String)
    case unreadableManifest(path: String, reason: String)
    case malformedManifestRow(path: String, line: Int, reason: String)
    case noImages(String)

    public var description: String {
        switch self {
        case let .notADirectory(path): return "\(path): not a directory (pass a folder of images with --images)"
        case let .unreadableManifest(path, reason): return "\(path): cannot read manifest: \(reason)"
        case let .malformedManifestRow(path, line, reason): return "\(path):\(line): \(reason)"
        case let .noImages(path): return "\(path): no image files found (looked for \(DatasetScanner.imageExtensions.sorted().joined(separator: ", ")))"
        }
    }
}

/// Finds the images of a data set, in a deterministic (sorted) order.
///
/// Layouts of `--images DIR`, detected from the tree:
/// - split folders: `DIR/{train,val,test}/CLASS/file` → label = CLASS, split = the folder
///   (the ImageFolder convention with splits; ../shared/data/hymenoptera is this layout);
/// - folder-per-class: `DIR/CLASS/file` → label = CLASS, no split;
/// - a plain folder: `DIR/file` → no label, no split. Files directly in DIR are always
///   unlabeled, even beside class folders.
/// Files are taken by extension (case-insensitive, `imageExtensions`); the decoder then sniffs
/// the content, so a PNG named `.jpg` still decodes. Hidden files and folders are ignored.
/// Anything deeper than the layout's class folder is included under that class.
///
/// A CSV manifest (`path,label[,split]`, optional header row, paths relative to the manifest's
/// folder or absolute) lists images explicitly; every listed file is taken whatever its extension.
public enum DatasetScanner {
    /// Extensions taken from a folder. GIF/BMP/WebP/TIFF are included so that a refusal is
    /// recorded as a failure with its reason rather than passed over silently.
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "jpe", "png", "gif", "bmp", "webp", "tif", "tiff"]

    /// Split folder names recognised at the top of a tree.
    public static let splitNames: Set<String> = ["train", "val", "valid", "validation", "test"]

    /// The images under `root` with labels and splits from the folder layout.
    public static func scan(folder root: URL) throws -> [SourceImage] {
        let root = root.standardizedFileURL
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ScanError.notADirectory(root.path)
        }
        var images: [SourceImage] = []
        let top = try children(of: root)
        let topFolders = top.filter(\.isDirectory)
        let hasSplits = !topFolders.isEmpty && topFolders.contains { splitNames.contains($0.name.lowercased()) }
        for entry in top where !entry.isDirectory && isImageName(entry.name) {
            images.append(SourceImage(url: entry.url, relativePath: entry.name))
        }
        for folder in topFolders {
            if hasSplits && splitNames.contains(folder.name.lowercased()) {
                let split = folder.name
                for entry in try children(of: folder.url) {
                    if entry.isDirectory {
                        images += try files(under: entry.url, prefix: "\(split)/\(entry.name)", label: entry.name, split: split)
                    } else if isImageName(entry.name) {
                        images.append(SourceImage(url: entry.url, relativePath: "\(split)/\(entry.name)", split: split))
                    }
                }
            } else {
                images += try files(under: folder.url, prefix: folder.name, label: folder.name, split: nil)
            }
        }
        guard !images.isEmpty else { throw ScanError.noImages(root.path) }
        return images.sorted { $0.relativePath < $1.relativePath }
    }

    /// The images listed by a CSV manifest: `path,label[,split]` per line.
    public static func scan(manifest: URL) throws -> [SourceImage] {
        let text: String
        do { text = try String(contentsOf: manifest, encoding: .utf8) } catch {
            throw ScanError.unreadableManifest(path: manifest.path, reason: error.localizedDescription)
        }
        let base = manifest.deletingLastPathComponent()
        var images: [SourceImage] = []
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = parseCSVLine(line)
            if index == 0 && fields.first?.lowercased() == "path" { continue }  // header row
            guard let path = fields.first, !path.isEmpty else {
                throw ScanError.malformedManifestRow(path: manifest.path, line: index + 1, reason: "empty path")
            }
            guard fields.count <= 3 else {
                throw ScanError.malformedManifestRow(
                    path: manifest.path, line: index + 1, reason: "expected path,label[,split], got \(fields.count) fields")
            }
            let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : base.appendingPathComponent(path)
            let label = fields.count > 1 && !fields[1].isEmpty ? fields[1] : nil
            let split = fields.count > 2 && !fields[2].isEmpty ? fields[2] : nil
            images.append(SourceImage(url: url.standardizedFileURL, relativePath: path, label: label, split: split))
        }
        guard !images.isEmpty else { throw ScanError.noImages(manifest.path) }
        return images
    }

    static func isImageName(_ name: String) -> Bool {
        guard let dot = name.lastIndex(of: "."), !name.hasPrefix(".") else { return false }
        return imageExtensions.contains(name[name.index(after: dot)...].lowercased())
    }

    private struct Entry {
        var url: URL
        var name: String
        var isDirectory: Bool
    }

    private static func children(of folder: URL) throws -> [Entry] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder.path) } catch {
            throw ScanError.notADirectory(folder.path)
        }
        return names.filter { !$0.hasPrefix(".") }.sorted().map { name in
            let url = folder.appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            // A name that vanished since the listing stays a file: reading it reports the failure.
            _ = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory)
            return Entry(url: url, name: name, isDirectory: isDirectory.boolValue)
        }
    }

    /// Every image file below `folder`, recursively, labelled `label`.
    private static func files(under folder: URL, prefix: String, label: String?, split: String?) throws -> [SourceImage] {
        var found: [SourceImage] = []
        for entry in try children(of: folder) {
            let relative = "\(prefix)/\(entry.name)"
            if entry.isDirectory {
                found += try files(under: entry.url, prefix: relative, label: label, split: split)
            } else if isImageName(entry.name) {
                found.append(SourceImage(url: entry.url, relativePath: relative, label: label, split: split))
            }
        }
        return found
    }

    /// Splits one CSV line (RFC 4180 quoting: "a,b" and "" for a quote).
    static func parseCSVLine(_ line: String) -> [String] {
        var fields: [String] = []
        var field = ""
        var inQuotes = false
        var iterator = Array(line).makeIterator()
        var pending: Character? = nil
        while let c = pending ?? iterator.next() {
            pending = nil
            if inQuotes {
                if c == "\"" {
                    if let next = iterator.next() {
                        if next == "\"" { field.append("\"") } else { inQuotes = false; pending = next }
                    } else { inQuotes = false }
                } else { field.append(c) }
            } else if c == "\"" {
                inQuotes = true
            } else if c == "," {
                fields.append(field.trimmingCharacters(in: .whitespaces))
                field = ""
            } else {
                field.append(c)
            }
        }
        fields.append(field.trimmingCharacters(in: .whitespaces))
        return fields
    }
}
