import Foundation

extension BLAS {
    /// Runs `body` with OpenBLAS held at `n` threads per call, then puts the count back.
    ///
    /// OpenBLAS keeps one process-wide thread count, so callers that run their own worker
    /// threads (each calling BLAS) lower it to avoid oversubscription, and concurrent callers
    /// must not undo each other. Scopes may overlap, on one thread (nested) or on several:
    /// the first scope in saves the count OpenBLAS had, the last scope out restores it, so
    /// overlapping scopes can never leave OpenBLAS stuck at a lowered count.
    ///
    /// Rule when open scopes ask different counts: the **minimum wins** while any scope is
    /// open (the count is recomputed as each scope enters or leaves). A scope lowers the count
    /// because its own threads would otherwise fight OpenBLAS's for the cores; raising it under
    /// another open scope would bring that fight back, so a scope may get fewer threads than
    /// it asked for, never more than any other open scope asked for.
    ///
    /// `BLAS.setThreads` called directly while a scope is open is not tracked: the next scope
    /// to enter or leave overrides it, and the last one out restores the count saved on entry.
    public static func withThreads<R>(_ n: Int, _ body: () throws -> R) rethrows -> R {
        ScopedThreads.enter(max(1, n))
        defer { ScopedThreads.leave(max(1, n)) }
        return try body()
    }

    /// Number of `withThreads` scopes open right now (for tests).
    public static var openThreadScopes: Int { ScopedThreads.openCount }
}

/// The bookkeeping behind `BLAS.withThreads`. `lock` guards `savedThreads` and `open`, and is
/// held across the `setThreads` calls so that the count OpenBLAS has always matches `open`.
private enum ScopedThreads {
    private static let lock = NSLock()
    /// The count OpenBLAS had when the first of the open scopes entered.
    nonisolated(unsafe) private static var savedThreads = 1
    /// The counts asked by the open scopes, in no particular order (a multiset; there are
    /// only ever a few, one per concurrent caller).
    nonisolated(unsafe) private static var open: [Int] = []

    static func enter(_ n: Int) {
        lock.lock()
        defer { lock.unlock() }
        if open.isEmpty { savedThreads = BLAS.threads }
        open.append(n)
        apply()
    }

    static func leave(_ n: Int) {
        lock.lock()
        defer { lock.unlock() }
        if let i = open.firstIndex(of: n) { open.remove(at: i) }
        if open.isEmpty {
            BLAS.setThreads(savedThreads)
        } else {
            apply()
        }
    }

    static var openCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return open.count
    }

    /// Sets OpenBLAS to the smallest count any open scope asks for (caller holds `lock`).
    private static func apply() {
        if let n = open.min(), n != BLAS.threads { BLAS.setThreads(n) }
    }
}
