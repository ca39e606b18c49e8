import Foundation
import Hummingbird

/// Records every request's route (the matched pattern, e.g. `/v1/collections/{name}`, so ids
/// do not explode the label set), method, final status and latency. Outermost middleware,
/// so it sees the status errors were rendered with.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: RequestMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = DispatchTime.now().uptimeNanoseconds
        var status = 500
        defer {
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            metrics.record(route: context.endpointPath ?? "unmatched", method: request.method.rawValue,
                           status: status, seconds: seconds)
        }
        let response = try await next(request, context)
        status = response.status.code
        return response
    }
}
