import Foundation

/// Progress of a long run on standard error: a live bar with rate and ETA on a terminal,
/// a plain line every `plainInterval` seconds otherwise (logs, CI), so output stays readable
/// in both. Thread-safe: `advance` may be called from any thread (a lock guards the counters
/// and the last print time).
public final class ProgressReporter: @unchecked Sendable {
    public let total: Int
    private let label: String
    private let isTerminal: Bool
    private let plainInterval: TimeInterval
    private let quiet: Bool
    private let start = Date()
    private let lock = NSLock()
    // Guarded by `lock`.
    private var done = 0
    private var failed = 0
    private var skipped = 0
    private var lastPrint = Date.distantPast

    public init(total: Int, label: String, plainInterval: TimeInterval = 10, quiet: Bool = false) {
        self.total = total
        self.label = label
        self.quiet = quiet
        self.isTerminal = !quiet && isatty(STDERR_FILENO) != 0
        self.plainInterval = quiet ? .infinity : plainInterval
    }

    /// Records finished work: `done` extracted, `failed` refused, `skipped` already stored.
    public func advance(done: Int = 0, failed: Int = 0, skipped: Int = 0) {
        lock.lock()
        self.done += done
        self.failed += failed
        self.skipped += skipped
        let now = Date()
        let interval = isTerminal ? 0.2 : plainInterval
        let shouldPrint = now.timeIntervalSince(lastPrint) >= interval
        if shouldPrint { lastPrint = now }
        let line = shouldPrint ? render(now: now) : nil
        lock.unlock()
        if let line { emit(line, final: false) }
    }

    /// Prints the final state (unless quiet).
    public func finish() {
        guard !quiet else { return }
        lock.lock()
        let line = render(now: Date())
        lock.unlock()
        emit(line, final: true)
    }

    private func render(now: Date) -> String {
        let processed = done + failed + skipped
        let elapsed = max(now.timeIntervalSince(start), 1e-6)
        let rate = Double(done + failed) / elapsed
        let remaining = total - processed
        let eta = rate > 0 ? Double(remaining) / rate : 0
        let fraction = total > 0 ? Double(processed) / Double(total) : 1
        let width = 24
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        return String(
            format: "%@ [%@] %d/%d  %.1f img/s  ETA %@  (done %d, skipped %d, failed %d)",
            label, bar, processed, total, rate, Self.format(seconds: eta), done, skipped, failed)
    }

    private func emit(_ line: String, final: Bool) {
        let text = isTerminal ? "\r\u{1B}[K" + line + (final ? "\n" : "") : line + "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }

    static func format(seconds: Double) -> String {
        guard seconds.isFinite else { return "--:--" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%02d:%02d", s / 60, s % 60)
    }
}
