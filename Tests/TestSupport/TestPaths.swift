import Foundation
import XCTest

/// Where tests find the repository, its generated fixtures and `../shared`.
///
/// `../shared` (real models and images) is optional: tests that need it call
/// `try TestPaths.requireShared(...)`, which skips with a message when it is absent — a
/// user's fresh clone passes its tests without it.
public enum TestPaths {
    /// The repository root (found from this file's location, so tests run from any cwd).
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Fixtures written by `tools/make-fixtures` (git-ignored; CI generates them).
    public static let generatedFixtures = repositoryRoot.appendingPathComponent("Tests/Fixtures/generated")

    /// Small fixtures committed with the tests.
    public static let committedFixtures = repositoryRoot.appendingPathComponent("Tests/Fixtures")

    /// `$CNNCODES_SHARED`, else `../shared` beside the checkout.
    public static let shared: URL = {
        if let env = ProcessInfo.processInfo.environment["CNNCODES_SHARED"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        return repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared")
    }()

    /// A file under `../shared`, or an `XCTSkip` naming what is missing.
    public static func requireShared(_ relativePath: String) throws -> URL {
        let url = shared.appendingPathComponent(relativePath)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw XCTSkip("\(url.path) is absent (../shared is not beside this checkout); skipping")
        }
        return url
    }

    /// A generated fixture, or an `XCTSkip` telling how to make it.
    public static func requireGenerated(_ relativePath: String) throws -> URL {
        let url = generatedFixtures.appendingPathComponent(relativePath)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw XCTSkip("fixture \(url.path) is absent: run tools/make-fixtures (needs ../shared and pip packages); skipping")
        }
        return url
    }

    /// The debug `cnncodes` executable (beside the test bundle, else in .build/debug), or an
    /// `XCTSkip` when it is not built: tests that run the real process (kills, restarts) use it.
    public static func requireExecutable() throws -> URL {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("cnncodes"),
            repositoryRoot.appendingPathComponent(".build/debug/cnncodes"),
        ]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw XCTSkip("the cnncodes executable is not built (looked at \(candidates.map(\.path))); run swift build first")
        }
        return found
    }

    /// A fresh temporary directory, removed when the test ends.
    public static func temporaryDirectory(_ testCase: XCTestCase) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("cnncodes-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        testCase.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }
}
