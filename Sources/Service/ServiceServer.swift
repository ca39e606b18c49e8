import Foundation
import Hummingbird
import HummingbirdCore
import Logging

/// How the server listens and what it accepts.
public struct ServiceConfiguration: Sendable {
    /// Loopback by default: exposing the store is a decision the user makes (`--host`).
    public var host: String
    /// 0 picks a free port (tests).
    public var port: Int
    /// When set (non-empty), every request but the page at `/` needs `Authorization: Bearer <token>`.
    public var token: String?
    /// Largest request body in bytes (uploads and JSON); larger ones get 413.
    public var maxUploadBytes: Int

    public init(host: String = "127.0.0.1", port: Int = 8080, token: String? = nil, maxUploadBytes: Int = 20 << 20) {
        self.host = host
        self.port = port
        self.token = token
        self.maxUploadBytes = maxUploadBytes
    }
}

/// The HTTP service: routes under `/v1`, `/metrics`, `/openapi.yaml` and the page at `/`,
/// answering through a `ServiceBackend`.
public enum ServiceServer {
    /// Paths served without a token (static, no data): the page.
    static let publicPaths: Set<String> = ["/"]

    /// The application; run it with `runService()` (or `app.test(.live)` in tests).
    /// `onServerRunning` receives the bound port once listening.
    public static func application(
        backend: ServiceBackend, configuration: ServiceConfiguration,
        logger: Logger = Logger(label: "cnncodes.service"),
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = makeRouter(backend: backend, configuration: configuration, logger: logger)
        return Application(
            router: router,
            // An idle keep-alive connection is closed after a minute, so a client that stops
            // mid-request cannot hold a connection forever.
            server: .http1(configuration: .init(idleTimeout: .seconds(60))),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port),
                                 serverName: "cnncodes/\(ServiceVersion.current)"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
    }

    /// Runs the server until SIGINT/SIGTERM (graceful shutdown: requests in flight finish).
    public static func run(
        backend: ServiceBackend, configuration: ServiceConfiguration,
        logger: Logger = Logger(label: "cnncodes.service"),
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws {
        let app = application(backend: backend, configuration: configuration, logger: logger, onServerRunning: onServerRunning)
        try await app.runService()
    }

    static func makeRouter(backend: ServiceBackend, configuration: ServiceConfiguration, logger: Logger) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        let metrics = RequestMetrics()
        // Order matters: metrics sees the final status; errors are rendered before metrics
        // records them; authentication runs before any route.
        router.add(middleware: RequestMetricsMiddleware(metrics: metrics))
        router.add(middleware: ErrorRenderingMiddleware(logger: logger))
        router.add(middleware: BearerAuthMiddleware(token: configuration.token, publicPaths: publicPaths))
        let routes = ServiceRoutes(backend: backend, limit: configuration.maxUploadBytes)
        routes.register(on: router, metrics: metrics)
        return router
    }
}
