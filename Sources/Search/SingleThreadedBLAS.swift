import Foundation
import Tensor

/// Holds OpenBLAS at one thread per call while Search runs its own worker threads that each
/// call BLAS (OpenBLAS's thread count is process-wide; a multi-threaded OpenBLAS serializes
/// concurrent level-3 calls and its idle workers spin). Scopes may overlap (concurrent
/// searches): the first one in saves the count, the last one out restores it, so two
/// searches can never leave OpenBLAS stuck at one thread. Call `end()` exactly once.
final class SingleThreadedBLAS {
    private static let lock = NSLock()
    private static var depth = 0
    private static var savedThreads = 1

    init() {
        SingleThreadedBLAS.lock.lock()
        defer { SingleThreadedBLAS.lock.unlock() }
        if SingleThreadedBLAS.depth == 0 {
            SingleThreadedBLAS.savedThreads = BLAS.threads
            BLAS.setThreads(1)
        }
        SingleThreadedBLAS.depth += 1
    }

    func end() {
        SingleThreadedBLAS.lock.lock()
        defer { SingleThreadedBLAS.lock.unlock() }
        SingleThreadedBLAS.depth -= 1
        if SingleThreadedBLAS.depth == 0 { BLAS.setThreads(SingleThreadedBLAS.savedThreads) }
    }
}
