import Foundation

/// Runs blocking work (SQLite, LMDB, BLAS, a forward pass) off the server's event loops and
/// Swift's cooperative pool, which must never block: a GCD queue may add threads while
/// others wait on I/O. The caller's task waits on a continuation.
enum BlockingWork {
    private static let queue = DispatchQueue(label: "cnncodes.service.blocking", qos: .userInitiated, attributes: .concurrent)

    static func run<T>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            queue.async {
                continuation.resume(with: Result { try body() })
            }
        }
    }
}
