import Foundation

/// What the HTTP layer asks of a store. The routes only parse requests and render answers;
/// everything they answer comes through this protocol, so the server can be driven by the
/// real `StoreBackend` or, in a test, by anything else.
///
/// Methods are synchronous and may block (disk, BLAS, a forward pass): the server calls
/// them off its event loops (`BlockingWork`). Implementations must be thread-safe.
/// Errors: `ServiceError` or any module error (`ServiceError.from` maps them); unknown
/// names and ids must be reported as not found (`StoreError.unknown…` or `.notFound`).
public protocol ServiceBackend: AnyObject, Sendable {
    /// Store path, mode and collection count (GET /v1/health).
    func health() throws -> HealthResponse
    /// Every collection with its count and provenance, by name.
    func collections() throws -> [CollectionSummary]
    /// One collection with its provenance, counts, labels, splits and classifiers.
    func collection(named name: String) throws -> CollectionDetail
    /// A page of the images with a code in `collection` (ascending id), optionally filtered.
    func images(inCollection name: String, label: String?, split: String?, offset: Int, limit: Int) throws -> ImageListResponse
    /// The catalog row of image `id` (and the collections holding its code).
    func image(id: Int64) throws -> ImageInfo
    /// The file of a registered image (thumbnail source). Never a path from the request:
    /// only catalog rows are resolved.
    func imageFile(id: Int64) throws -> ImageFile
    /// The `k` nearest codes of `collection` to the query.
    func search(collection: String, query: SearchQuery) throws -> SearchResponse
    /// Applies the stored classifier `name` to an uploaded image or a stored code.
    func classify(classifier name: String, input: ClassifyInput) throws -> ClassificationResponse
    /// Decodes an uploaded image, extracts its code with the collection's provenance, and
    /// registers and stores it.
    func ingest(collection: String, upload: ImageUpload, label: String?, split: String?) throws -> IngestResponse
    /// Codes per collection (for /metrics).
    func codeCounts() throws -> [(collection: String, count: Int)]
}

/// Image bytes as uploaded (raw request body) with a name for messages and the catalog.
public struct ImageUpload: Sendable {
    public var data: Data
    /// The client's file name (`?filename=`), or "upload".
    public var name: String
    public init(data: Data, name: String) {
        self.data = data
        self.name = name
    }
}

/// What a search is asked for.
public struct SearchQuery: Sendable {
    public enum Target: Sendable {
        /// The stored code of this image in the collection.
        case id(Int64)
        /// A vector of the collection's dimension.
        case vector([Float])
        /// An uploaded image (its code is extracted with the collection's provenance).
        case image(ImageUpload)
    }

    public var target: Target
    public var k: Int
    /// "cosine" (default), "ip" or "l2".
    public var metric: String
    public var label: String?
    public var split: String?
    /// Force exact search even when an HNSW index exists.
    public var exact: Bool
    /// HNSW candidate list size (nil: the index's default).
    public var ef: Int?

    public init(target: Target, k: Int = 10, metric: String = "cosine", label: String? = nil,
                split: String? = nil, exact: Bool = false, ef: Int? = nil) {
        self.target = target
        self.k = k
        self.metric = metric
        self.label = label
        self.split = split
        self.exact = exact
        self.ef = ef
    }
}

/// What a classification is asked for.
public enum ClassifyInput: Sendable {
    case image(ImageUpload)
    case storedID(Int64)
}

/// An image file to send back: its bytes' location and media type.
public struct ImageFile: Sendable {
    public var url: URL
    public var contentType: String
    public init(url: URL, contentType: String) {
        self.url = url
        self.contentType = contentType
    }
}
