import Extraction
import Foundation
import Hummingbird
import Imaging
import Learning
import Search
import Store
import Workflows

/// Everything the service answers with an error status. Each case carries the message the
/// client sees; `ServiceError.from(_:)` maps the other modules' errors here, and
/// `ErrorRenderingMiddleware` renders every error as `{"error": {"status", "message"}}` — the
/// one place errors become HTTP.
public enum ServiceError: Error, CustomStringConvertible, Equatable {
    /// 400: malformed JSON, a missing or invalid parameter, a vector of the wrong length.
    case badRequest(String)
    /// 400: the uploaded bytes are not a decodable image (`reason` says why).
    case invalidImage(String)
    /// 401: a token is configured and the request did not present it.
    case unauthorized
    /// 404: unknown collection, classifier, image id, code or route.
    case notFound(String)
    /// 409: the request needs something the store's state forbids (e.g. ingesting into a
    /// store opened read-only because another process writes it).
    case conflict(String)
    /// 413: the request body exceeds the upload limit (bytes).
    case payloadTooLarge(limit: Int)
    /// 501: the server cannot do this (e.g. no image-to-code extractor is configured).
    case notImplemented(String)
    /// 500: anything else; the message names the failing operation.
    case internalError(String)

    /// The HTTP status code.
    public var statusCode: Int {
        switch self {
        case .badRequest, .invalidImage: return 400
        case .unauthorized: return 401
        case .notFound: return 404
        case .conflict: return 409
        case .payloadTooLarge: return 413
        case .notImplemented: return 501
        case .internalError: return 500
        }
    }

    public var description: String {
        switch self {
        case let .badRequest(message): return message
        case let .invalidImage(reason): return "not a usable image: \(reason)"
        case .unauthorized: return "missing or wrong bearer token (send 'Authorization: Bearer <token>')"
        case let .notFound(message): return message
        case let .conflict(message): return message
        case let .payloadTooLarge(limit):
            return "request body is larger than the upload limit of \(limit) bytes (\(ByteFormatting.megabytes(limit)))"
        case let .notImplemented(message): return message
        case let .internalError(message): return message
        }
    }

    /// The error a client sees for `error` thrown anywhere below the routes: errors of the
    /// other modules keep their one-line descriptions and get the status their cause deserves.
    public static func from(_ error: Error) -> ServiceError {
        switch error {
        case let error as ServiceError:
            return error
        case let error as StoreError:
            switch error {
            case .unknownCollection, .unknownImage, .unknownClassifier:
                return .notFound(error.description)
            case .dimensionMismatch, .invalidArgument, .invalidCollectionName:
                return .badRequest(error.description)
            case .busy:
                return .conflict(error.description)
            default:
                return .internalError(error.description)
            }
        case let error as SearchError:
            switch error {
            case .invalidParameter, .dimensionMismatch:
                return .badRequest(error.description)
            case .unknownID:
                return .notFound(error.description)
            default:
                return .internalError(error.description)
            }
        case let error as WorkflowError:
            switch error {
            case .unknownImage:
                return .notFound(error.description)
            case .vectorLength:
                return .badRequest(error.description)
            default:
                return .internalError(error.description)
            }
        case let error as ImagingError:
            switch error {
            case .unreadable, .invalidPreprocessing:
                return .internalError(error.description)
            default:
                return .invalidImage(error.description)
            }
        case let error as ExtractionError:
            switch error {
            case .modelMissing, .modelChanged:
                // The collection's model cannot be reproduced here: uploads cannot be coded.
                return .notImplemented(error.description)
            default:
                return .internalError(error.description)
            }
        case let error as LearningError:
            return .internalError("classifier: \(error.description)")
        case let error as DecodingError:
            return .badRequest("malformed JSON: \(describe(error))")
        case let error as HTTPError:
            switch error.status.code {
            case 404: return .notFound("no route for this method and path")
            case 400..<500: return .badRequest(error.body ?? error.status.reasonPhrase)
            default: return .internalError(error.body ?? error.status.reasonPhrase)
            }
        default:
            return .internalError(String(describing: error))
        }
    }

    /// One line for a JSON decoding error: what was wrong and where.
    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
            return keys.isEmpty ? "" : " at '\(keys.joined(separator: "."))'"
        }
        switch error {
        case let .dataCorrupted(context):
            let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return (underlying ?? context.debugDescription) + path(context)
        case let .keyNotFound(key, context):
            return "missing key '\(key.stringValue)'" + path(context)
        case let .typeMismatch(type, context):
            return "expected \(type)" + path(context)
        case let .valueNotFound(type, context):
            return "expected \(type), found null" + path(context)
        @unknown default:
            return String(describing: error)
        }
    }
}

enum ByteFormatting {
    /// "20 MB" for 20 × 2²⁰ bytes (one decimal when not whole).
    static func megabytes(_ bytes: Int) -> String {
        let value = Double(bytes) / Double(1 << 20)
        return value == value.rounded() ? "\(Int(value)) MB" : String(format: "%.1f MB", value)
    }
}
