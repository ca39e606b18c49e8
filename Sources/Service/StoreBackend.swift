import Foundation
import Imaging
import Logging
import Search
import Store
import Workflows

/// The real backend: answers from a `FeatureStore` with Search's indexes and Learning's
/// classifiers, and extracts codes of uploaded images with an `UploadCodeExtractor`.
///
/// Works on a store opened read-only beside a running extraction (searches see new codes
/// once committed; ingestion is refused with 409) or read-write (ingestion stores uploads
/// under `<store>/uploads/`).
public final class StoreBackend: ServiceBackend, @unchecked Sendable {
    public let store: FeatureStore
    /// nil: image uploads are answered 501.
    public let extractor: UploadCodeExtractor?
    /// The store's search indexes (Workflows): shared with the CLI's `search`, thread-safe,
    /// and kept in step with codes committed while the server runs.
    let searcher: CollectionSearch
    let classifiers: ClassifierCache
    let logger: Logger
    /// Codes per label and per split of each collection, with the count they were made at
    /// (counting reads every image row, so it is redone only when the count changes).
    private var labelCountCache: [String: (count: Int, labels: [String: Int], splits: [String: Int])] = [:]
    private let labelCountLock = NSLock()
    /// Decoding limit for uploads (pixels), PIL's default bomb guard.
    let decodeLimits = DecodeLimits.default

    /// Where uploaded images are saved when ingested (`<store>/uploads`).
    public var uploadsDirectory: URL { store.directory.appendingPathComponent("uploads", isDirectory: true) }

    /// - Parameters:
    ///   - hnswIndexPath: where the HNSW file of a collection for a metric is (default:
    ///     `CollectionSearch.indexURL`, where `cnncodes index` writes); without one, exact search.
    public init(store: FeatureStore, extractor: UploadCodeExtractor? = nil,
                hnswIndexPath: (@Sendable (String, Metric) -> URL)? = nil, logger: Logger = Logger(label: "cnncodes.service")) {
        self.store = store
        self.extractor = extractor
        self.logger = logger
        searcher = CollectionSearch(store: store, indexURL: hnswIndexPath, report: { logger.info("\($0)") })
        classifiers = ClassifierCache(store: store)
    }

    // MARK: Catalog

    public func health() throws -> HealthResponse {
        HealthResponse(status: "ok", store: store.directory.path, readOnly: store.mode == .readOnly,
                       collections: try store.collections().count, version: ServiceVersion.current)
    }

    public func collections() throws -> [CollectionSummary] {
        try store.collections().map { record in
            CollectionSummary(name: record.name, dim: record.dim, count: record.count,
                              provenance: ProvenanceInfo(record.provenance),
                              hnswIndex: searcher.hnswMetrics(collection: record.name).map(\.rawValue))
        }
    }

    public func collection(named name: String) throws -> CollectionDetail {
        let record = try store.requireCollection(name)
        let info = try store.info().collections.first { $0.record.name == name }
        let (labels, splits) = try labelCounts(record)
        let classifierNames = try store.classifiers().filter { $0.collection == name }.map(\.name)
        return CollectionDetail(
            name: record.name, dim: record.dim, count: record.count, pending: info?.pending ?? 0,
            created: record.created, provenance: ProvenanceInfo(record.provenance), labels: labels, splits: splits,
            classifiers: classifierNames, hnswIndex: searcher.hnswMetrics(collection: name).map(\.rawValue),
            acceptsImages: extractor != nil)
    }

    /// Largest page of `images(inCollection:)`.
    public static let maxPage = 1_000

    public func images(inCollection name: String, label: String?, split: String?, offset: Int, limit: Int) throws -> ImageListResponse {
        guard offset >= 0 else { throw ServiceError.badRequest("offset must be ≥ 0, got \(offset)") }
        guard (1...StoreBackend.maxPage).contains(limit) else {
            throw ServiceError.badRequest("limit must be in 1...\(StoreBackend.maxPage), got \(limit)")
        }
        let ids = try store.imageIDs(collection: name, filter: ImageFilter(label: label, split: split))
        let page = offset < ids.count ? Array(ids[offset..<min(ids.count, offset + limit)]) : []
        let rows = try store.images(ids: page)
        return ImageListResponse(
            collection: name, total: ids.count, offset: offset,
            images: rows.map { ImageSummary(id: $0.id, path: $0.path, label: $0.label, split: $0.split) })
    }

    public func image(id: Int64) throws -> ImageInfo {
        guard let record = try store.image(id: id) else { throw StoreError.unknownImage(id) }
        let holding = try store.collections().map(\.name).filter { try store.isDone(imageID: id, collection: $0) }
        return ImageInfo(id: record.id, path: record.path, digest: record.digest, width: record.width,
                         height: record.height, label: record.label, split: record.split, added: record.added,
                         collections: holding)
    }

    public func imageFile(id: Int64) throws -> ImageFile {
        guard let record = try store.image(id: id) else { throw StoreError.unknownImage(id) }
        // Only catalog rows are resolved: the request names an id, never a path.
        let url = URL(fileURLWithPath: record.source, isDirectory: true).appendingPathComponent(record.path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw ServiceError.notFound("the file of image \(id) (\(record.path)) is no longer on disk")
        }
        return ImageFile(url: url, contentType: StoreBackend.contentType(ofFileAt: url))
    }

    public func codeCounts() throws -> [(collection: String, count: Int)] {
        try store.collections().map { ($0.name, $0.count) }
    }

    // MARK: Helpers

    private func labelCounts(_ record: CollectionRecord) throws -> (labels: [String: Int], splits: [String: Int]) {
        labelCountLock.lock()
        let cached = labelCountCache[record.name]
        labelCountLock.unlock()
        if let cached, cached.count == record.count { return (cached.labels, cached.splits) }
        var labels: [String: Int] = [:]
        var splits: [String: Int] = [:]
        for image in try store.images(ids: try store.imageIDs(collection: record.name)) {
            labels[image.label ?? "", default: 0] += 1
            splits[image.split ?? "", default: 0] += 1
        }
        labelCountLock.lock()
        labelCountCache[record.name] = (record.count, labels, splits)
        labelCountLock.unlock()
        return (labels, splits)
    }

    /// The media type of an image file from its first bytes (the name can lie).
    static func contentType(ofFileAt url: URL) -> String {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return "application/octet-stream" }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: 8)) ?? Data())
        return contentType(of: head)
    }

    static func contentType(of head: [UInt8]) -> String {
        if head.starts(with: [0xFF, 0xD8, 0xFF]) { return "image/jpeg" }
        if head.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return "image/png" }
        if head.starts(with: [0x47, 0x49, 0x46, 0x38]) { return "image/gif" }
        return "application/octet-stream"
    }

    /// Decodes an upload (validating it) or throws `ServiceError.invalidImage` with the reason.
    func decode(_ upload: ImageUpload) throws -> DecodedImage {
        do {
            return try ImageDecoder.decode(data: upload.data, name: upload.name, limits: decodeLimits)
        } catch let error as ImagingError {
            throw ServiceError.invalidImage(error.description)
        }
    }

    /// The code of an uploaded image for `record`, made by the extractor (which decodes it:
    /// undecodable bytes are a 400). Without an extractor the bytes are still validated, so
    /// bad bytes are a 400 and good ones a 501.
    func code(of upload: ImageUpload, for record: CollectionRecord) throws -> ExtractedCode {
        guard let extractor else {
            _ = try decode(upload)
            throw ServiceError.notImplemented(
                "this server has no image-to-code extractor, so uploaded images cannot be searched, classified or "
                    + "ingested; search by stored id or by vector instead")
        }
        let extracted: ExtractedCode
        do {
            extracted = try extractor.code(for: upload, collection: record)
        } catch let error as ImagingError {
            throw ServiceError.invalidImage(error.description)
        }
        guard extracted.code.count == record.dim else {
            throw ServiceError.internalError(
                "the extractor made a \(extracted.code.count)-d code for collection '\(record.name)' of \(record.dim)-d codes")
        }
        return extracted
    }
}

extension ProvenanceInfo {
    init(_ provenance: Provenance) {
        self.init(modelDigest: provenance.modelDigest, modelPath: provenance.modelPath, layer: provenance.layer,
                  preprocessing: provenance.preprocessingJSON, pooling: provenance.pooling, relu: provenance.relu,
                  dtype: provenance.dtype.rawValue)
    }
}

/// The version string the server reports (health, Server header).
public enum ServiceVersion {
    public static let current = "0.1.0"
}
