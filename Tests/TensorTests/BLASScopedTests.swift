import Foundation
import Tensor
import XCTest

/// `BLAS.withThreads`: scopes that overlap (nested or on several threads) always end with
/// OpenBLAS back at the count it had before the first one, and the minimum count wins while
/// any scope is open. Counts stay within 1...2 so OpenBLAS never clamps them on a small machine.
final class BLASScopedTests: XCTestCase {
    private var originalThreads = 1

    override func setUpWithError() throws {
        originalThreads = BLAS.threads
        BLAS.setThreads(2)
        guard BLAS.threads == 2 else {
            BLAS.setThreads(originalThreads)
            throw XCTSkip("OpenBLAS cannot run 2 threads here (got \(BLAS.threads)); nothing to restore to")
        }
    }

    override func tearDown() {
        BLAS.setThreads(originalThreads)
    }

    func testNestedScopesMinimumWinsAndOuterCountReturns() {
        var seen = [Int]()
        BLAS.withThreads(2) {
            seen.append(BLAS.threads)
            BLAS.withThreads(1) {
                seen.append(BLAS.threads)
                // Asking more inside a lower scope does not raise the count.
                BLAS.withThreads(2) { seen.append(BLAS.threads) }
                seen.append(BLAS.threads)
            }
            seen.append(BLAS.threads)
        }
        XCTAssertEqual(seen, [2, 1, 1, 1, 2])
        XCTAssertEqual(BLAS.threads, 2)
        XCTAssertEqual(BLAS.openThreadScopes, 0)
    }

    func testThrowingBodyStillRestoresAndRethrows() {
        struct Boom: Error {}
        XCTAssertThrowsError(try BLAS.withThreads(1) { () throws -> Int in
            XCTAssertEqual(BLAS.threads, 1)
            throw Boom()
        })
        XCTAssertEqual(BLAS.threads, 2)
        XCTAssertEqual(BLAS.openThreadScopes, 0)
    }

    /// Two threads whose scopes overlap and leave in either order: the first one in leaves
    /// first (the case a plain save/restore per scope gets wrong: it would restore 2 while the
    /// other scope still needs 1, and the other would then "restore" 1 for good), or last.
    func testOverlappingScopesOnTwoThreadsRestoreOriginalCount() {
        for firstLeavesFirst in [true, false] {
            let firstIn = DispatchSemaphore(value: 0), secondIn = DispatchSemaphore(value: 0)
            let firstOut = DispatchSemaphore(value: 0), done = DispatchGroup()
            let seen = ThreadCounts()
            let record = seen.record

            // Scope A asks 1 and enters first; scope B asks 2 and enters while A is open.
            DispatchQueue.global().async(group: done) {
                BLAS.withThreads(1) {
                    record("A in")
                    firstIn.signal()
                    secondIn.wait()
                    if !firstLeavesFirst { firstOut.wait() }
                }
                if firstLeavesFirst { record("after A"); firstOut.signal() }
            }
            DispatchQueue.global().async(group: done) {
                firstIn.wait()
                BLAS.withThreads(2) {
                    record("B in")
                    secondIn.signal()
                    if firstLeavesFirst { firstOut.wait(); record("B alone") }
                }
                if !firstLeavesFirst { record("after B"); firstOut.signal() }
            }
            XCTAssertEqual(done.wait(timeout: .now() + 10), .success)

            XCTAssertEqual(seen["A in"], 1)
            XCTAssertEqual(seen["B in"], 1, "minimum of the open scopes (1, 2)")
            if firstLeavesFirst {
                XCTAssertEqual(seen["after A"], 2, "B alone asks 2")
                XCTAssertEqual(seen["B alone"], 2)
            } else {
                XCTAssertEqual(seen["after B"], 1, "A still open and asks 1")
            }
            XCTAssertEqual(BLAS.threads, 2, "last out restores the count before the first in")
            XCTAssertEqual(BLAS.openThreadScopes, 0)
        }
    }

    /// Many threads entering and leaving scopes at random: inside a scope the count never
    /// exceeds what it asked for, and the original count is back once all have left.
    func testManyConcurrentScopesEndWithOriginalCount() {
        let lock = NSLock()
        var violations = 0
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for i in 0..<500 {
                let n = (worker + i) % 2 + 1
                BLAS.withThreads(n) {
                    let threads = BLAS.threads
                    if threads > n {
                        lock.lock()
                        violations += 1
                        lock.unlock()
                    }
                }
            }
        }
        XCTAssertEqual(violations, 0)
        XCTAssertEqual(BLAS.threads, 2)
        XCTAssertEqual(BLAS.openThreadScopes, 0)
    }
}

/// OpenBLAS's thread count as seen at named moments by several threads.
private final class ThreadCounts: @unchecked Sendable {
    private let lock = NSLock()  // guards `counts`
    private var counts: [String: Int] = [:]

    @Sendable func record(_ moment: String) {
        let threads = BLAS.threads
        lock.lock()
        counts[moment] = threads
        lock.unlock()
    }

    subscript(moment: String) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        return counts[moment]
    }
}
