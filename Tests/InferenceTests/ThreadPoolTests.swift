import CKernels
import Dispatch
import Foundation
import Synchronization
@testable import Inference
import XCTest

/// The engine's spinning thread pool (Sources/CKernels/pool_threads.c) and its Swift entry
/// `DispatchQueueHelper.run`: every index runs exactly once, the caller runs index 0, jobs
/// submitted concurrently or from inside a job body complete (no deadlock) with the right
/// results, and the sleep/wake path (spin time 0, gaps between jobs) loses no job.
final class ThreadPoolTests: XCTestCase {
    override func tearDown() {
        ck_pool_set_spin_us(Int32(CK_POOL_SPIN_US))
        ck_pool_use_condition_variable(0)
    }

    /// Calls counted per index by ck_parallel_for, for every n in 1...64, repeated so that
    /// workers are caught both spinning and waking. Also checks the caller ran index 0 and
    /// that the pool grew to n − 1 workers.
    func testEveryIndexRunsExactlyOnce() {
        struct Job {
            var counts: UnsafeMutablePointer<Int32>
            var caller: pthread_t
            var index0Thread: pthread_t?
        }
        let counts = UnsafeMutablePointer<Int32>.allocate(capacity: 64)
        defer { counts.deallocate() }
        for n in 1...64 {
            for round in 0..<(n <= 8 ? 200 : 10) {
                counts.initialize(repeating: 0, count: 64)
                var job = Job(counts: counts, caller: pthread_self(), index0Thread: nil)
                ck_parallel_for(Int32(n), { context, index in
                    guard let job = context?.assumingMemoryBound(to: Job.self) else { return }
                    job.pointee.counts[Int(index)] += 1
                    if index == 0 { job.pointee.index0Thread = pthread_self() }
                }, &job)
                let wrong = (0..<64).filter { counts[$0] != ($0 < n ? 1 : 0) }
                XCTAssertEqual(wrong, [], "n = \(n), round \(round): indices run a wrong number of times")
                XCTAssertTrue(job.index0Thread.map { pthread_equal($0, job.caller) != 0 } ?? false, "n = \(n): index 0 not on the caller")
            }
            XCTAssertGreaterThanOrEqual(Int(ck_pool_worker_count()), min(n - 1, Int(CK_POOL_MAX_WORKERS)))
        }
        XCTAssertLessThanOrEqual(Int(ck_pool_worker_count()), 63, "workers grow to the largest n − 1, no further")
    }

    /// Four threads submit jobs at once through `DispatchQueueHelper.run` (one gets the pool,
    /// the others fall back to GCD, per job); every job's per-index results must be right.
    func testConcurrentSubmissionsFromFourThreads() {
        let threads = 4, jobsPerThread = 300
        nonisolated(unsafe) let failures = UnsafeMutablePointer<Int>.allocate(capacity: threads)  // one slot per submitter
        failures.initialize(repeating: 0, count: threads)
        defer { failures.deallocate() }
        let group = DispatchGroup()
        for submitter in 0..<threads {
            group.enter()
            let thread = Thread {
                for job in 0..<jobsPerThread {
                    let n = 2 + (job + submitter) % 7
                    let out = UnsafeMutablePointer<Int>.allocate(capacity: n)
                    out.initialize(repeating: -1, count: n)
                    DispatchQueueHelper.run(n) { i in
                        var sum = 0
                        for k in 0..<(200 * (i + 1)) { sum &+= k ^ submitter }
                        out[i] = sum
                    }
                    for i in 0..<n {
                        var expected = 0
                        for k in 0..<(200 * (i + 1)) { expected &+= k ^ submitter }
                        if out[i] != expected { failures[submitter] += 1 }
                    }
                    out.deallocate()
                }
                group.leave()
            }
            thread.start()
        }
        XCTAssertEqual(group.wait(timeout: .now() + 120), .success, "concurrent submissions did not finish (deadlock?)")
        XCTAssertEqual((0..<threads).map { failures[$0] }, [0, 0, 0, 0])
    }

    /// A job body that submits a job of its own — on the caller (index 0) and on workers —
    /// through both the C entry and the Swift one, two levels deep: all finishes, each inner
    /// index exactly once, and ck_parallel_in_job tells bodies from the outside.
    func testNestedSubmissionDoesNotDeadlock() {
        XCTAssertEqual(ck_parallel_in_job(), 0)
        let outer = 4, inner = 3
        let cells = UnsafeMutablePointer<Int32>.allocate(capacity: outer * inner * inner)
        defer { cells.deallocate() }
        for _ in 0..<50 {
            cells.initialize(repeating: 0, count: outer * inner * inner)
            var sawInJob = true
            let lock = NSLock()
            DispatchQueueHelper.run(outer) { o in
                let inJob = ck_parallel_in_job() != 0
                DispatchQueueHelper.run(inner) { i in
                    DispatchQueueHelper.run(inner) { j in cells[(o * inner + i) * inner + j] += 1 }
                }
                lock.lock(); sawInJob = sawInJob && inJob; lock.unlock()
            }
            XCTAssertTrue(sawInJob, "a body did not see itself inside a job")
            XCTAssertEqual((0..<(outer * inner * inner)).filter { cells[$0] != 1 }, [])

            // The C entry: a busy pool runs the nested job serially in place.
            struct Nested { var cells: UnsafeMutablePointer<Int32> }
            var nested = Nested(cells: cells)
            cells.initialize(repeating: 0, count: outer * inner)
            ck_parallel_for(Int32(outer), { context, o in
                guard let context else { return }
                var inner = (context, o)
                ck_parallel_for(3, { context, i in
                    guard let pair = context?.assumingMemoryBound(to: (UnsafeMutableRawPointer, Int32).self).pointee
                    else { return }
                    let cells = pair.0.assumingMemoryBound(to: Nested.self).pointee.cells
                    cells[Int(pair.1) * 3 + Int(i)] += 1
                }, &inner)
            }, &nested)
            XCTAssertEqual((0..<(outer * inner)).filter { cells[$0] != 1 }, [])
        }
        XCTAssertEqual(ck_parallel_in_job(), 0)
    }

    /// Workers that sleep right after each job (spin 0), and jobs separated by gaps longer
    /// than the spin time: every wake-up must be delivered.
    func testSleepingWorkersWakeForEveryJob() {
        let slots = UnsafeMutablePointer<Int>.allocate(capacity: 4)
        defer { slots.deallocate() }
        for spin: Int32 in [0, 20] {
            ck_pool_set_spin_us(spin)
            for job in 0..<400 {
                slots.initialize(repeating: 0, count: 4)
                DispatchQueueHelper.run(4) { i in slots[i] = job * 4 + i + 1 }
                XCTAssertEqual((0..<4).map { slots[$0] }, (0..<4).map { job * 4 + $0 + 1 }, "spin \(spin) µs, job \(job)")
                if job % 50 == 0 { usleep(300) }  // longer than the spin: workers are asleep
            }
        }
    }

    /// The condition variable that builds off Linux sleep on (forced here), also switched to
    /// while workers sleep on the futex and back: every job must wake a worker. Index 0 (the
    /// caller's) waits until another index has run on a worker, so a lost wake-up — which would
    /// not change any result, the caller can run every index itself — fails the job after 2 s.
    func testConditionVariableSleepWakesForEveryJob() {
        let slots = UnsafeMutablePointer<Int>.allocate(capacity: 4)
        defer { slots.deallocate() }
        final class Flag: Sendable { let count = Atomic<Int>(0) }
        let workerRan = Flag()
        let caller = pthread_self()
        ck_pool_set_spin_us(0)
        for (phase, condvar) in [true, false, true].enumerated() {
            usleep(500)  // workers asleep on the previous mechanism when it switches
            ck_pool_use_condition_variable(condvar ? 1 : 0)
            for job in 0..<200 {
                slots.initialize(repeating: 0, count: 4)
                workerRan.count.store(0, ordering: .sequentiallyConsistent)
                var woken = true
                DispatchQueueHelper.run(4) { i in
                    if i == 0 {
                        let deadline = Date().addingTimeInterval(2)
                        while workerRan.count.load(ordering: .sequentiallyConsistent) == 0 && Date() < deadline { usleep(10) }
                        woken = workerRan.count.load(ordering: .sequentiallyConsistent) != 0
                    } else if pthread_equal(pthread_self(), caller) == 0 {
                        workerRan.count.add(1, ordering: .sequentiallyConsistent)
                    }
                    slots[i] = job * 4 + i + 1
                }
                XCTAssertTrue(woken, "phase \(phase) (condition variable: \(condvar)), job \(job): no worker woke")
                XCTAssertEqual((0..<4).map { slots[$0] }, (0..<4).map { job * 4 + $0 + 1 }, "phase \(phase), job \(job)")
                if !woken { return }
                if job % 50 == 0 { usleep(300) }
            }
        }
    }

    /// With four CPU-bound threads per processor competing, the pool must notice (crowding
    /// sampled from /proc/loadavg, or a preemption) and stop spinning within a few seconds.
    func testBusyMachineStopsSpinning() throws {
        let processors = ProcessInfo.processInfo.activeProcessorCount
        guard processors >= 2 else { throw XCTSkip("one processor: workers never spin") }
        let stop = StopFlag()
        let hogs = (0..<(4 * processors)).map { _ in
            Thread { var x = 0; while !stop.isSet { x &+= 1 }; _ = x }
        }
        hogs.forEach { $0.start() }
        defer { stop.set() }
        let deadline = Date().addingTimeInterval(10)
        let slots = UnsafeMutablePointer<Int>.allocate(capacity: 2)
        defer { slots.deallocate() }
        var jobs = 0
        repeat {
            DispatchQueueHelper.run(2) { i in
                var sum = 0
                for k in 0..<20_000 { sum &+= k }
                slots[i] = sum
            }
            jobs += 1
        } while (jobs < 100 || ck_pool_may_spin() != 0) && Date() < deadline
        XCTAssertEqual(ck_pool_may_spin(), 0, "still spinning after 10 s with \(4 * processors) competing threads")
    }

    /// `Parallel.forEachChunk` through the pool: disjoint chunks covering the range.
    func testForEachChunkCoversTheRangeOnce() {
        Parallel.threads = 3
        defer { Parallel.threads = 1 }
        for count in [5, 100, 100_003] {
            let hits = UnsafeMutablePointer<Int32>.allocate(capacity: count)
            hits.initialize(repeating: 0, count: count)
            Parallel.forEachChunk(count) { range in for i in range { hits[i] += 1 } }
            XCTAssertEqual((0..<count).filter { hits[$0] != 1 }.count, 0, "count \(count)")
            hits.deallocate()
        }
    }
}

/// A flag the CPU-hog threads poll.
private final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}
