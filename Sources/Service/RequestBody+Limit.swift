import Foundation
import Hummingbird
import HummingbirdCore
import NIOCore

extension Request {
    /// The whole body, refused with 413 as soon as it is known to exceed `limit` bytes:
    /// from the Content-Length header before reading anything, else while streaming.
    func collectBody(limit: Int) async throws -> Data {
        if let declared = headers[.contentLength].flatMap({ Int($0) }), declared > limit {
            throw ServiceError.payloadTooLarge(limit: limit)
        }
        var buffer = ByteBuffer()
        for try await chunk in body {
            guard buffer.readableBytes + chunk.readableBytes <= limit else {
                throw ServiceError.payloadTooLarge(limit: limit)
            }
            var chunk = chunk
            buffer.writeBuffer(&chunk)
        }
        return Data(buffer.readableBytesView)
    }

    /// A JSON body decoded as `T`; 400 naming what is wrong when it is not.
    func decodeJSON<T: Decodable>(_ type: T.Type, limit: Int) async throws -> T {
        let data = try await collectBody(limit: limit)
        guard !data.isEmpty else { throw ServiceError.badRequest("the request body is empty; send a JSON object") }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw ServiceError.badRequest("malformed JSON: \(ServiceError.describe(error))")
        }
    }

    /// The uploaded image: the raw body, or the file part of a `multipart/form-data` body.
    /// Its name is `?filename=`, else the part's file name, else "upload". 400 when empty.
    func imageUpload(limit: Int) async throws -> ImageUpload {
        var data = try await collectBody(limit: limit)
        var partName: String?
        if let boundary = headers[.contentType].flatMap(MultipartForm.boundary(contentType:)) {
            (data, partName) = try MultipartForm.filePart(of: data, boundary: boundary)
        }
        guard !data.isEmpty else { throw ServiceError.badRequest("the request body is empty; send the image bytes") }
        let queryName = uri.queryParameters["filename"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        return ImageUpload(data: data, name: queryName ?? partName.flatMap { $0.isEmpty ? nil : $0 } ?? "upload")
    }
}

/// Typed query parameters with 400 on bad values.
struct QueryParameters {
    let values: FlatDictionary<Substring, Substring>

    init(_ request: Request) {
        values = request.uri.queryParameters
    }

    func string(_ name: String) -> String? {
        values[Substring(name)].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
    }

    func int(_ name: String) throws -> Int? {
        guard let text = string(name) else { return nil }
        guard let value = Int(text) else { throw ServiceError.badRequest("query parameter \(name)=\(text) is not an integer") }
        return value
    }

    func bool(_ name: String) throws -> Bool? {
        guard let text = string(name) else { return nil }
        switch text.lowercased() {
        case "1", "true", "yes": return true
        case "0", "false", "no": return false
        default: throw ServiceError.badRequest("query parameter \(name)=\(text) is not a boolean (true/false)")
        }
    }
}
