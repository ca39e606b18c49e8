import Foundation
import Store

/// Turns uploaded image bytes into a code of a collection: decoded, preprocessed and run
/// through the collection's model, layer, pooling and ReLU exactly as its provenance records,
/// so an uploaded query is comparable with the stored codes.
///
/// The Extraction module's `CodeExtractor` is adapted to this protocol where the server is
/// started; without one, image uploads are answered 501. Implementations must be
/// thread-safe (requests call it concurrently) and should load each model once.
public protocol UploadCodeExtractor: AnyObject, Sendable {
    /// The code of `upload` for `collection` (`collection.dim` floats). Throws Imaging's
    /// errors for undecodable bytes, or an error naming what cannot be reproduced (e.g. the
    /// collection's model file is missing or its digest changed).
    func code(for upload: ImageUpload, collection: CollectionRecord) throws -> [Float]
}
