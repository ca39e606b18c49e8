import Foundation
import Store

/// Turns uploaded image bytes into a code of a collection: decoded, preprocessed and run
/// through the collection's model, layer, pooling and ReLU exactly as its provenance records,
/// so an uploaded query is comparable with the stored codes.
///
/// `StoreCodeExtractors` is the real one (Extraction's `CodeExtractor` per collection, with
/// concurrent requests batched); without an extractor, image uploads are answered 501. Implementations must be
/// thread-safe (requests call it concurrently) and should load each model once.
public protocol UploadCodeExtractor: AnyObject, Sendable {
    /// The code of `upload` for `collection` (`collection.dim` floats). Throws Imaging's
    /// errors for undecodable bytes, or an error naming what cannot be reproduced (e.g. the
    /// collection's model file is missing or its digest changed).
    func code(for upload: ImageUpload, collection: CollectionRecord) throws -> ExtractedCode
}

/// An uploaded image's code and the image's full size in pixels.
public struct ExtractedCode: Sendable {
    public var code: [Float]
    public var width: Int
    public var height: Int
    public init(code: [Float], width: Int, height: Int) {
        self.code = code
        self.width = width
        self.height = height
    }
}
