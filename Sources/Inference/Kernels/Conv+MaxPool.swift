import CKernels

/// A convolution and the max pooling that follows it (`ConvMaxPoolFusion`) as one step, in
/// bands of output rows: each band of the convolution's output (all its channels, a few
/// rows) is computed into a buffer that stays in L2 and pooled from there, so the full
/// convolution output — the largest tensor of these networks, 3.1–3.2 MB for the stems of
/// SqueezeNet (64 × 111 × 111), ResNet-50, DenseNet-121 and Inception v1 (64 × 112 × 112) —
/// is never written to memory and read back. Two threads split the pooled rows, each
/// convolving the rows its own pooling reads (one row at the seam twice), where the split
/// step pair had the pooling read half of each plane from the other core's cache (the
/// convolution splits pixels, the pooling planes: see `PoolKernel.maxPoolC`).
///
/// The convolution is ConvKernel's packed GEMM (one group; the stems' shapes) run on a window
/// whose output is the band: `out_h` the band's capacity in rows and `pad_top` moved up by the
/// band's first row, so its planes lie `bandConvRows` rows apart in the buffer, and handed to
/// `ConvKernel.packedPixels`, which runs it as ConvKernel runs its own pixels: on AVX-512 the
/// GEMM gathers its strips from the image (ck_implicit_conv); on AVX2 the columns are written
/// out first, ConvKernel's band of ~512 pixels at a time, into this thread's column buffer
/// after its pool scratch, then multiplied into the band (session 19, the AVX2 EPYC:
/// SqueezeNet's stem + pool 0.78 ms against 0.83–0.87 for the two steps, one thread, thread
/// CPU time; whole passes against the unfused build 1.053× the speed at two threads, quartiles
/// 1.04–1.07, and 1.027× at one (benchmarks/turns.py --against); ResNet-50's 7×7 stem the same
/// either way, 3.24–3.27 ms). Consecutive bands of a thread overlap by kernel − stride rows
/// of the convolution (one for 3×3 stride 2); those are moved to the top of the buffer, not
/// computed again. The pooling is ck_max_pool on each band plane, with the window's top and
/// bottom padding restated for the band.
///
/// Measured on SqueezeNet (its stem and pool were 0.5 + 0.19 ms of ~6 ms a pass on one
/// thread), one process alternating pass by pass between this kernel and the two steps it
/// replaces (conv into a full buffer, then PoolKernel), 600–1000 passes each: median pass
/// 7.44 vs 7.68 ms on one thread (0.97), 4.23 vs 4.32 ms on two (0.98); quartiles the same
/// way. ResNet-50's stem is a smaller share: 41.27 vs 41.22 ms on two threads (no change).
/// The conv in bands alone (C harness, 17-row bands against the whole plane) ran as fast.
///
/// Where the convolution has few input channels and its output channels fill whole vectors
/// (`ck_stem_applies`: the stems above, on AVX-512 only), `ConvOp.makeKernel` takes the stem kernel
/// instead (`StemMaxPoolKernel`, session 18): output channels in the vector lanes, each input
/// value one broadcast, each row folded straight into the pooled rows' maxima. The bands spent
/// 30 % of their convolution gathering patch rows and as long again pooling from L2; against
/// them the stem kernel ran SqueezeNet's stem 0.76–0.78 of the time and ResNet-50's 0.76–0.77
/// (C harness, one thread, alternating in one process). This kernel runs the rest (output
/// channels not a multiple of 16, and every stem on AVX2, where a port of the stem kernel
/// measured no faster: docs/engine-log.md, session 19) and is the tests' second opinion on the stem kernel.
final class ConvMaxPoolKernel: Kernel {
    /// The convolution (its packed weights, bias, activation and geometry).
    let conv: ConvKernel
    /// The pooling window over the convolution's output.
    let pool: Window
    /// Pooled rows per band, and the convolution rows a band needs at most.
    let bandPooledRows: Int
    let bandConvRows: Int
    /// Floats of ck_max_pool scratch after each thread's band buffer.
    let poolScratchFloats: Int
    let threads: Int
    let scratchCount: Int
    // Halves, not a learned cut (SplitBalance): each thread's bands start at its first pooled
    // row, so a moving cut would move the convolution's strips and change the output's last bits.

    /// Bytes of one band of convolution output (all channels): half an L2 of the AVX-512
    /// machines this was measured on (1–2 MB), room left for the input rows the band's strips
    /// gather from and the packed weights. On the AVX2 EPYC (512 KB L2) it is the whole L2 and
    /// the column buffer comes on top; a smaller band there is unmeasured (session 19's note).
    static let bandBytes = 512 << 10

    /// Whether `ConvOp.makeKernel` would run this convolution on ConvKernel's packed GEMM
    /// (not pointwise, Winograd, lanes or depthwise; AVX2 or AVX-512; one group) and the pooling is a
    /// downsampling window this kernel's bands handle (stride ≥ 2 ≤ kernel, no dilation).
    static func applies(conv g: ConvGeometry, pool w: Window) -> Bool {
        ck_has_avx2_fma() != 0 && g.group == 1 && !g.isDepthwise && !g.isPointwise
            && !PointwiseConvKernel.applies(to: g) && !LanesWindowConvKernel.applies(to: g) && !WinogradConvKernel.applies(to: g)
            && w.strideH >= 2 && w.kernelH >= w.strideH && w.dilationH == 1 && w.dilationW == 1
            && w.inH == g.window.outH && w.inW == g.window.outW
    }

    /// - Parameter bandPooledRows: pooled rows per band; nil = as many as `bandBytes` holds
    ///   (tests force small bands so that many seams and carried rows occur).
    init(geometry: ConvGeometry, weights: [Float], bias: [Float], activation: Activation, pool: Window, bandPooledRows forced: Int? = nil) {
        conv = ConvKernel(geometry: geometry, weights: weights, bias: bias, activation: activation)
        precondition(conv.usesPackedGEMM, "ConvMaxPoolKernel needs ConvKernel's packed GEMM (see applies)")
        self.pool = pool
        threads = max(1, Parallel.threads)
        let rowBytes = geometry.outChannels * geometry.window.outW * MemoryLayout<Float>.size
        let convRows = { (pooled: Int) in (pooled - 1) * pool.strideH + pool.kernelH }
        var pooled = max(1, min(pool.outH, forced ?? pool.outH))
        while forced == nil && pooled > 1 && convRows(pooled) * rowBytes > ConvMaxPoolKernel.bandBytes { pooled -= 1 }
        bandPooledRows = pooled
        bandConvRows = min(geometry.window.outH, convRows(pooled))
        // The largest band window ck_max_pool will see: every band has at most bandConvRows
        // input rows and bandPooledRows output rows; padding at most the window's plus a
        // window's height (ceil_mode windows reaching past the end).
        var probe = pool.ck
        probe.in_h = Int32(bandConvRows); probe.out_h = Int32(bandPooledRows)
        probe.pad_bottom = Int32(pool.padBottom + pool.kernelH)
        poolScratchFloats = ck_max_pool_scratch_floats(&probe)
        let bandFloats = geometry.outChannels * bandConvRows * geometry.window.outW
        scratchCount = (bandFloats + poolScratchFloats + conv.packedColumnFloats) * threads
    }

    func run(inputs: [UnsafePointer<Float>?], outputs: [UnsafeMutablePointer<Float>], scratch: UnsafeMutablePointer<Float>) {
        guard let x = inputs[0] else { return }
        let y = outputs[0]
        let (batch, outH, t) = (conv.g.batch, pool.outH, min(Parallel.threads, threads))
        let perThread = scratchCount / threads
        conv.bias.withUnsafeBufferPointer { bp in
            let b = bp.baseAddress!
            if t > 1 && batch >= t {
                DispatchQueueHelper.run(t) { i in
                    for n in (batch * i / t)..<(batch * (i + 1) / t) { pooledRows(n, 0..<outH, x, b, y, scratch + i * perThread) }
                }
            } else if t > 1 && outH >= 2 * t && ConvKernel.splits(conv.g, t) {
                for n in 0..<batch {
                    DispatchQueueHelper.run(t) { i in
                        pooledRows(n, (outH * i / t)..<(outH * (i + 1) / t), x, b, y, scratch + i * perThread)
                    }
                }
            } else {
                for n in 0..<batch { pooledRows(n, 0..<outH, x, b, y, scratch) }
            }
        }
    }

    /// Pooled rows `range` of image n, band by band, in `buffer` (this thread's scratch).
    private func pooledRows(
        _ n: Int, _ range: Range<Int>, _ x: UnsafePointer<Float>, _ bias: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
        _ buffer: UnsafeMutablePointer<Float>
    ) {
        let g = conv.g, cw = g.window, p = pool
        let (m, convW) = (g.outChannels, cw.outW)
        let planeStride = bandConvRows * convW  // a channel's rows in the band buffer
        let poolScratch = buffer + m * planeStride
        let image = x + n * g.inChannels * cw.inH * cw.inW
        let columns = poolScratch + poolScratchFloats  // conv.packedColumnFloats (0 when the GEMM gathers)
        var window = cw.ck
        window.out_h = Int32(bandConvRows)
        var held = 0..<0  // convolution rows in the buffer (row held.lowerBound at its top)
        var a0 = range.lowerBound
        while a0 < range.upperBound {
            let a1 = min(range.upperBound, a0 + bandPooledRows)
            // Convolution rows the pooled rows' windows cover (before clipping to the plane).
            let top = a0 * p.strideH - p.padTop, bottom = (a1 - 1) * p.strideH - p.padTop + p.kernelH
            let c0 = max(0, top), c1 = min(cw.outH, bottom)
            var first = c0
            if held.contains(c0) {
                // Rows c0 ..< held.upperBound were computed for the previous band: move them to
                // the top of each plane (forwards: the destination lies before the source).
                let keep = (min(held.upperBound, c1) - c0) * convW, shift = (c0 - held.lowerBound) * convW
                if shift > 0 {
                    for c in 0..<m {
                        let plane = buffer + c * planeStride
                        for i in 0..<keep { plane[i] = plane[i + shift] }
                    }
                }
                first = min(held.upperBound, c1)
            }
            if first < c1 {
                window.pad_top = Int32(cw.padTop - c0 * cw.strideH)
                let pixels = ((first - c0) * convW)..<((c1 - c0) * convW)
                let ok = conv.packedPixels(
                    image, group: 0, window: &window, pixels: pixels, rows: 0..<m, bias: bias, into: buffer, columns: columns)
                if !ok {  // the ISA was capped after this kernel was built (tests only): poison
                    for c in 0..<m { (y + (n * m + c) * p.outH * p.outW).update(repeating: .nan, count: p.outH * p.outW) }
                    return
                }
            }
            held = c0..<c1
            var band = p.ck
            band.in_h = Int32(c1 - c0); band.out_h = Int32(a1 - a0)
            band.pad_top = Int32(c0 - top); band.pad_bottom = Int32(max(0, bottom - c1))
            for c in 0..<m {
                ck_max_pool(buffer + c * planeStride, y + ((n * m + c) * p.outH + a0) * p.outW, 0, 1, &band, poolScratch)
            }
            a0 = a1
        }
    }
}
