import Foundation

/// Why an image could not be decoded or preprocessed. Every case names the file (or the
/// `name` given for in-memory data) and renders as one line, e.g. for a batch's failure log.
public enum ImagingError: Error, CustomStringConvertible, Equatable {
    /// The file could not be read (missing, unreadable, a directory…).
    case unreadable(file: String, reason: String)
    /// The bytes are not an image we recognise (empty, text, random data).
    case unrecognizedFormat(file: String, reason: String)
    /// A recognised format that this module refuses by design (GIF, BMP, WebP…).
    case unsupportedFormat(file: String, format: String)
    /// The header declares more pixels than the limit; nothing was allocated.
    case tooManyPixels(file: String, width: Int, height: Int, limit: Int)
    /// The header or the data are corrupt or truncated.
    case corrupt(file: String, reason: String)
    /// A preprocessing description (JSON file, profile name, values) is invalid.
    case invalidPreprocessing(source: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            return "\(file): cannot read the file: \(reason)"
        case let .unrecognizedFormat(file, reason):
            return "\(file): not a supported image (\(reason))"
        case let .unsupportedFormat(file, format):
            return "\(file): \(format) images are not supported (only JPEG and PNG are decoded)"
        case let .tooManyPixels(file, width, height, limit):
            return "\(file): image declares \(width)x\(height) = \(width * height) pixels, above the limit of \(limit) (possible decompression bomb)"
        case let .corrupt(file, reason):
            return "\(file): corrupt or truncated image data: \(reason)"
        case let .invalidPreprocessing(source, reason):
            return "\(source): invalid preprocessing: \(reason)"
        }
    }
}
