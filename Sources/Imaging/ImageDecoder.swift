import Foundation

/// Image bytes → upright 8-bit RGB. The format is sniffed from the content, never from the
/// file name. JPEG and PNG are decoded; GIF, BMP, WebP and TIFF are refused with an error
/// naming the format (a documented choice: ImageNet-style photo folders are JPEG, and a
/// refused file is recorded and skipped by the extraction pipeline).
///
/// Thread safety: stateless; every call owns its decoder state. Safe to call concurrently.
public enum ImageDecoder {
    /// Decodes the file at `url`. `sizeHint` allows a DCT-domain reduced JPEG decode (see
    /// `DecodeSizeHint`); nil decodes at full size.
    public static func decode(contentsOf url: URL, limits: DecodeLimits = .default,
                              sizeHint: DecodeSizeHint? = nil) throws -> DecodedImage {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw ImagingError.unreadable(file: url.path, reason: (error as NSError).localizedDescription)
        }
        return try decode(data: data, name: url.path, limits: limits, sizeHint: sizeHint)
    }

    /// Decodes in-memory bytes; `name` is used in error messages.
    public static func decode(data: Data, name: String, limits: DecodeLimits = .default,
                              sizeHint: DecodeSizeHint? = nil) throws -> DecodedImage {
        try data.withUnsafeBytes { bytes in
            guard bytes.count > 0 else {
                throw ImagingError.unrecognizedFormat(file: name, reason: "empty file")
            }
            switch ImageFormat.sniff(bytes) {
            case .jpeg:
                return try JPEGDecoder.decode(bytes, name: name, limits: limits, sizeHint: sizeHint)
            case .png:
                return try PNGDecoder.decode(bytes, name: name, limits: limits)
            case let format?:
                throw ImagingError.unsupportedFormat(file: name, format: format.rawValue)
            case nil:
                throw ImagingError.unrecognizedFormat(file: name, reason: "unknown signature \(signature(bytes))")
            }
        }
    }

    /// The first bytes in hex, for the error message.
    private static func signature(_ bytes: UnsafeRawBufferPointer) -> String {
        bytes.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
    }
}
