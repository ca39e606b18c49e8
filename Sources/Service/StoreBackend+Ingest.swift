import Extraction
import Foundation
import Store

extension StoreBackend {
    /// Stores an uploaded image in `collection`: the bytes are saved as
    /// `<store>/uploads/<sha256>.<jpg|png>` (content-addressed, so the same upload twice is
    /// one image), registered with the label and split, and its code is stored by the
    /// store's write protocol. Needs a store opened read-write (409 otherwise).
    public func ingest(collection name: String, upload: ImageUpload, label: String?, split: String?) throws -> IngestResponse {
        let record = try store.requireCollection(name)
        guard store.mode == .readWrite else {
            throw ServiceError.conflict(
                "the store is open read-only (another process writes it, or the server was started with --read-only); "
                    + "ingestion is disabled")
        }
        let extracted = try self.code(of: upload, for: record)
        // Extraction's digest (SHA-256 hex), so an extraction run over the uploads folder
        // recognises these files.
        let digest = ContentDigest.of(upload.data)
        let fileName = digest + (StoreBackend.contentType(of: [UInt8](upload.data.prefix(8))) == "image/png" ? ".png" : ".jpg")
        let directory = uploadsDirectory
        let file = directory.appendingPathComponent(fileName)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            if !FileManager.default.fileExists(atPath: file.path) {
                try upload.data.write(to: file, options: .atomic)
            }
        } catch {
            throw ServiceError.internalError("cannot save the upload in \(directory.path): \((error as NSError).localizedDescription)")
        }
        let registered = try store.registerImages(
            [NewImage(source: directory.path, path: fileName, digest: digest, label: label, split: split)],
            collections: [name])
        guard let image0 = registered.first else { throw ServiceError.internalError("registering the upload returned nothing") }
        let alreadyStored = image0.done.contains(name)
        if !alreadyStored {
            try store.setImageSizes([(id: image0.id, width: extracted.width, height: extracted.height)])
            try store.putCodes(collection: name, ids: [image0.id], matrix: extracted.code)
        }
        let row = try store.image(id: image0.id)
        return IngestResponse(
            id: image0.id, collection: name, path: fileName, digest: digest, width: extracted.width, height: extracted.height,
            label: row?.label, split: row?.split, stored: !alreadyStored)
    }
}
