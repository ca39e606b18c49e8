import CKernels
import Tensor

/// The depthwise path of `ConvKernel` (group == C == M): ck_depthwise_conv (C, AVX2+FMA chosen
/// at run time, Sources/CKernels/depthwise.c) over planes (image × channel), which are split
/// across threads in contiguous ranges (whole groups of 16 or 8 channels when C allows),
/// each thread with its own scratch. Bias and activation are applied by the kernel as it stores,
/// so there is no epilogue pass.
extension ConvKernel {
    func depthwise(
        _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        _ y: UnsafeMutablePointer<Float>, _ scratch: UnsafeMutablePointer<Float>
    ) {
        var window = g.window.ck
        let channels = g.inChannels
        let planes = g.batch * channels
        let threads = max(1, min(self.threads, planes))
        let activation = activation.ck
        let planeScratch = ConvKernel.depthwiseScratch(g)
        let work = planes * g.window.outH * g.window.outW * g.window.kernelH * g.window.kernelW
        if threads == 1 || work < 65_536 {
            ck_depthwise_conv(x, w, b, y, 0, planes, Int32(channels), &window, activation, scratch)
            return
        }
        // Split at multiples of 16 or 8 planes when channels come in 16s (AVX-512) or 8s: the
        // C kernel takes that many channels at a time and would run a group cut by a thread
        // boundary in smaller groups or one plane at a time.
        let unit = channels % 16 == 0 && ck_has_avx512() != 0 ? 16 : channels % 8 == 0 ? 8 : 1
        let units = planes / unit
        /// Planes [lower, upper) on thread t.
        func run(_ t: Int, _ lower: Int, _ upper: Int) {
            var window = window
            if lower < upper {
                ck_depthwise_conv(x, w, b, y, lower, upper, Int32(channels), &window, activation, scratch + t * planeScratch)
            }
        }
        if threads == 2 {
            balance.run(count: units, granularity: 1) { t, range in run(t, range.lowerBound * unit, range.upperBound * unit) }
            return
        }
        DispatchQueueHelper.run(threads) { t in run(t, units * t / threads * unit, units * (t + 1) / threads * unit) }
    }

    /// Floats of scratch per depthwise thread (the zero-padded plane and its slack).
    static func depthwiseScratch(_ g: ConvGeometry) -> Int {
        var window = g.window.ck
        return ck_depthwise_scratch_floats(&window)
    }
}
