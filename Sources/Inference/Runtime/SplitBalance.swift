import CKernels
import Dispatch

/// Where one kernel cuts its work between two threads, learned pass by pass: each part is
/// timed, each thread's speed is its share of the work over its time, and the cut moves a
/// quarter of the way toward the one that would have made both finish together.
///
/// Why: on this shared VM one vCPU runs the same work ~10 % slower than the other for
/// seconds at a time (the pool's counters, session 17: the caller waited for the worker ~11 %
/// of a SqueezeNet pass, and swapping which thread took which half moved the wait to the other
/// side), and a layer whose input the other core wrote is slower on that core. Finer dynamic
/// pieces balance too but cost more than they save (each piece re-reads or re-copies its
/// operands: row pieces 1.5–2 % slower, session 17; 1×1 column pieces 0.88–1.0×, session 15);
/// moving one cut costs nothing. Each kernel has its own: the right cut differs by layer.
/// Used where a kernel splits one image in two (1×1 columns or rows, implicit-GEMM pixels,
/// depthwise planes, Winograd tiles on the packed GEMM, the stem kernel's pooled rows) and cuts
/// only where the result does not depend on them (whole 32-column strips, 6-row panels,
/// 16-channel groups, any pooled row; the tests check it bit for bit, and keep Winograd's
/// output-channel split, its OpenBLAS tiles and the banded stem + pool on fixed halves, where
/// it did not hold): the same input
/// gives the same output bit for bit, whatever the threads learned. Measured in
/// one process alternating pass by pass with the fixed halves (benchmarks/ab-harness.patch,
/// two threads, 900–1700 passes each, median pass): with 16-column cuts and the stem + pool
/// and Winograd output channels balanced too, SqueezeNet 0.92, 0.96, 0.996, 0.99,
/// EfficientNet-Lite0 b1 0.97, 0.92, Inception v1 0.97, 0.985, DenseNet-121 0.995, 0.905,
/// ResNet-50 and open-nsfw b1 1.00; as kept (cuts that leave the output bit for bit the
/// same), SqueezeNet 0.988, 0.990 (means 0.984, 0.972), EfficientNet-Lite0 b1 0.930, 0.951.
/// It gains while the vCPUs differ and costs nothing while they do not.
final class SplitBalance: @unchecked Sendable {
    /// The calling thread's share of the work (0.5: halves).
    private(set) var callerShare = 0.5
    /// The share stays within these bounds (a preempted part reads as a very slow thread).
    static let shareBounds = 0.25...0.75
    /// Fraction of the way toward the balancing share taken per pass, and the largest step.
    static let rate = 0.25, maximumStep = 0.05

    /// Runs `body(part, range)` for part 0 (the calling thread) and part 1 (a pool worker),
    /// `count` units cut at the learned share in whole multiples of `granularity` (the last
    /// part takes the remainder), then updates the share from the two parts' times. Both parts
    /// are non-empty when count > granularity.
    func run(count: Int, granularity: Int, _ body: (Int, Range<Int>) -> Void) {
        let cut = cutPoint(count: count, granularity: granularity)
        if ck_parallel_in_job() != 0 {
            // Inside another job (a lane of a batch, whose kernels may still ask for two
            // threads): the pool is taken, both parts run here one after the other, and lanes
            // share this kernel, so there is nothing to learn and no state to touch.
            body(0, 0..<cut)
            if cut < count { body(1, cut..<count) }
            return
        }
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 2) { times in
            times[0] = 0; times[1] = 0
            DispatchQueueHelper.run(2) { part in
                let range = part == 0 ? 0..<cut : cut..<count
                guard !range.isEmpty else { return }
                let start = DispatchTime.now().uptimeNanoseconds
                body(part, range)
                times[part] = DispatchTime.now().uptimeNanoseconds - start
            }
            record(callerWork: Double(cut) / Double(count), callerTime: times[0], workerTime: times[1])
        }
    }

    /// The cut for `count` units: the share rounded to whole granules, leaving each part at
    /// least one when there are two.
    func cutPoint(count: Int, granularity: Int) -> Int {
        let granules = (count + granularity - 1) / granularity
        guard granules >= 2 else { return count }
        let wanted = Int((Double(count) * callerShare / Double(granularity)).rounded())
        return min(max(wanted, 1), granules - 1) * granularity
    }

    /// Moves the share toward the one at which both parts would have taken the same time,
    /// given that the caller did `callerWork` of the work in `callerTime` ns and the worker the
    /// rest in `workerTime`.
    func record(callerWork: Double, callerTime: UInt64, workerTime: UInt64) {
        guard callerTime > 0, workerTime > 0, callerWork > 0, callerWork < 1 else { return }
        let callerSpeed = callerWork / Double(callerTime), workerSpeed = (1 - callerWork) / Double(workerTime)
        let target = callerSpeed / (callerSpeed + workerSpeed)
        let step = min(max(SplitBalance.rate * (target - callerShare), -SplitBalance.maximumStep), SplitBalance.maximumStep)
        callerShare = min(max(callerShare + step, SplitBalance.shareBounds.lowerBound), SplitBalance.shareBounds.upperBound)
    }
}
