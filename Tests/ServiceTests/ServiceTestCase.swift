import Foundation
import Hummingbird
import HummingbirdTesting
@testable import Service
import XCTest

/// Starts the real server (Hummingbird, a loopback port) over a backend and sends it HTTP.
class ServiceTestCase: XCTestCase {
    /// Runs `body` against a live server on a free loopback port.
    func withServer(
        _ backend: ServiceBackend, token: String? = nil, maxUploadBytes: Int = 20 << 20,
        _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        let configuration = ServiceConfiguration(host: "127.0.0.1", port: 0, token: token, maxUploadBytes: maxUploadBytes)
        let app = ServiceServer.application(backend: backend, configuration: configuration)
        try await app.test(.live) { client in try await body(client) }
    }
}

extension TestResponse {
    var data: Data { Data(body.readableBytesView) }
    var text: String { String(decoding: data, as: UTF8.self) }

    func decode<T: Decodable>(_ type: T.Type, file: StaticString = #filePath, line: UInt = #line) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            XCTFail("cannot decode \(T.self) from \(status.code) \(text): \(error)", file: file, line: line)
            throw error
        }
    }

    /// The `{"error": {"status", "message"}}` body; fails unless it is one with `status`.
    func errorMessage(_ expected: Int, file: StaticString = #filePath, line: UInt = #line) -> String {
        XCTAssertEqual(status.code, expected, "body: \(text)", file: file, line: line)
        struct Body: Decodable {
            struct Detail: Decodable { var status: Int; var message: String }
            var error: Detail
        }
        guard let body = try? JSONDecoder().decode(Body.self, from: data) else {
            XCTFail("not a JSON error body: \(text)", file: file, line: line)
            return ""
        }
        XCTAssertEqual(body.error.status, expected, file: file, line: line)
        XCTAssertEqual(headers[.contentType], "application/json; charset=utf-8", file: file, line: line)
        return body.error.message
    }
}

extension ByteBuffer {
    static func json(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }
}

/// Headers for a JSON POST (and a bearer token when given).
func jsonHeaders(token: String? = nil) -> HTTPFields {
    var headers: HTTPFields = [.contentType: "application/json"]
    if let token { headers[.authorization] = "Bearer \(token)" }
    return headers
}
