import ArgumentParser
import Foundation
import Logging
import Search
import Service
import Store

/// `cnncodes serve`: the HTTP API and web page over a store.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a store over HTTP: a JSON API for search, classification and ingestion, and a web page.",
        discussion: """
            Listens on 127.0.0.1:8080 by default. The JSON API is under /v1 (described at \
            /openapi.yaml), Prometheus metrics at /metrics, the page at /. With a token (--token or \
            $CNNCODES_TOKEN) every request but the page needs 'Authorization: Bearer <token>'.

            The store is opened for writing (uploads can be ingested) unless another process writes \
            it or --read-only is given; then it is read-only and the server still sees codes a \
            running extraction commits. A collection is searched with its HNSW index for the \
            metric when `cnncodes index` built one (<store>/indexes/<collection>.<metric>.hnsw), \
            else exactly. Uploaded images are turned into codes by the collection's own model \
            (the file recorded in its provenance, digest checked; --model if it moved), loaded \
            once on first use; concurrent uploads share forward passes.

            Example:
              cnncodes serve --store stores/default --port 8080
              curl -s localhost:8080/v1/collections
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Option(help: "The address to listen on (loopback by default; 0.0.0.0 exposes the store).")
    var host = "127.0.0.1"

    @Option(help: "The TCP port (0 picks a free one).")
    var port = 8080

    @Option(help: ArgumentHelp("Require this bearer token on every request (default: $CNNCODES_TOKEN; none when unset).",
                               valueName: "token"))
    var token: String?

    @Option(name: .customLong("max-upload-mb"), help: "The largest request body accepted, in MB (larger: 413).")
    var maxUploadMB = 20

    @Option(help: ArgumentHelp("The directory of HNSW index files <collection>.<metric>.hnsw (default: <store>/indexes).",
                               valueName: "dir"))
    var indexes: String?

    @Option(help: ArgumentHelp("The model file, when it moved since the collections were extracted (its digest must match).",
                               valueName: "file"))
    var model: String?

    @Option(help: "Threads of a model's forward pass.")
    var threads = 2

    @Flag(help: "Open the store read-only (ingestion disabled; an extraction can write meanwhile).")
    var readOnly = false

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535, got \(port)") }
        guard threads > 0 else { throw ValidationError("--threads must be positive, got \(threads)") }
        guard (1...4096).contains(maxUploadMB) else {
            throw ValidationError("--max-upload-mb must be in 1...4096, got \(maxUploadMB)")
        }
    }

    func run() async throws {
        var logger = Logger(label: "cnncodes.serve")
        logger.logLevel = .info
        let store = try openStore(logger: logger)
        let indexDirectory = indexes.map { URL(fileURLWithPath: $0, isDirectory: true) }
        let extractor = StoreCodeExtractors(threads: threads, modelOverride: model.map { URL(fileURLWithPath: $0) },
                                            logger: logger)
        let backend = StoreBackend(
            store: store, extractor: extractor,
            hnswIndexPath: indexDirectory.map { directory -> @Sendable (String, Metric) -> URL in
                { collection, metric in directory.appendingPathComponent("\(collection).\(metric.rawValue).hnsw") }
            },
            logger: logger)
        let resolvedToken = token ?? ProcessInfo.processInfo.environment["CNNCODES_TOKEN"]
        let configuration = ServiceConfiguration(
            host: host, port: port, token: resolvedToken.flatMap { $0.isEmpty ? nil : $0 },
            maxUploadBytes: maxUploadMB << 20)
        let host = self.host
        try await ServiceServer.run(backend: backend, configuration: configuration, logger: logger) { boundPort in
            print("cnncodes serving \(store.directory.path) (\(store.mode == .readOnly ? "read-only" : "read-write")) "
                  + "at http://\(host):\(boundPort)/ — API /v1, docs /openapi.yaml, metrics /metrics"
                  + (configuration.token == nil ? "" : "; bearer token required"))
            fflush(stdout)
        }
    }

    /// Read-write when possible; read-only when asked or when another process holds the
    /// writer lock (an extraction), so serving never blocks writing.
    private func openStore(logger: Logger) throws -> FeatureStore {
        if readOnly { return try storeOptions.open(.readOnly) }
        do {
            return try storeOptions.open(.readWrite)
        } catch StoreError.busy {
            logger.notice("another process writes \(storeOptions.store): serving it read-only (ingestion disabled)")
            return try storeOptions.open(.readOnly)
        }
    }
}
