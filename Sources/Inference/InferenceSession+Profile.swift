import Foundation
import Tensor

/// Where the time of a forward pass goes, step by step: what `cnncodes forward --profile`
/// prints and what an engine change is judged by before a whole-model benchmark.
public struct StepProfile: Sendable {
    /// The node's name (or its first output's).
    public let label: String
    public let opType: String
    /// The kernel that ran it (e.g. `WinogradConvKernel`, `PointwiseConvKernel`).
    public let kernel: String
    /// Mean wall time of the step per pass of the plan.
    public let seconds: Double
    /// 2 · multiply-accumulates per pass (0 for ops other than Conv/Gemm/MatMul).
    public let flops: Int
}

extension InferenceSession {
    /// Runs the plan `passes` times on `input` (after one warm-up pass) timing every step.
    ///
    /// Steps run as in `run`, with one difference: in lanes, one lane runs alone (its kernels
    /// single-threaded), so the figures are those of one image on one core; a whole-batch
    /// plan runs its kernels split across `threads` as usual. Results are not returned.
    public func profile(_ input: Tensor, passes: Int) throws -> [StepProfile] {
        guard input.shape == inputShape else { throw InferenceError.inputShapeMismatch(expected: inputShape, got: input.shape) }
        return withRunScope(threads: laneCount > 1 ? 1 : threads) {
            let lane = lanes[0]
            let inputFloats = input.data.count / (inputShape.first ?? 1) * imagesPerPass
            input.data.withUnsafeBufferPointer { lane.buffers[plan.inputBuffer].update(from: $0.baseAddress!, count: inputFloats) }
            var nanoseconds = [UInt64](repeating: 0, count: plan.steps.count)
            for pass in 0...max(1, passes) {
                for index in plan.steps.indices {
                    let start = clockNanoseconds()
                    lane.run(plan, step: index)
                    if pass > 0 { nanoseconds[index] += clockNanoseconds() - start }
                }
            }
            return zip(plan.steps, nanoseconds).map { step, ns in
                StepProfile(
                    label: step.label, opType: step.opType, kernel: String(describing: type(of: step.kernel)),
                    seconds: Double(ns) / 1e9 / Double(max(1, passes)), flops: step.flops)
            }
        }
    }
}

/// Wall clock, or with CNNCODES_PROFILE_CLOCK=thread the calling thread's CPU time (robust on
/// a loaded machine, meaningful for single-threaded steps only: lanes or --threads 1).
private let useThreadClock = ProcessInfo.processInfo.environment["CNNCODES_PROFILE_CLOCK"] == "thread"

@inline(__always)
private func clockNanoseconds() -> UInt64 {
    guard useThreadClock else { return DispatchTime.now().uptimeNanoseconds }
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}
