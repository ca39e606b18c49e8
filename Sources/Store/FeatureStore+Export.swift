import Foundation
import Tensor

/// What `export` wrote.
public struct ExportSummary: Equatable, Sendable {
    public var count: Int
    public var dim: Int
    /// Codes in LMDB whose image row is gone (only in a store not yet reconciled): left out.
    public var skippedOrphans: Int
    /// Wall time of `codes(collection)` (one LMDB snapshot, cursor scan), in seconds.
    public var readSeconds: Double = 0
    /// Wall time reading the codes' image rows from the catalog, in seconds.
    public var metadataSeconds: Double = 0

    public static func == (a: ExportSummary, b: ExportSummary) -> Bool {
        a.count == b.count && a.dim == b.dim && a.skippedOrphans == b.skippedOrphans
    }
}

/// What `importCodes` did.
public struct ImportSummary: Equatable, Sendable {
    /// Rows written in this run.
    public var imported: Int
    /// Rows whose code was already stored (a re-run resuming an interrupted import).
    public var skipped: Int
    public var total: Int
    /// Wall time of the batch loop (register + durable LMDB commit + done marks), seconds.
    public var writeSeconds: Double = 0
    /// Time of each step of the batch loop (overlapping: see `pipelinedImport`).
    public var timings = ImportTimings()

    public static func == (a: ImportSummary, b: ImportSummary) -> Bool {
        a.imported == b.imported && a.skipped == b.skipped && a.total == b.total
    }
}

/// The `provenance.json` written beside codes.npy: enough to import the codes elsewhere.
public struct ExportedCollection: Codable, Equatable, Sendable {
    public var collection: String
    public var dim: Int
    public var count: Int
    public var provenance: Provenance
}

/// Export / import directory layout (for numpy, scikit-learn, FAISS):
/// - `codes.npy`: N × D little-endian float32, C order; row i is the code of meta.csv row i.
/// - `meta.csv`: header `id,path,label,split,source,digest`, one row per code in id order
///   (empty field = none). `id` is the exporting store's image id (informational: an import
///   assigns its own ids); `source`/`digest` keep the image's identity for resume.
/// - `provenance.json`: `ExportedCollection`.
extension FeatureStore {
    public static let exportCodesFile = "codes.npy"
    public static let exportMetaFile = "meta.csv"
    public static let exportProvenanceFile = "provenance.json"

    /// Writes collection `collection` to `directory` (created if needed). Each file is
    /// written atomically; reads one LMDB snapshot, so it is safe while a writer runs.
    @discardableResult
    public func export(collection: String, to directory: URL) throws -> ExportSummary {
        let record = try requireCollection(collection)
        let readStart = Date()
        let matrix = try codes(collection)
        let readSeconds = Date().timeIntervalSince(readStart)
        let metadataStart = Date()
        let rows = Dictionary(uniqueKeysWithValues: try images(ids: matrix.ids).map { ($0.id, $0) })
        let metadataSeconds = Date().timeIntervalSince(metadataStart)
        var keptValues: [Float] = []
        keptValues.reserveCapacity(matrix.values.count)
        var meta = CSV.line(["id", "path", "label", "split", "source", "digest"])
        var kept = 0
        for (row, id) in matrix.ids.enumerated() {
            guard let image = rows[id] else { continue }
            keptValues.append(contentsOf: matrix.values[(row * matrix.dim)..<((row + 1) * matrix.dim)])
            meta += CSV.line([String(id), image.path, image.label ?? "", image.split ?? "", image.source, image.digest ?? ""])
            kept += 1
        }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try NPY.write(Tensor(shape: [kept, record.dim], data: keptValues),
                          to: directory.appendingPathComponent(FeatureStore.exportCodesFile))
            try Data(meta.utf8).write(to: directory.appendingPathComponent(FeatureStore.exportMetaFile), options: .atomic)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let exported = ExportedCollection(collection: collection, dim: record.dim, count: kept, provenance: record.provenance)
            try encoder.encode(exported).write(to: directory.appendingPathComponent(FeatureStore.exportProvenanceFile), options: .atomic)
        } catch let error as NPYError {
            throw StoreError.unwritable(path: directory.path, reason: error.description)
        } catch {
            throw StoreError.unwritable(path: directory.path, reason: FeatureStore.reason(error))
        }
        return ExportSummary(count: kept, dim: record.dim, skippedOrphans: matrix.count - kept,
                             readSeconds: readSeconds, metadataSeconds: metadataSeconds)
    }

    /// Reads `directory/provenance.json` (or `file`).
    public static func readExportedCollection(_ file: URL) throws -> ExportedCollection {
        do {
            return try JSONDecoder().decode(ExportedCollection.self, from: Data(contentsOf: file))
        } catch let error as DecodingError {
            throw StoreError.badFile(path: file.path, reason: "not a provenance.json: \(error)")
        } catch {
            throw StoreError.badFile(path: file.path, reason: FeatureStore.reason(error))
        }
    }

    /// Imports an export directory into `collection` (created with the provenance of
    /// `provenance`, else of `directory/provenance.json`), following the write protocol one
    /// batch at a time (register → one durable LMDB commit → done marks). Idempotent: rows
    /// whose code is stored already are skipped, so re-running an interrupted import
    /// completes it. `progress(doneSoFar, total)` is called after each batch.
    public func importCodes(collection: String, from directory: URL, provenance: Provenance? = nil,
                            batchSize: Int = 1000, command: String = "import",
                            progress: ((Int, Int) -> Void)? = nil) throws -> ImportSummary {
        guard batchSize > 0 else { throw StoreError.invalidArgument("batch size must be positive, got \(batchSize)") }
        let codesURL = directory.appendingPathComponent(FeatureStore.exportCodesFile)
        let metaURL = directory.appendingPathComponent(FeatureStore.exportMetaFile)
        let tensor: Tensor
        do { tensor = try NPY.read(codesURL) } catch {
            throw StoreError.badFile(path: codesURL.path, reason: "\(error)")
        }
        guard tensor.rank == 2, tensor.shape[1] > 0 else {
            throw StoreError.badFile(path: codesURL.path, reason: "expected an N×D array, got shape \(tensor.shape)")
        }
        let (count, dim) = (tensor.shape[0], tensor.shape[1])
        let images = try FeatureStore.readMeta(metaURL, defaultSource: directory.standardizedFileURL.path)
        guard images.count == count else {
            throw StoreError.badFile(path: metaURL.path, reason: "\(images.count) rows for \(count) codes in codes.npy")
        }
        let chosen: Provenance
        if let provenance {
            chosen = provenance
        } else {
            let exported = try FeatureStore.readExportedCollection(directory.appendingPathComponent(FeatureStore.exportProvenanceFile))
            guard exported.dim == dim else {
                throw StoreError.badFile(path: directory.appendingPathComponent(FeatureStore.exportProvenanceFile).path,
                                         reason: "dim \(exported.dim) but codes.npy has \(dim) columns")
            }
            chosen = exported.provenance
        }
        try ensureCollection(collection, provenance: chosen, dim: dim)
        let run = try beginRun(command: command, collections: [collection])
        var summary = ImportSummary(imported: 0, skipped: 0, total: count)
        // Repeated (source, path) rows must see the previous batch marked done before they
        // register: the steps then run serially (see `pipelinedImport`).
        let distinctPaths = Set(images.map { [$0.source, $0.path] }).count == images.count
        let writeStart = Date()
        let timings = try tensor.data.withUnsafeBufferPointer { all in
            try pipelinedImport(count: count, batchSize: batchSize, pipelined: distinctPaths) { start, end, earlier in
                let registered = try registerImages(Array(images[start..<end]), collections: [collection], after: earlier)
                var ids: [Int64] = []
                var matrix: [Float] = []
                if registered.allSatisfy({ !$0.pending.isEmpty }) {
                    // Every row new (a fresh import): the commit reads the batch's rows in place
                    // (`all` outlives `pipelinedImport`, which waits for every commit).
                    return PreparedImportBatch(
                        codes: CodeBatch(collection: collection, ids: registered.map(\.id), matrix: []),
                        borrowedRows: UnsafeBufferPointer(rebasing: all[(start * dim)..<(end * dim)]),
                        skipped: 0, end: end)
                }
                matrix.reserveCapacity((end - start) * dim)
                for (offset, image) in registered.enumerated() where !image.pending.isEmpty {
                    ids.append(image.id)
                    let row = start + offset
                    matrix.append(contentsOf: UnsafeBufferPointer(rebasing: all[(row * dim)..<((row + 1) * dim)]))
                }
                return PreparedImportBatch(codes: CodeBatch(collection: collection, ids: ids, matrix: matrix),
                                           skipped: registered.count - ids.count, end: end)
            } finished: { batch in
                summary.imported += batch.codes.ids.count
                summary.skipped += batch.skipped
                progress?(batch.end, count)
            }
        }
        summary.writeSeconds = Date().timeIntervalSince(writeStart)
        summary.timings = timings
        try finishRun(run, counts: RunCounts(done: summary.imported, skipped: summary.skipped, failed: 0))
        return summary
    }

    /// meta.csv rows as images to register. Needs a `path` column; `label`, `split`,
    /// `source`, `digest` are optional (a missing source is the import directory).
    static func readMeta(_ url: URL, defaultSource: String) throws -> [NewImage] {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw StoreError.badFile(path: url.path, reason: FeatureStore.reason(error))
        }
        let rows: [[String]]
        do { rows = try CSV.parse(text) } catch {
            throw StoreError.badFile(path: url.path, reason: "\(error)")
        }
        guard let header = rows.first, let pathColumn = header.firstIndex(of: "path") else {
            throw StoreError.badFile(path: url.path, reason: "no header with a 'path' column")
        }
        func column(_ name: String) -> Int? { header.firstIndex(of: name) }
        let (labelColumn, splitColumn, sourceColumn, digestColumn) = (column("label"), column("split"), column("source"), column("digest"))
        return try rows.dropFirst().enumerated().map { index, fields in
            guard fields.count == header.count else {
                throw StoreError.badFile(path: url.path, reason: "row \(index + 2) has \(fields.count) fields, header has \(header.count)")
            }
            func value(_ column: Int?) -> String? { column.flatMap { fields[$0].isEmpty ? nil : fields[$0] } }
            guard let path = value(pathColumn) else {
                throw StoreError.badFile(path: url.path, reason: "row \(index + 2) has an empty path")
            }
            return NewImage(source: value(sourceColumn) ?? defaultSource, path: path, digest: value(digestColumn),
                            label: value(labelColumn), split: value(splitColumn))
        }
    }
}
