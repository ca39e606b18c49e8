import Foundation
import Hummingbird
import Logging

/// The one place errors become HTTP responses: any error thrown below (a route, another
/// middleware, a module) is mapped by `ServiceError.from` and rendered as
/// `{"error": {"status": 404, "message": "…"}}`. 5xx errors are logged.
struct ErrorRenderingMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let serviceError = ServiceError.from(error)
            if serviceError.statusCode >= 500 {
                logger.error("\(request.method) \(request.uri.path): \(serviceError)")
            }
            return ErrorRenderingMiddleware.response(for: serviceError)
        }
    }

    struct Body: Encodable {
        struct Detail: Encodable {
            var status: Int
            var message: String
        }
        var error: Detail
    }

    static func response(for error: ServiceError) -> Response {
        let body = Body(error: .init(status: error.statusCode, message: error.description))
        let data = (try? JSONEncoder.service.encode(body)) ?? Data(#"{"error":{"status":500,"message":"error"}}"#.utf8)
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if error == .unauthorized { headers[.wwwAuthenticate] = #"Bearer realm="cnncodes""# }
        return Response(status: .init(code: error.statusCode), headers: headers,
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension JSONEncoder {
    /// The API's encoder: sorted keys (stable output), slashes unescaped (paths stay readable).
    static var service: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
