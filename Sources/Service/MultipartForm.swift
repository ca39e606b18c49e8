import Foundation

/// The file part of a `multipart/form-data` body (RFC 7578), for clients that upload images
/// as an HTML form does. Only what an upload needs: the first part that carries a
/// `filename` (or is named `image` or `file`), its bytes and its file name.
enum MultipartForm {
    /// The `boundary` parameter of a `multipart/form-data` content type, or nil for any
    /// other type.
    static func boundary(contentType: String) -> String? {
        let parts = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let type = parts.first, type.lowercased() == "multipart/form-data" else { return nil }
        for parameter in parts.dropFirst() where parameter.lowercased().hasPrefix("boundary=") {
            var value = String(parameter.dropFirst("boundary=".count))
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value.isEmpty ? nil : value
        }
        return nil
    }

    /// The file part of `body`: its bytes and file name. Throws `ServiceError.badRequest`
    /// when the body is not a well-formed form with a file part.
    static func filePart(of body: Data, boundary: String) throws -> (data: Data, fileName: String?) {
        let delimiter = Data("--\(boundary)".utf8)
        let headerEnd = Data("\r\n\r\n".utf8)
        var searchStart = body.startIndex
        guard var partStart = body.range(of: delimiter, in: searchStart..<body.endIndex)?.upperBound else {
            throw ServiceError.badRequest("multipart body has no boundary '\(boundary)'")
        }
        while true {
            // "--" right after a delimiter closes the form.
            if body[partStart...].starts(with: Data("--".utf8)) { break }
            guard let headersRange = body.range(of: headerEnd, in: partStart..<body.endIndex) else { break }
            searchStart = headersRange.upperBound
            guard let next = body.range(of: Data("\r\n".utf8) + delimiter, in: searchStart..<body.endIndex) else {
                throw ServiceError.badRequest("multipart body ends inside a part (no closing boundary)")
            }
            let headers = String(decoding: body[partStart..<headersRange.lowerBound], as: UTF8.self)
            let disposition = headers.split(whereSeparator: \.isNewline)
                .first { $0.lowercased().hasPrefix("content-disposition:") }.map(String.init) ?? ""
            let fileName = parameter("filename", in: disposition)
            let name = parameter("name", in: disposition)
            if fileName != nil || name == "image" || name == "file" {
                return (Data(body[headersRange.upperBound..<next.lowerBound]), fileName)
            }
            partStart = next.upperBound
        }
        throw ServiceError.badRequest("multipart form has no file part (send the image as a part with a filename)")
    }

    /// `key="value"` from a Content-Disposition header line.
    private static func parameter(_ key: String, in line: String) -> String? {
        for piece in line.split(separator: ";").dropFirst() {
            let pair = piece.trimmingCharacters(in: .whitespaces)
            guard pair.lowercased().hasPrefix("\(key)=") else { continue }
            var value = String(pair.dropFirst(key.count + 1))
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }
}
