import Foundation
import Hummingbird

/// The endpoints. Each parses its request, asks the backend (off the event loop) and renders
/// JSON; errors are thrown and rendered by `ErrorRenderingMiddleware`. No logic of its own.
struct ServiceRoutes: Sendable {
    let backend: ServiceBackend
    /// Request body limit in bytes.
    let limit: Int

    /// JSON search request: exactly one of `id` and `vector`.
    struct SearchBody: Decodable {
        struct Filter: Decodable {
            var label: String?
            var split: String?
        }
        var id: Int64?
        var vector: [Float]?
        var k: Int?
        var metric: String?
        var filter: Filter?
        var exact: Bool?
        var ef: Int?
    }

    func register(on router: Router<BasicRequestContext>, metrics: RequestMetrics) {
        let backend = self.backend
        let limit = self.limit

        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: WebPage.html)))
        }
        router.get("/openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.yaml)))
        }
        router.get("/metrics") { _, _ in
            let codes = try await BlockingWork.run { try backend.codeCounts() }
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: metrics.prometheusText(codes: codes))))
        }

        router.get("/v1/health") { _, _ in
            try json(try await BlockingWork.run { try backend.health() })
        }
        router.get("/v1/collections") { _, _ in
            let list = try await BlockingWork.run { try backend.collections() }
            return try json(["collections": list])
        }
        router.get("/v1/collections/:name") { _, context in
            let name = try context.parameters.require("name")
            return try json(try await BlockingWork.run { try backend.collection(named: name) })
        }
        router.get("/v1/collections/:name/images") { request, context in
            let name = try context.parameters.require("name")
            let query = QueryParameters(request)
            let (label, split) = (query.string("label"), query.string("split"))
            let offset = try query.int("offset") ?? 0
            let pageSize = try query.int("limit") ?? 100
            return try json(try await BlockingWork.run {
                try backend.images(inCollection: name, label: label, split: split, offset: offset, limit: pageSize)
            })
        }
        router.post("/v1/collections/:name/search") { request, context in
            let name = try context.parameters.require("name")
            let body = try await request.decodeJSON(SearchBody.self, limit: limit)
            let target: SearchQuery.Target
            switch (body.id, body.vector) {
            case let (id?, nil): target = .id(id)
            case let (nil, vector?): target = .vector(vector)
            case (nil, nil): throw ServiceError.badRequest("give the query as \"id\" (a stored image) or \"vector\"")
            case (.some, .some): throw ServiceError.badRequest("give either \"id\" or \"vector\", not both")
            }
            let query = SearchQuery(target: target, k: body.k ?? 10, metric: body.metric ?? "cosine",
                                    label: body.filter?.label, split: body.filter?.split,
                                    exact: body.exact ?? false, ef: body.ef)
            return try json(try await BlockingWork.run { try backend.search(collection: name, query: query) })
        }
        router.post("/v1/collections/:name/search/image") { request, context in
            let name = try context.parameters.require("name")
            let parameters = QueryParameters(request)
            var query = SearchQuery(target: .vector([]))
            query.k = try parameters.int("k") ?? 10
            query.metric = parameters.string("metric") ?? "cosine"
            query.label = parameters.string("label")
            query.split = parameters.string("split")
            query.exact = try parameters.bool("exact") ?? false
            query.ef = try parameters.int("ef")
            query.target = .image(try await request.imageUpload(limit: limit))
            let finalQuery = query
            return try json(try await BlockingWork.run { try backend.search(collection: name, query: finalQuery) })
        }
        router.post("/v1/collections/:name/images") { request, context in
            let name = try context.parameters.require("name")
            let parameters = QueryParameters(request)
            let (label, split) = (parameters.string("label"), parameters.string("split"))
            let upload = try await request.imageUpload(limit: limit)
            let result = try await BlockingWork.run {
                try backend.ingest(collection: name, upload: upload, label: label, split: split)
            }
            return try json(result, status: result.stored ? .created : .ok)
        }
        router.get("/v1/images/:id") { _, context in
            let id = try imageID(context)
            return try json(try await BlockingWork.run { try backend.image(id: id) })
        }
        router.get("/v1/images/:id/file") { _, context in
            let id = try imageID(context)
            let (file, data) = try await BlockingWork.run { () -> (ImageFile, Data) in
                let file = try backend.imageFile(id: id)
                do {
                    return (file, try Data(contentsOf: file.url, options: .mappedIfSafe))
                } catch {
                    throw ServiceError.notFound("the file of image \(id) cannot be read: \((error as NSError).localizedDescription)")
                }
            }
            return Response(status: .ok,
                            headers: [.contentType: file.contentType, .cacheControl: "private, max-age=3600"],
                            body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.post("/v1/classifiers/:name/classify") { request, context in
            let name = try context.parameters.require("name")
            let upload = try await request.imageUpload(limit: limit)
            return try json(try await BlockingWork.run { try backend.classify(classifier: name, input: .image(upload)) })
        }
        router.get("/v1/classifiers/:name/classify/:id") { _, context in
            let name = try context.parameters.require("name")
            let id = try imageID(context)
            return try json(try await BlockingWork.run { try backend.classify(classifier: name, input: .storedID(id)) })
        }
    }
}

/// The `:id` path parameter as an image id; 400 when it is not an integer.
private func imageID(_ context: BasicRequestContext) throws -> Int64 {
    let text = try context.parameters.require("id")
    guard let id = Int64(text) else { throw ServiceError.badRequest("image id '\(text)' is not an integer") }
    return id
}

/// A JSON response.
private func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
    let data: Data
    do {
        data = try JSONEncoder.service.encode(value)
    } catch {
        throw ServiceError.internalError("cannot encode the answer as JSON: \(error)")
    }
    return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(bytes: data)))
}
