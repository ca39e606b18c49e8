import Foundation
import HummingbirdTesting
@testable import Service
import TestSupport
import XCTest

/// The web page in a real browser: headless Chromium loads `/?query=<id>` from the live
/// server, the page's script lists the collection, searches the stored image and asks the
/// classifier; the DOM it leaves must show the API's own answer (ids, order, scores, labels)
/// with every thumbnail loaded. Skipped when no Chromium is installed (scripts/setup
/// installs the Debian package, so CI runs it).
final class ServicePageTests: ServiceTestCase {
    /// The page's default k (its `k` input).
    static let pageK = 12

    func testDeepLinkedSearchRendersTheAPIsAnswer() async throws {
        let browser = try Self.requireChromium()
        let fixture = try ServiceFixture(testCase: self)
        let queryID = fixture.ids[25]  // a green image; its 12 nearest codes are green
        let profile = fixture.directory.appendingPathComponent("chromium-profile", isDirectory: true)
        try await withServer(StoreBackend(store: fixture.store)) { client in
            let port = try XCTUnwrap(client.port, "the live test server reports its port")
            let expected = try await client.execute(
                uri: "/v1/collections/colors/search", method: .post, headers: jsonHeaders(),
                body: .json(#"{"id": \#(queryID), "k": \#(Self.pageK)}"#)).decode(SearchResponse.self)
            XCTAssertEqual(expected.hits.count, Self.pageK)
            let prediction = try await client.execute(
                uri: "/v1/classifiers/colors-softmax/classify/\(queryID)", method: .get).decode(ClassificationResponse.self)
            XCTAssertEqual(prediction.label, "green")

            let dom = try await Self.dumpDOM(browser: browser, url: "http://127.0.0.1:\(port)/?query=\(queryID)",
                                             profile: profile, workDirectory: fixture.directory)
            let page = try RenderedPage(dom: dom)
            XCTAssertEqual(page.status, "", "the page's status line shows no error")
            XCTAssertEqual(page.hits.map(\.id), expected.hits.map(\.id), "result cards in the API's order")
            for (card, hit) in zip(page.hits, expected.hits) {
                XCTAssertEqual(card.thumbnailID, hit.id, "card #\(hit.id) shows its own thumbnail")
                XCTAssertEqual(card.thumbnailState, "loaded", "thumbnail of #\(hit.id) arrived")
                XCTAssertEqual(card.label, hit.label ?? "unlabelled")
                XCTAssertEqual(card.split, hit.split)
                // The page prints toFixed(4); the query itself is marked.
                XCTAssertEqual(card.score, String(format: "%.4f", hit.score) + (hit.id == queryID ? " · query" : ""))
            }
            XCTAssertEqual(page.hits.first?.id, queryID)
            XCTAssertTrue(page.resultInfo.hasPrefix("\(Self.pageK) of 60 by cosine (exact,"), page.resultInfo)
            XCTAssertEqual(page.predictedLabel, prediction.label)
            XCTAssertEqual(page.queryTitle, "Stored image #\(queryID)")
            XCTAssertEqual(page.storedInfo, "1–24 of 60", "the stored-images grid lists the collection")
        }
    }

    /// The Chromium binary (`$CNNCODES_CHROMIUM`, else `chromium` or `chromium-browser` on
    /// PATH), or a skip saying how to get it.
    static func requireChromium() throws -> URL {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["CNNCODES_CHROMIUM"], !path.isEmpty { return URL(fileURLWithPath: path) }
        let directories = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        for name in ["chromium", "chromium-browser"] {
            for directory in directories {
                let candidate = URL(fileURLWithPath: directory).appendingPathComponent(name)
                if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            }
        }
        throw XCTSkip("no chromium on PATH (apt-get install chromium, as scripts/setup does); the page test needs a browser")
    }

    /// Longest a page render may take before the browser is killed and the test fails: the
    /// page makes ~40 requests to a loopback server; Chromium's start-up dominates (a few
    /// seconds, more on a loaded machine).
    static let browserTimeout: TimeInterval = 120

    /// Loads `url` in headless Chromium and returns the DOM once the page settled.
    /// `--virtual-time-budget` lets the page's fetches and timers run (virtual time waits
    /// for pending network requests) before the DOM is serialized. `--no-sandbox` because
    /// tests may run as root (CI containers); a fresh profile so no state leaks in.
    static func dumpDOM(browser: URL, url: String, profile: URL, workDirectory: URL) async throws -> String {
        let output = workDirectory.appendingPathComponent("dom.html")
        let log = workDirectory.appendingPathComponent("chromium.log")
        for file in [output, log] where !FileManager.default.createFile(atPath: file.path, contents: nil) {
            throw PageTestError("cannot create \(file.path)")
        }
        let process = Process()
        process.executableURL = browser
        process.arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--disable-extensions", "--user-data-dir=\(profile.path)", "--virtual-time-budget=10000",
            "--dump-dom", url,
        ]
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: log)
        let finished = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Bool, Error>) in
            let once = ResumeOnce(continuation)
            process.terminationHandler = { _ in once.resume(true) }
            do { try process.run() } catch {
                once.fail(error)
                return
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + browserTimeout) {
                if process.isRunning { process.terminate() }
                once.resume(false)
            }
        }
        let diagnostics = String(decoding: (try? Data(contentsOf: log)) ?? Data(), as: UTF8.self).suffix(2_000)
        guard finished else {
            throw PageTestError("chromium did not finish \(url) within \(Int(browserTimeout)) s; its log ends:\n\(diagnostics)")
        }
        guard process.terminationStatus == 0 else {
            throw PageTestError("chromium exited \(process.terminationStatus) on \(url); its log ends:\n\(diagnostics)")
        }
        return String(decoding: try Data(contentsOf: output), as: UTF8.self)
    }
}

struct PageTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Resumes a continuation once: from the process's exit or from the timeout, whichever is first.
private final class ResumeOnce: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Bool, Error>?
    init(_ continuation: CheckedContinuation<Bool, Error>) { self.continuation = continuation }

    func resume(_ value: Bool) { take()?.resume(returning: value) }
    func fail(_ error: Error) { take()?.resume(throwing: error) }

    private func take() -> CheckedContinuation<Bool, Error>? {
        lock.lock()
        defer { lock.unlock() }
        let taken = continuation
        continuation = nil
        return taken
    }
}

/// What the page shows, read from Chromium's serialized DOM (the markup WebPage's script
/// builds: `.hit` cards with an `<img>`, a `.score` and a `.lab` line "label · split · #id").
struct RenderedPage {
    struct Card {
        var id: Int64
        var thumbnailID: Int64?
        var thumbnailState: String?
        var score: String
        var label: String
        var split: String?
    }

    var hits: [Card] = []
    var status: String
    var resultInfo: String
    var queryTitle: String
    var predictedLabel: String?
    var storedInfo: String

    init(dom: String) throws {
        func text(ofElementWithID id: String) throws -> String {
            guard let match = dom.firstMatch(of: try Regex(#"id="\#(id)"[^>]*>([^<]*)<"#)) else {
                throw PageTestError("the DOM has no element #\(id); it begins: \(dom.prefix(300))")
            }
            return Self.unescape(String(match.output[1].substring ?? ""))
        }
        status = try text(ofElementWithID: "status")
        resultInfo = try text(ofElementWithID: "resultInfo")
        queryTitle = try text(ofElementWithID: "queryTitle")
        storedInfo = try text(ofElementWithID: "storedInfo")
        if let prediction = dom.firstMatch(of: try Regex(#"id="prediction"[^>]*><div>classifier <i>[^<]*</i>: <b>([^<]*)</b>"#)) {
            predictedLabel = Self.unescape(String(prediction.output[1].substring ?? ""))
        }
        guard let start = dom.range(of: #"id="results""#) else {
            throw PageTestError("the DOM has no results box")
        }
        let results = dom[start.upperBound...]
        let card = try Regex(
            #"<div class="hit"><img([^>]*)><div class="meta"><div class="score">([^<]*)</div><div class="lab"[^>]*>([^<]*)</div>"#)
        for match in results.matches(of: card) {
            let attributes = String(match.output[1].substring ?? "")
            let labLine = Self.unescape(String(match.output[3].substring ?? ""))
            // "green · train · #26" (the split part is absent for images without one).
            let parts = labLine.components(separatedBy: " · ")
            guard parts.count >= 2, let last = parts.last, last.hasPrefix("#"), let id = Int64(last.dropFirst()) else {
                throw PageTestError("cannot read a result card's label line '\(labLine)'")
            }
            let thumbnail = attributes.firstMatch(of: try Regex(#"src="/v1/images/(\d+)/file""#))
            let state = attributes.firstMatch(of: try Regex(#"data-state="([a-z]+)""#))
            hits.append(Card(
                id: id, thumbnailID: thumbnail.flatMap { Int64($0.output[1].substring ?? "") },
                thumbnailState: state.map { String($0.output[1].substring ?? "") },
                score: Self.unescape(String(match.output[2].substring ?? "")), label: parts[0],
                split: parts.count == 3 ? parts[1] : nil))
        }
    }

    /// The few entities Chromium's serializer writes in text.
    static func unescape(_ text: String) -> String {
        text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&nbsp;", with: "\u{a0}").replacingOccurrences(of: "&amp;", with: "&")
    }
}
