import Foundation
import Hummingbird

/// Requires `Authorization: Bearer <token>` on every request when a token is configured.
///
/// The web page at `/` is the one exception: it is static HTML with no data (a browser
/// cannot add a header when it loads a page); it asks for the token and sends it with
/// every API call it makes.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    /// nil or empty: no authentication.
    let token: String?
    let publicPaths: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token, !token.isEmpty, !publicPaths.contains(request.uri.path) else {
            return try await next(request, context)
        }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
              BearerAuthMiddleware.constantTimeEquals(String(header.dropFirst("Bearer ".count)), token) else {
            throw ServiceError.unauthorized
        }
        return try await next(request, context)
    }

    /// Compares without an early exit, so response time does not reveal a matching prefix.
    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var difference = x.count ^ y.count
        for i in 0..<max(x.count, y.count) {
            difference |= Int((i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0))
        }
        return difference == 0
    }
}
