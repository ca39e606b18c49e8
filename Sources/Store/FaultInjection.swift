import Foundation

/// A test hook for the crash tests: `CNNCODES_STORE_KILL_AT=<point>:<n>` makes the process
/// SIGKILL itself the n-th time it reaches `point` — a real kill at an exact place of the
/// write protocol (timed kills land mostly inside the LMDB write, the widest window).
/// Unset (always, outside tests) it costs one branch per batch.
final class FaultInjection: @unchecked Sendable {
    enum Point: String {
        /// After the LMDB commit of a batch, before its done marks.
        case afterCodesCommitted = "after-codes"
        /// After the done marks of a batch.
        case afterMarkedDone = "after-marks"
    }

    static let shared = FaultInjection(ProcessInfo.processInfo.environment["CNNCODES_STORE_KILL_AT"])

    private let point: Point?
    private let target: Int
    private var hits = 0
    private let lock = NSLock()

    init(_ specification: String?) {
        let parts = specification?.split(separator: ":") ?? []
        if parts.count == 2, let point = Point(rawValue: String(parts[0])), let target = Int(parts[1]) {
            self.point = point
            self.target = target
        } else {
            point = nil
            target = 0
        }
    }

    func reached(_ point: Point) {
        guard let wanted = self.point, wanted == point else { return }
        lock.lock()
        hits += 1
        let kill = hits == target
        lock.unlock()
        if kill { raise(SIGKILL) }
    }
}
