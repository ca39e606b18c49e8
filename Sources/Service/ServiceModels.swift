import Foundation

// The JSON bodies of the API (camelCase keys; documented in OpenAPIDocument.swift).

/// A collection in the list.
public struct CollectionSummary: Codable, Equatable, Sendable {
    public var name: String
    public var dim: Int
    /// Codes stored (done).
    public var count: Int
    public var provenance: ProvenanceInfo
    /// Metrics with an HNSW index file (searched approximately unless `exact`).
    public var hnswIndex: [String]

    public init(name: String, dim: Int, count: Int, provenance: ProvenanceInfo, hnswIndex: [String]) {
        self.name = name
        self.dim = dim
        self.count = count
        self.provenance = provenance
        self.hnswIndex = hnswIndex
    }
}

/// How a collection's codes were made.
public struct ProvenanceInfo: Codable, Equatable, Sendable {
    public var modelDigest: String
    public var modelPath: String
    public var layer: String
    /// Imaging's canonical preprocessing JSON, as text.
    public var preprocessing: String
    public var pooling: String
    public var relu: Bool
    public var dtype: String

    public init(modelDigest: String, modelPath: String, layer: String, preprocessing: String,
                pooling: String, relu: Bool, dtype: String) {
        self.modelDigest = modelDigest
        self.modelPath = modelPath
        self.layer = layer
        self.preprocessing = preprocessing
        self.pooling = pooling
        self.relu = relu
        self.dtype = dtype
    }
}

/// A collection in detail.
public struct CollectionDetail: Codable, Equatable, Sendable {
    public var name: String
    public var dim: Int
    public var count: Int
    /// Images registered for it whose code is not stored yet.
    public var pending: Int
    public var created: String
    public var provenance: ProvenanceInfo
    /// Codes per label ("" = unlabelled).
    public var labels: [String: Int]
    /// Codes per split ("" = none).
    public var splits: [String: Int]
    /// Names of the stored classifiers trained on it.
    public var classifiers: [String]
    /// Metrics with an HNSW index file.
    public var hnswIndex: [String]
    /// Whether uploaded images can be searched, classified and ingested (an extractor for
    /// the collection's provenance is available).
    public var acceptsImages: Bool
}

/// An image's catalog row.
public struct ImageInfo: Codable, Equatable, Sendable {
    public var id: Int64
    /// Path relative to the image's source root (the root itself is not exposed).
    public var path: String
    public var digest: String?
    public var width: Int?
    public var height: Int?
    public var label: String?
    public var split: String?
    public var added: String
    /// Collections holding its code.
    public var collections: [String]
}

/// A page of a collection's images.
public struct ImageListResponse: Codable, Equatable, Sendable {
    public var collection: String
    /// Images matching the filter in all.
    public var total: Int
    public var offset: Int
    public var images: [ImageSummary]
}

public struct ImageSummary: Codable, Equatable, Sendable {
    public var id: Int64
    public var path: String
    public var label: String?
    public var split: String?
}

/// One search answer.
public struct SearchHitInfo: Codable, Equatable, Sendable {
    public var id: Int64
    /// Cosine similarity or inner product (higher is better) or squared L2 distance (lower).
    public var score: Float
    public var label: String?
    public var split: String?
    public var path: String?
}

public struct SearchResponse: Codable, Equatable, Sendable {
    public var collection: String
    public var metric: String
    /// "exact" or "hnsw".
    public var method: String
    public var k: Int
    /// The query image id when searching by id (it is among the hits, usually first).
    public var queryID: Int64?
    /// Codes searched (after filters: the number allowed).
    public var searched: Int
    public var hits: [SearchHitInfo]
}

/// A classifier's answer for one input.
public struct ClassificationResponse: Codable, Equatable, Sendable {
    public var classifier: String
    public var collection: String
    /// "svm" or "softmax".
    public var kind: String
    public var imageID: Int64?
    /// The predicted class.
    public var label: String
    /// Every class with its decision score (and probability for softmax models), best first.
    public var scores: [ClassScore]
}

public struct ClassScore: Codable, Equatable, Sendable {
    public var label: String
    public var score: Float
    public var probability: Float?
}

/// What an ingestion stored.
public struct IngestResponse: Codable, Equatable, Sendable {
    public var id: Int64
    public var collection: String
    public var path: String
    public var digest: String
    public var width: Int
    public var height: Int
    public var label: String?
    public var split: String?
    /// False when the same bytes were already stored in the collection (nothing written).
    public var stored: Bool
}

/// GET /v1/health.
public struct HealthResponse: Codable, Equatable, Sendable {
    public var status: String
    public var store: String
    public var readOnly: Bool
    public var collections: Int
    public var version: String
}
