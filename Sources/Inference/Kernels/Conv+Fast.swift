import CKernels
import Tensor

/// The fast convolution, chosen once per node from the geometry:
/// - pointwise (1x1, stride 1, no padding): one sgemm per image, W[M×C] · X[C×HW] (images
///   split across threads when the batch allows, else output channels);
/// - depthwise (group == C == M): a direct kernel over zero-padded planes, channels split
///   across threads;
/// - otherwise im2col + GEMM per image and group, in bands of output pixels (`ColumnBands`,
///   Conv+Im2col.swift: ~512 pixels, so the column buffer is still in L2 when the GEMM reads
///   it), each thread the bands of its own pixels (`pixelRanges`). On AVX2+FMA the GEMM is
///   the packed 6×16 kernel of ck_pointwise.h (weights packed at load, columns read in place,
///   bias and activation fused into the store); otherwise OpenBLAS sgemm, then bias and
///   activation in one pass over each output channel (the epilogue). On AVX-512 the packed
///   kernel gathers its strips from the input itself and no bands are written
///   (`implicitPacked`, ck_implicit_conv).
final class ConvKernel: Kernel {
    let g: ConvGeometry
    /// [M, C/group, kH, kW] row-major, as ONNX stores them; empty on the packed path (which
    /// needs only `packed`), so the weights are not held twice.
    let weights: [Float]
    let bias: [Float]  // [M]
    let activation: Activation
    /// On the packed path (`usesPackedGEMM`): each group's [M/group × patchSize] weights packed
    /// by ck_pointwise_pack, `packedGroupStride` floats apart; else empty.
    let packed: AlignedFloats
    let packedGroupStride: Int
    /// The im2col bands and their column buffer (unused on the pointwise / depthwise paths).
    let bands: ColumnBands
    /// Each thread's output pixels of one image (`pixelRanges`), nil when the plane is too
    /// small to share that way; computed once here (run() is the hot path).
    let pixelRanges: [Range<Int>]?
    let scratchCount: Int
    /// Threads the depthwise path splits planes over (fixed here: its scratch is sized for it).
    let threads: Int
    /// On the packed path, whether the GEMM gathers its strips straight from the input
    /// (`implicitPacked`: no column buffers in scratch) instead of im2col bands: where the CPU
    /// runs AVX-512, unless a test forced a band size. The bands stay the AVX2 path.
    let gathersColumns: Bool
    /// Where two threads cut one image's pixels or depthwise planes (learned; see SplitBalance).
    let balance = SplitBalance()

    /// Upper bound on one im2col buffer (16 MB), so that huge patches do not double peak memory.
    static let maxColumnFloats = 4 << 20

    var usesPackedGEMM: Bool { packed.count > 0 }

    // Every patch size takes the packed kernel on AVX2+FMA. Until its narrow tail columns
    // (pointwise.c) OpenBLAS won above K = 1152 — the 1-column tail of a 7×7 plane cost ~60 %
    // of a whole strip; since then ResNet-50's 512×4608×49 layer runs 4.1 → 3.5 ms and
    // 256×2304×196 3.4 → 3.3 ms, AlexNet's conv2 (K = 1200) the same (one thread, CPU time).

    /// - Parameter bandPixels: output pixels per im2col band; nil = `ColumnBands`' default.
    /// - Parameter packedGEMM: the im2col GEMM on the packed AVX2 kernel (true) or OpenBLAS
    ///   (false); nil = packed when this CPU runs AVX2+FMA. Tests force either.
    init(
        geometry: ConvGeometry, weights: [Float], bias: [Float], activation: Activation, bandPixels forcedBand: Int? = nil,
        packedGEMM: Bool? = nil
    ) {
        g = geometry; self.bias = bias; self.activation = activation
        let w = geometry.window
        threads = max(1, Parallel.threads)
        let im2colPath = !geometry.isDepthwise && !geometry.isPointwise
        if im2colPath && (packedGEMM ?? (ck_has_avx2_fma() != 0)) {
            let (mg, k) = (geometry.outChannelsPerGroup, geometry.patchSize)
            let stride = ck_pointwise_packed_floats(Int32(mg), Int32(k))
            packedGroupStride = stride
            packed = AlignedFloats(count: geometry.group * stride) { buffer in
                weights.withUnsafeBufferPointer { wp in
                    for group in 0..<geometry.group {
                        ck_pointwise_pack(wp.baseAddress! + group * mg * k, Int32(mg), Int32(k), buffer + group * stride)
                    }
                }
            }
            self.weights = []
        } else {
            packedGroupStride = 0
            packed = AlignedFloats(count: 0) { _ in }
            self.weights = weights
        }
        gathersColumns = packed.count > 0 && forcedBand == nil && InstructionSet.hasAVX512
        pixelRanges = ConvKernel.pixelRanges(pixels: w.outH * w.outW, threads: threads)
        bands = ColumnBands(
            pixels: w.outH * w.outW, patchSize: geometry.patchSize, maxColumnFloats: ConvKernel.maxColumnFloats,
            forcedPixels: forcedBand)
        if geometry.isDepthwise {
            scratchCount = ConvKernel.depthwiseScratch(geometry) * threads
        } else if geometry.isPointwise || gathersColumns {
            scratchCount = 0
        } else {
            // One column buffer per thread when whole images or bands go to threads.
            scratchCount = bands.bufferFloats * (ConvKernel.threadsOwnBands(geometry, bands, threads) ? threads : 1)
        }
    }

    func run(inputs: [UnsafePointer<Float>?], outputs: [UnsafeMutablePointer<Float>], scratch: UnsafeMutablePointer<Float>) {
        guard let x = inputs[0] else { return }
        let y = outputs[0]
        if usesPackedGEMM {
            bias.withUnsafeBufferPointer { bp in im2colPacked(x, packed.base, bp.baseAddress!, y, scratch) }
            return
        }
        weights.withUnsafeBufferPointer { wp in
            bias.withUnsafeBufferPointer { bp in
                let w = wp.baseAddress!, b = bp.baseAddress!
                if g.isDepthwise {
                    depthwise(x, w, b, y, scratch)
                } else if g.isPointwise {
                    pointwise(x, w, b, y)
                } else {
                    im2colGemm(x, w, b, y, scratch)
                }
            }
        }
    }

    /// Bias + activation over every output channel of one image.
    @inline(__always)
    private func epilogue(_ y: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>) {
        let plane = g.window.outH * g.window.outW
        let activation = self.activation
        Parallel.forEachChunk(g.outChannels, work: g.outChannels * plane) { range in
            for m in range { activation.apply(y + m * plane, plane, bias: b[m]) }
        }
    }

    private func pointwise(
        _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>
    ) {
        let hw = g.window.inH * g.window.inW
        let (cg, mg) = (g.inChannelsPerGroup, g.outChannelsPerGroup)
        let activation = self.activation
        let t = Parallel.threads
        if g.batch >= t && t > 1 {
            // Whole images per thread: one dispatch per layer, each image's input and output
            // stay in that core's cache, OpenBLAS single-threaded inside.
            let (batch, group, inC, outC) = (g.batch, g.group, g.inChannels, g.outChannels)
            DispatchQueueHelper.run(t) { i in
                for n in (batch * i / t)..<(batch * (i + 1) / t) {
                    for gi in 0..<group {
                        let xi = x + (n * inC + gi * cg) * hw
                        let yi = y + (n * outC + gi * mg) * hw
                        BLAS.sgemm(m: mg, n: hw, k: cg, a: w + gi * mg * cg, lda: cg, b: xi, ldb: hw, c: yi, ldc: hw)
                        for m in 0..<mg { activation.apply(yi + m * hw, hw, bias: b[gi * mg + m]) }
                    }
                }
            }
            return
        }
        for n in 0..<g.batch {
            for group in 0..<g.group {
                let xi = x + (n * g.inChannels + group * cg) * hw
                let yi = y + (n * g.outChannels + group * mg) * hw
                let bi = b + group * mg
                Parallel.sgemm(m: mg, n: hw, k: cg, a: w + group * mg * cg, lda: cg, b: xi, ldb: hw, c: yi, ldc: hw) { rows in
                    for m in rows { activation.apply(yi + m * hw, hw, bias: bi[m]) }
                }
            }
        }
    }

    /// True when each thread runs whole bands with its own column buffer: whole images per
    /// thread, or each thread its own pixel range of one image (`pixelRanges`).
    static func threadsOwnBands(_ g: ConvGeometry, _ bands: ColumnBands, _ threads: Int) -> Bool {
        threads > 1
            && (g.batch >= threads || (splits(g, threads) && pixelRanges(pixels: bands.pixels, threads: threads) != nil))
    }

    /// Below ~2 MFLOP per image a split costs more in dispatch than it saves.
    static func splits(_ g: ConvGeometry, _ threads: Int) -> Bool {
        threads > 1 && g.outChannelsPerGroup * g.patchSize * g.window.outH * g.window.outW * g.group >= 1 << 20
    }

    /// Pixel ranges of one image for `threads` threads (whole 16-pixel strips), when every
    /// thread gets at least 64 pixels; else nil (7×7 planes).
    ///
    /// Each thread then runs the bands of its own range (im2col into its own buffer, GEMM over
    /// all output channels), so no thread reads a column buffer another one wrote. Splitting
    /// each band's im2col and then its GEMM across the threads (still done for small planes)
    /// has every GEMM read the half of the buffer the other core wrote: when this VM's two
    /// vCPUs sit on different core complexes (core-to-core round trip ~350 ns instead of ~100,
    /// for minutes at a time) ResNet-50's 3×3 stride-2 layers took 3.7 ms (n39, 56×56 → 28×28)
    /// and 2.9 ms (n81) that way, 2.2 and 2.2 in pixel ranges (quiet: 1.96 → 1.71, 1.78 → 1.80).
    /// For 7×7 planes every thread writing the whole band and computing half the output
    /// channels measured worse in both (n143 1.80 → 2.04, 2.68 → 2.94), so those still share.
    static func pixelRanges(pixels: Int, threads t: Int) -> [Range<Int>]? {
        guard pixels >= 64 * t else { return nil }
        let cuts = (0...t).map { i in i == t ? pixels : (pixels * i / t + 8) & ~15 }
        return (0..<t).map { cuts[$0]..<cuts[$0 + 1] }
    }

    /// For every band of every image and group: im2col of the band into a column buffer `col`
    /// (ld `bands.ld`), then `gemm(group, col, yb, pixels, rows)` — yb the band's first output
    /// (row stride outH·outW), `rows` the output channels of the group to compute. Spread over
    /// the threads so that each thread has its own column buffer and reads only what it wrote:
    /// - batch ≥ threads: whole images per thread, `imageDone(n)` on that thread right after
    ///   image n;
    /// - else, when the plane has `pixelRanges`: one dispatch per image, each thread the bands
    ///   of its own pixels with its own buffer;
    /// - else (small planes) one band after another in buffer 0, its im2col split across the
    ///   threads by patch rows, its GEMM by output channels (whole 6-row panels) when there are
    ///   at least 8 per thread;
    /// - one thread, or a layer too small to split: one band after another on the caller.
    /// In the last three, `imageDone(n)` runs on the calling thread once image n is complete.
    private func forEachBand(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ scratch: UnsafeMutablePointer<Float>,
        gemm: (_ group: Int, _ col: UnsafePointer<Float>, _ yb: UnsafeMutablePointer<Float>, _ pixels: Range<Int>, _ rows: Range<Int>) -> Void,
        imageDone: (Int) -> Void = { _ in }
    ) {
        let (batch, groups, bands, t, win) = (g.batch, g.group, self.bands, threads, g.window)
        let (cg, mg, inC, outC, plane) = (g.inChannelsPerGroup, g.outChannelsPerGroup, g.inChannels, g.outChannels, win.outH * win.outW)
        /// One band on this thread; `shared`: the band's im2col split across the threads by
        /// patch rows, its GEMM by output-channel panels (when there are 8 per thread).
        func band(_ n: Int, _ group: Int, _ pixels: Range<Int>, _ col: UnsafeMutablePointer<Float>, _ rows: Range<Int>, shared: Bool = false) {
            let xi = x + (n * inC + group * cg) * win.inH * win.inW
            ConvKernel.im2col(xi, channels: cg, window: win, pixels: pixels, into: col, ld: bands.ld, parallel: shared)
            let yb = y + (n * outC + group * mg) * plane + pixels.lowerBound
            guard shared && rows.count >= 8 * t else { return gemm(group, col, yb, pixels, rows) }
            DispatchQueueHelper.run(t) { i in
                let part = Parallel.panelRows(rows.count, part: i, of: t)
                if !part.isEmpty { gemm(group, col, yb, pixels, (rows.lowerBound + part.lowerBound)..<(rows.lowerBound + part.upperBound)) }
            }
        }
        /// Bands of at most `bands.bandPixels` over `pixels` (which starts on a strip).
        func bandsOver(_ n: Int, _ group: Int, _ pixels: Range<Int>, _ col: UnsafeMutablePointer<Float>, _ rows: Range<Int>) {
            var start = pixels.lowerBound
            while start < pixels.upperBound {
                let end = min(pixels.upperBound, start + bands.bandPixels)
                band(n, group, start..<end, col, rows)
                start = end
            }
        }
        if t > 1 && batch >= t {
            DispatchQueueHelper.run(t) { i in
                let col = bands.buffer(scratch, i)
                for n in (batch * i / t)..<(batch * (i + 1) / t) {
                    for group in 0..<groups { bandsOver(n, group, 0..<plane, col, 0..<mg) }
                    imageDone(n)
                }
            }
            return
        }
        guard ConvKernel.splits(g, t) else {
            for n in 0..<batch {
                for group in 0..<groups { bandsOver(n, group, 0..<plane, bands.buffer(scratch, 0), 0..<mg) }
                imageDone(n)
            }
            return
        }
        for n in 0..<batch {
            if let ranges = pixelRanges {
                DispatchQueueHelper.run(t) { i in
                    let col = bands.buffer(scratch, i)
                    for group in 0..<groups where !ranges[i].isEmpty { bandsOver(n, group, ranges[i], col, 0..<mg) }
                }
            } else {
                for group in 0..<groups {
                    for index in 0..<bands.count { band(n, group, bands.band(index), bands.buffer(scratch, 0), 0..<mg, shared: true) }
                }
            }
            imageDone(n)
        }
    }

    /// im2col + OpenBLAS sgemm (the portable path), then bias and activation per image.
    private func im2colGemm(
        _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        _ y: UnsafeMutablePointer<Float>, _ scratch: UnsafeMutablePointer<Float>
    ) {
        let (mg, k, ld, plane) = (g.outChannelsPerGroup, g.patchSize, bands.ld, g.window.outH * g.window.outW)
        forEachBand(x, y, scratch, gemm: { group, col, yb, pixels, rows in
            BLAS.sgemm(
                m: rows.count, n: pixels.count, k: k, a: w + (group * mg + rows.lowerBound) * k, lda: k, b: col, ldb: ld,
                c: yb + rows.lowerBound * plane, ldc: plane)
        }, imageDone: { n in
            // Inside a whole-images job this runs serially (a nested split finds the pool busy).
            epilogue(y + n * g.outChannels * plane, b)
        })
    }

    /// im2col + the packed kernel: the same bands and thread splits as `im2colGemm`, with bias
    /// and activation applied as each tile is stored (no epilogue pass).
    private func im2colPacked(
        _ x: UnsafePointer<Float>, _ packed: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        _ y: UnsafeMutablePointer<Float>, _ scratch: UnsafeMutablePointer<Float>
    ) {
        if gathersColumns { return implicitPacked(x, b, y) }
        let (mg, k, ld, plane) = (g.outChannelsPerGroup, g.patchSize, bands.ld, g.window.outH * g.window.outW)
        let (stride, act) = (packedGroupStride, activation.ck)
        /// Rows and columns of one band's GEMM; a 0 from the kernel means the ISA was forced
        /// portable after this kernel was built (tests only): poison the band so it shows.
        func gemm(_ group: Int, _ col: UnsafePointer<Float>, _ yb: UnsafeMutablePointer<Float>, n: Int, rows: Range<Int>, columns: Range<Int>) {
            let ok = ck_pointwise_conv(
                packed + group * stride, b + group * mg, nil, col, yb, Int32(mg), Int32(k), Int32(ld), Int32(plane),
                Int32(rows.lowerBound), Int32(rows.upperBound), Int32(columns.lowerBound), Int32(columns.upperBound), act)
            if ok == 0 { for m in 0..<mg { (yb + m * plane).update(repeating: .nan, count: n) } }
        }
        forEachBand(x, y, scratch) { group, col, yb, pixels, rows in
            gemm(group, col, yb, n: pixels.count, rows: rows, columns: 0..<pixels.count)
        }
    }
}

extension ConvKernel {
    /// Scratch floats `packedPixels` needs for its column buffer: one band's (`bands`), or none
    /// where the GEMM gathers its strips itself.
    var packedColumnFloats: Int { gathersColumns ? 0 : bands.bufferFloats }

    /// Output channels `rows` of output pixels `pixels` (p = oy·out_w + ox of `window`) of one
    /// image and group, on the packed GEMM: `x` the group's input channels, `y` its first
    /// output channel, channel planes `window.out_h · out_w` apart. `window` is this kernel's
    /// own (`g.window.ck`) or a band of it — ConvMaxPoolKernel passes out_h its band buffer's
    /// rows and pad_top moved up by the band's first row, so the band is computed straight into
    /// that buffer. Where `gathersColumns` (AVX-512) ck_implicit_conv gathers each strip from
    /// the input; else `bands.bandPixels` pixels at a time are im2col'd into the column buffer
    /// in `columns` (`packedColumnFloats` floats, this thread's; nil when that is 0) and
    /// multiplied. A fused kernel calling this follows ConvKernel's choice of path and band cut
    /// instead of restating them. (ConvKernel's own im2col path keeps `forEachBand`: small
    /// planes there split one band's im2col and GEMM across the threads, which a call per
    /// thread cannot.) Returns false where the packed kernel does not run (the ISA was capped
    /// after this kernel was built: tests only); the caller poisons its output.
    func packedPixels(
        _ x: UnsafePointer<Float>, group: Int, window: inout ck_window, pixels: Range<Int>, rows: Range<Int>,
        bias: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, columns: UnsafeMutablePointer<Float>?
    ) -> Bool {
        let (cg, mg, k) = (Int32(g.inChannelsPerGroup), Int32(g.outChannelsPerGroup), Int32(g.patchSize))
        let (weights, b, act) = (packed.base + group * packedGroupStride, bias + group * Int(mg), activation.ck)
        let (row0, row1) = (Int32(rows.lowerBound), Int32(rows.upperBound))
        if gathersColumns {
            return ck_implicit_conv(weights, b, x, cg, &window, y, mg, row0, row1, pixels.lowerBound, pixels.upperBound, act) != 0
        }
        guard let columns else { preconditionFailure("packedPixels: the im2col path needs a column buffer") }
        let (col, ld, plane) = (bands.buffer(columns, 0), Int32(bands.ld), window.out_h * window.out_w)
        var start = pixels.lowerBound
        while start < pixels.upperBound {
            let end = min(pixels.upperBound, start + bands.bandPixels)
            ck_im2col(x, cg, &window, start, end, 0, k, col, Int(ld))
            let ok = ck_pointwise_conv(weights, b, nil, col, y + start, mg, k, ld, plane, row0, row1, 0, Int32(end - start), act)
            if ok == 0 { return false }
            start = end
        }
        return true
    }

    /// The packed kernel over a column matrix that is never written (ck_implicit_conv, AVX-512):
    /// each k-block's 32-pixel strip is gathered from the input into L1 as the panels need it.
    /// The im2col path wrote the whole matrix first (for ResNet-50's 3×3 stride-2 layers 0.9 to
    /// 1.8 MB per image, past L1 and much of L2) and the GEMM read it back. Measured one thread,
    /// hot caches (benchmarks/im2col, bands → implicit): ResNet-50 n39 2.11 → 1.78 ms, n81
    /// 1.99 → 1.71, n143 2.28 → 1.99, AlexNet conv1 1.85 → 1.63, Inception 5×5 1.09 → 0.86.
    /// Threads take whole images when the batch allows. In one image they split the pixels (each
    /// thread reads all the weights, gathers its own strips) or the output channels (each reads
    /// half the weights and gathers every strip): channels when there are at least half as many
    /// as pixels, where the weights outweigh the gathering. Two threads, wall clock, min of 6
    /// (pixels → channels): ResNet-50 n81 (256 channels, 196 pixels) 1.88 → 1.71 ms, Inception
    /// v1 n103 (128, 169) 0.30 → 0.28; but n61 (64, 169) 0.129 → 0.134 and ResNet-50 n39
    /// (128, 784) and the stem (64, 12544) lose, so they keep pixel ranges.
    fileprivate func implicitPacked(_ x: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        let win = g.window
        let (batch, groups, t, cg, mg) = (g.batch, g.group, threads, g.inChannelsPerGroup, g.outChannelsPerGroup)
        let (inC, outC, inPlane, plane) = (g.inChannels, g.outChannels, win.inH * win.inW, win.outH * win.outW)
        let ckWindow = win.ck
        /// Output channels `rows` of pixels `pixels` of image n, group `group` (poisoned where
        /// the kernel does not run).
        func conv(_ n: Int, _ group: Int, _ pixels: Range<Int>, _ rows: Range<Int>) {
            var window = ckWindow  // each call (thread) passes its own copy
            let yg = y + (n * outC + group * mg) * plane
            let ok = packedPixels(
                x + (n * inC + group * cg) * inPlane, group: group, window: &window, pixels: pixels, rows: rows, bias: b, into: yg,
                columns: nil)
            if !ok { for m in rows { (yg + m * plane + pixels.lowerBound).update(repeating: .nan, count: pixels.count) } }
        }
        if t > 1 && batch >= t {
            DispatchQueueHelper.run(t) { i in
                for n in (batch * i / t)..<(batch * (i + 1) / t) { for group in 0..<groups { conv(n, group, 0..<plane, 0..<mg) } }
            }
            return
        }
        for n in 0..<batch {
            if !ConvKernel.splits(g, t) {
                for group in 0..<groups { conv(n, group, 0..<plane, 0..<mg) }
            } else if pixelRanges != nil, mg < plane / 2 || mg < 8 * t, t == 2 {
                // Whole 32-pixel strips (see PointwiseConvKernel): the output does not depend on the cut.
                balance.run(count: plane, granularity: 32) { _, pixels in
                    for group in 0..<groups { conv(n, group, pixels, 0..<mg) }
                }
            } else if let ranges = pixelRanges, mg < plane / 2 || mg < 8 * t {
                DispatchQueueHelper.run(t) { i in
                    for group in 0..<groups where !ranges[i].isEmpty { conv(n, group, ranges[i], 0..<mg) }
                }
            } else if mg >= 8 * t {
                DispatchQueueHelper.run(t) { i in
                    let part = Parallel.panelRows(mg, part: i, of: t)
                    for group in 0..<groups where !part.isEmpty { conv(n, group, 0..<plane, part) }
                }
            } else {
                for group in 0..<groups { conv(n, group, 0..<plane, 0..<mg) }
            }
        }
    }
}

/// Test access: the same kernel (built from the same `weights`) with a forced band size in
/// output pixels (exercises bands that start and end inside output rows).
enum ConvKernelTestHook {
    static func banded(_ kernel: ConvKernel, weights: [Float], pixels: Int) -> ConvKernel {
        ConvKernel(
            geometry: kernel.g, weights: weights, bias: kernel.bias, activation: kernel.activation, bandPixels: pixels,
            packedGEMM: kernel.usesPackedGEMM)
    }
}
