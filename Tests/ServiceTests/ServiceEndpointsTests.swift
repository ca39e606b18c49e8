import Foundation
import Hummingbird
import HummingbirdTesting
@testable import Service
import TestSupport
import XCTest

/// Authentication, /metrics, /openapi.yaml and the page.
final class ServiceEndpointsTests: ServiceTestCase {
    func testBearerTokenIsRequiredOnEveryEndpointButThePage() async throws {
        let fixture = try ServiceFixture(testCase: self)
        let token = "s3cret-token"
        try await withServer(StoreBackend(store: fixture.store), token: token) { client in
            let uris: [(String, HTTPRequest.Method)] = [
                ("/v1/health", .get), ("/v1/collections", .get), ("/v1/collections/colors", .get),
                ("/v1/images/\(fixture.ids[0])", .get), ("/v1/images/\(fixture.ids[0])/file", .get),
                ("/v1/collections/colors/search", .post), ("/v1/collections/colors/search/image", .post),
                ("/v1/collections/colors/images", .post), ("/v1/classifiers/colors-softmax/classify", .post),
                ("/v1/classifiers/colors-softmax/classify/\(fixture.ids[0])", .get),
                ("/metrics", .get), ("/openapi.yaml", .get), ("/v1/nothing-here", .get),
            ]
            for (uri, method) in uris {
                let missing = try await client.execute(uri: uri, method: method)
                _ = missing.errorMessage(401)
                XCTAssertEqual(missing.headers[.wwwAuthenticate], #"Bearer realm="cnncodes""#)
                _ = try await client.execute(uri: uri, method: method, headers: [.authorization: "Bearer wrong"]).errorMessage(401)
                _ = try await client.execute(uri: uri, method: method, headers: [.authorization: token]).errorMessage(401)
            }
            let ok = try await client.execute(uri: "/v1/health", method: .get, headers: [.authorization: "Bearer \(token)"])
            XCTAssertEqual(ok.status, .ok)
            let search = try await client.execute(
                uri: "/v1/collections/colors/search", method: .post, headers: jsonHeaders(token: token),
                body: .json(#"{"id": \#(fixture.ids[0]), "k": 2}"#))
            XCTAssertEqual(search.status, .ok, search.text)
            let page = try await client.execute(uri: "/", method: .get)
            XCTAssertEqual(page.status, .ok)
        }
    }

    func testPrometheusMetrics() async throws {
        let fixture = try ServiceFixture(testCase: self)
        try await withServer(StoreBackend(store: fixture.store)) { client in
            for _ in 0..<3 {
                _ = try await client.execute(uri: "/v1/collections/colors/search", method: .post, headers: jsonHeaders(),
                                             body: .json(#"{"id": \#(fixture.ids[0])}"#))
            }
            _ = try await client.execute(uri: "/v1/collections/nope", method: .get)
            _ = try await client.execute(uri: "/v1/health", method: .get)
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            XCTAssertEqual(metrics.status, .ok)
            XCTAssertEqual(metrics.headers[.contentType], "text/plain; version=0.0.4; charset=utf-8")
            let lines = Set(metrics.text.split(separator: "\n").map(String.init))
            XCTAssertTrue(lines.contains(#"cnncodes_http_requests_total{route="/v1/collections/{name}/search",method="POST",status="200"} 3"#),
                          metrics.text)
            XCTAssertTrue(lines.contains(#"cnncodes_http_requests_total{route="/v1/collections/{name}",method="GET",status="404"} 1"#),
                          metrics.text)
            XCTAssertTrue(lines.contains(#"cnncodes_http_request_duration_seconds_count{route="/v1/collections/{name}/search"} 3"#),
                          metrics.text)
            XCTAssertTrue(lines.contains(#"cnncodes_http_request_duration_seconds_bucket{route="/v1/collections/{name}/search",le="+Inf"} 3"#),
                          metrics.text)
            XCTAssertTrue(lines.contains(#"cnncodes_codes{collection="colors"} 60"#), metrics.text)
            XCTAssertTrue(lines.contains("# TYPE cnncodes_http_request_duration_seconds histogram"))
            // Buckets are cumulative: non-decreasing up to +Inf.
            let buckets = lines.filter { $0.hasPrefix(#"cnncodes_http_request_duration_seconds_bucket{route="/v1/collections/{name}/search""#) }
            XCTAssertEqual(buckets.count, RequestMetrics.bucketBounds.count + 1)
        }
    }

    func testOpenAPIDocumentDescribesEveryRoute() async throws {
        let fixture = try ServiceFixture(testCase: self)
        try await withServer(StoreBackend(store: fixture.store)) { client in
            let response = try await client.execute(uri: "/openapi.yaml", method: .get)
            XCTAssertEqual(response.status, .ok)
            let yaml = response.text
            XCTAssertTrue(yaml.hasPrefix("openapi: 3."), String(yaml.prefix(40)))
            let routes: [(String, String)] = [
                ("/v1/health", "get"), ("/v1/collections", "get"), ("/v1/collections/{name}", "get"),
                ("/v1/collections/{name}/images", "get"), ("/v1/collections/{name}/images", "post"),
                ("/v1/collections/{name}/search", "post"), ("/v1/collections/{name}/search/image", "post"),
                ("/v1/images/{id}", "get"), ("/v1/images/{id}/file", "get"),
                ("/v1/classifiers/{name}/classify", "post"), ("/v1/classifiers/{name}/classify/{id}", "get"),
                ("/metrics", "get"), ("/openapi.yaml", "get"), ("/", "get"),
            ]
            for (path, method) in routes {
                guard let range = yaml.range(of: "\n  \(path):\n") else {
                    XCTFail("\(path) is not in the OpenAPI paths")
                    continue
                }
                // The method appears in this path's block (before the next path at indent 2).
                let rest = yaml[range.upperBound...]
                let block = rest.range(of: "\n  /").map { rest[..<$0.lowerBound] } ?? rest
                XCTAssertTrue(block.contains("    \(method):"), "\(method) \(path) is not described")
            }
            for status in ["400", "401", "404", "409", "413", "501"] {
                XCTAssertTrue(yaml.contains("'\(status)':"), "status \(status) is not documented")
            }
            try self.validateWithPython(yaml)
        }
    }

    /// Validates the document against the OpenAPI 3 schema with the Python package
    /// openapi-spec-validator (skips when it is not installed).
    func validateWithPython(_ yaml: String) throws {
        let file = try TestPaths.temporaryDirectory(self).appendingPathComponent("openapi.yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", """
            import sys, yaml
            try:
                from openapi_spec_validator import validate
            except ImportError:
                sys.exit(77)
            validate(yaml.safe_load(open(sys.argv[1])))
            """, file.path]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        if process.terminationStatus == 77 { throw XCTSkip("python3 openapi-spec-validator is not installed") }
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 0, "openapi-spec-validator: \(message.suffix(2000))")
    }

    func testPageIsSelfContained() async throws {
        let fixture = try ServiceFixture(testCase: self)
        try await withServer(StoreBackend(store: fixture.store)) { client in
            let page = try await client.execute(uri: "/", method: .get)
            XCTAssertEqual(page.status, .ok)
            XCTAssertEqual(page.headers[.contentType], "text/html; charset=utf-8")
            let html = page.text
            XCTAssertTrue(html.contains("<script>") && html.contains("<style>"))
            for external in ["src=\"http", "href=\"http", "src='http", "@import", "cdn"] {
                XCTAssertFalse(html.lowercased().contains(external), "page refers to \(external)")
            }
            // The page's calls are routes the server has.
            for call in ["/v1/collections", "/search", "/search/image", "/file", "/classify"] {
                XCTAssertTrue(html.contains(call), "page does not call \(call)")
            }
        }
    }
}
