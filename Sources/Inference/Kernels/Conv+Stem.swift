import CKernels

/// A convolution over an image's few channels and the max pooling after it
/// (`ConvMaxPoolFusion`) on the stem kernel (Sources/CKernels/stem.c): the output channels in
/// the vector lanes, each input value one broadcast, rows folded into the pooling as they are
/// computed. `ConvOp.makeKernel` takes it where `ck_stem_applies`, else ConvMaxPoolKernel's
/// bands.
///
/// Only with a pooling: a stem without one (EfficientNet-Lite0's, VGG-19's first layer) run
/// here with a 1×1 stride-1 window, each row merely transposed into planes, was slower than
/// the implicit GEMM (C harness, one thread, alternating: 3 → 32 channels stride 2 1.09×,
/// 3 → 64 stride 2 1.42×, stride 1 1.8×): writing the whole output through 16 × 16 transposes
/// costs more than the gathers it saves; with the pooling only a quarter of it is written.
///
/// Threads: whole images each when the batch allows, else each image's pooled rows cut
/// between them (each computes the convolution rows its own rows need, the one at the seam
/// twice). The outputs do not depend on where the cut lies, so two threads cut where
/// SplitBalance learns.
final class StemMaxPoolKernel: Kernel {
    let g: ConvGeometry
    /// The pooling window over the convolution's output.
    let pool: ck_window
    /// W as ck_stem_pack lays it out: [taps][M].
    let packed: [Float]
    let bias: [Float]
    let activation: ck_activation
    let threads: Int
    let scratchPerThread: Int
    let balance = SplitBalance()

    /// nil where ck_stem_applies says the kernel does not take this convolution and pooling.
    init?(geometry g: ConvGeometry, weights: [Float], bias: [Float], activation: Activation, pool window: Window) {
        let pool = window.ck
        var convWindow = g.window.ck, poolWindow = pool
        let (channels, m) = (Int32(g.inChannels), Int32(g.outChannels))
        guard g.group == 1, ck_stem_applies(channels, m, &convWindow, &poolWindow) != 0 else { return nil }
        let taps = Int32(g.inChannels * g.window.kernelH * g.window.kernelW)
        var packed = [Float](repeating: 0, count: ck_stem_packed_floats(m, taps))
        ck_stem_pack(weights, m, taps, &packed)
        self.g = g; self.pool = pool; self.packed = packed; self.bias = bias; self.activation = activation.ck
        threads = max(1, Parallel.threads)
        var probe = ck_stem(packed: nil, bias: nil, channels: channels, m: m, conv: convWindow, pool: poolWindow, act: self.activation)
        scratchPerThread = ck_stem_scratch_floats(&probe)
    }

    var scratchCount: Int { scratchPerThread * threads }

    func run(inputs: [UnsafePointer<Float>?], outputs: [UnsafeMutablePointer<Float>], scratch: UnsafeMutablePointer<Float>) {
        guard let x = inputs[0] else { return }
        let (y, cw) = (outputs[0], g.window)
        let (batch, outH, t) = (g.batch, Int(pool.out_h), min(Parallel.threads, threads))
        let (imageIn, imageOut) = (g.inChannels * cw.inH * cw.inW, g.outChannels * outH * Int(pool.out_w))
        packed.withUnsafeBufferPointer { wp in
            bias.withUnsafeBufferPointer { bp in
                let stem = ck_stem(
                    packed: wp.baseAddress, bias: bp.baseAddress, channels: Int32(g.inChannels), m: Int32(g.outChannels), conv: cw.ck,
                    pool: pool, act: activation)
                /// Pooled rows `rows` of image n in scratch slot `slot`; a 0 from the kernel means
                /// the ISA was capped after this kernel was built (tests only): poison the image.
                func rows(_ n: Int, _ rows: Range<Int>, slot: Int) {
                    var s = stem
                    let ok = ck_stem_run(
                        &s, x + n * imageIn, y + n * imageOut, Int32(rows.lowerBound), Int32(rows.upperBound), scratch + slot * scratchPerThread)
                    if ok == 0 { (y + n * imageOut).update(repeating: .nan, count: imageOut) }
                }
                if t > 1 && batch >= t {
                    DispatchQueueHelper.run(t) { i in
                        for n in (batch * i / t)..<(batch * (i + 1) / t) { rows(n, 0..<outH, slot: i) }
                    }
                } else if t == 2 && outH >= 2 {
                    for n in 0..<batch { balance.run(count: outH, granularity: 1) { part, range in rows(n, range, slot: part) } }
                } else if t > 2 && outH >= t {
                    for n in 0..<batch {
                        DispatchQueueHelper.run(t) { i in rows(n, (outH * i / t)..<(outH * (i + 1) / t), slot: i) }
                    }
                } else {
                    for n in 0..<batch { rows(n, 0..<outH, slot: 0) }
                }
            }
        }
    }
}
