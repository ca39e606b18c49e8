@testable import Inference
import Synchronization
import XCTest

/// The learned two-thread cut: where it cuts, how it moves, and that its parts cover the work.
final class SplitBalanceTests: XCTestCase {
    /// Cuts fall on whole granules, leave both parts non-empty when there are two granules, and
    /// follow the share.
    func testCutPoints() {
        let balance = SplitBalance()
        XCTAssertEqual(balance.cutPoint(count: 169, granularity: 16), 80)  // 169 · 0.5 / 16 = 5.3 → 5 granules
        XCTAssertEqual(balance.cutPoint(count: 16, granularity: 16), 16)   // one granule: no second part
        XCTAssertEqual(balance.cutPoint(count: 17, granularity: 16), 16)
        XCTAssertEqual(balance.cutPoint(count: 1000, granularity: 6), 498)
        balance.skew(callerFaster: true)
        XCTAssertEqual(balance.callerShare, SplitBalance.shareBounds.upperBound, accuracy: 1e-12)
        XCTAssertEqual(balance.cutPoint(count: 169, granularity: 16), 128)  // 169 · 0.75 / 16 = 7.9 → 8 granules
        XCTAssertEqual(balance.cutPoint(count: 32, granularity: 16), 16)    // never the whole
        balance.skew(callerFaster: false)
        XCTAssertEqual(balance.callerShare, SplitBalance.shareBounds.lowerBound, accuracy: 1e-12)
        XCTAssertEqual(balance.cutPoint(count: 32, granularity: 16), 16)    // never nothing
    }

    /// The share moves a quarter of the way toward the balancing one, at most 0.05 a pass, and
    /// ignores parts without a time.
    func testShareMovesTowardBalance() {
        let balance = SplitBalance()
        // Caller did half in 1 ms, worker half in 1.5 ms: speeds 1 : 2/3, balance at 0.6.
        balance.record(callerWork: 0.5, callerTime: 1_000_000, workerTime: 1_500_000)
        XCTAssertEqual(balance.callerShare, 0.525, accuracy: 1e-9)
        // Far off (balance at 0.9): capped at +0.05.
        balance.record(callerWork: 0.5, callerTime: 1_000, workerTime: 9_000)
        XCTAssertEqual(balance.callerShare, 0.575, accuracy: 1e-9)
        balance.record(callerWork: 0.5, callerTime: 0, workerTime: 9_000)
        XCTAssertEqual(balance.callerShare, 0.575, accuracy: 1e-9)
        // Equal speeds: back toward halves (a quarter of 0.5 − 0.575).
        balance.record(callerWork: 0.575, callerTime: 575, workerTime: 425)
        XCTAssertEqual(balance.callerShare, 0.55625, accuracy: 1e-9)
    }

    /// run() calls part 0 and part 1 with ranges that cover 0..<count once, cut where
    /// cutPoint says, for shares at both bounds.
    func testPartsCoverTheWork() {
        for callerFaster in [false, true] {
            let balance = SplitBalance()
            balance.skew(callerFaster: callerFaster)
            let count = 1000
            let calls = Mutex<[(part: Int, range: Range<Int>)]>([])
            let cut = balance.cutPoint(count: count, granularity: 6)
            balance.run(count: count, granularity: 6) { part, range in calls.withLock { $0.append((part, range)) } }
            let made = calls.withLock { $0 }.sorted { $0.part < $1.part }
            XCTAssertEqual(made.map(\.part), [0, 1])
            XCTAssertEqual(made.map(\.range), [0..<cut, cut..<count])
            XCTAssertEqual(cut % 6, 0)
            XCTAssertEqual(cut, callerFaster ? 750 : 252)  // 1000 · 0.75 = 125 granules; 1000 · 0.25 / 6 = 41.7 → 42
        }
    }

    /// Inside another job (lanes run kernels that way) both parts run on the calling thread,
    /// in order, and the share does not move.
    func testNestedRunsBothPartsHereAndLearnsNothing() {
        let balance = SplitBalance()
        balance.skew(callerFaster: true)
        let share = balance.callerShare
        let calls = Mutex<[(part: Int, range: Range<Int>)]>([])
        DispatchQueueHelper.run(2) { index in
            guard index == 0 else { return }
            balance.run(count: 100, granularity: 1) { part, range in calls.withLock { $0.append((part, range)) } }
        }
        XCTAssertEqual(calls.withLock { $0 }.map(\.part), [0, 1])
        XCTAssertEqual(calls.withLock { $0 }.map(\.range), [0..<75, 75..<100])
        XCTAssertEqual(balance.callerShare, share)
    }
}
