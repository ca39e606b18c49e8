import CKernels
import Tensor

/// The fast convolution, chosen once per node from the geometry:
/// - pointwise (1x1, stride 1, no padding): one sgemm per image, W[M×C] · X[C×HW] (images
///   split across threads when the batch allows, else output channels);
/// - depthwise (group == C == M): a direct kernel over zero-padded planes, channels split
///   across threads;
/// - otherwise im2col + GEMM per image and group, in bands of output rows so the column
///   buffer stays under `maxColumnFloats`. On AVX2+FMA the GEMM is the packed 6×16 kernel of
///   ck_pointwise.h (weights packed at load, columns read in place, bias and activation fused
///   into the store); otherwise OpenBLAS sgemm, then bias and activation in one pass over
///   each output channel (the epilogue).
final class ConvKernel: Kernel {
    let g: ConvGeometry
    /// [M, C/group, kH, kW] row-major, as ONNX stores them; empty on the packed path (which
    /// needs only `packed`), so the weights are not held twice.
    let weights: [Float]
    let bias: [Float]  // [M]
    let activation: Activation
    /// On the packed path (`usesPackedGEMM`): each group's [M/group × patchSize] weights packed
    /// by ck_pointwise_pack, `packedGroupStride` floats apart; else empty.
    let packed: [Float]
    let packedGroupStride: Int
    /// Output rows per im2col band.
    let bandRows: Int
    let scratchCount: Int
    /// Threads the depthwise path splits planes over (fixed here: its scratch is sized for it).
    let threads: Int

    /// Upper bound on the im2col buffer (16 MB): large enough that sgemm runs on wide
    /// matrices (≥ 4k columns on VGG's first layers), small enough not to double peak memory.
    static let maxColumnFloats = 4 << 20

    var usesPackedGEMM: Bool { !packed.isEmpty }

    /// Largest patch size (GEMM K) that takes the packed kernel by default; above it OpenBLAS
    /// (which packs the columns too) was faster even with the kernel's k-blocking. Single
    /// thread, CPU time, GFLOP/s OpenBLAS + epilogue vs packed (M×K×N): 32×1152×49 59 vs 62,
    /// 128×1152×196 78 vs 80, 96×363×3025 76 vs 75; but 128×1200×729 78 vs 73 (AlexNet conv2),
    /// 256×2304×196 76 vs 70, 512×4608×49 60 vs 55 (ResNet's last 3×3 layers).
    static let maxPackedPatch = 1152

    /// - Parameter bandRows: output rows per im2col band; nil = as many as `maxColumnFloats` allows.
    /// - Parameter packedGEMM: the im2col GEMM on the packed AVX2 kernel (true) or OpenBLAS
    ///   (false); nil = packed when this CPU runs AVX2+FMA. Tests force either.
    init(
        geometry: ConvGeometry, weights: [Float], bias: [Float], activation: Activation, bandRows forcedBand: Int? = nil,
        packedGEMM: Bool? = nil
    ) {
        g = geometry; self.bias = bias; self.activation = activation
        let w = geometry.window
        threads = max(1, Parallel.threads)
        let im2colPath = !geometry.isDepthwise && !geometry.isPointwise
        if im2colPath && (packedGEMM ?? (ck_has_avx2_fma() != 0 && geometry.patchSize <= ConvKernel.maxPackedPatch)) {
            let (mg, k) = (geometry.outChannelsPerGroup, geometry.patchSize)
            let stride = ck_pointwise_packed_floats(Int32(mg), Int32(k))
            packedGroupStride = stride
            packed = [Float](unsafeUninitializedCapacity: geometry.group * stride) { buffer, initialized in
                weights.withUnsafeBufferPointer { wp in
                    for group in 0..<geometry.group {
                        ck_pointwise_pack(wp.baseAddress! + group * mg * k, Int32(mg), Int32(k), buffer.baseAddress! + group * stride)
                    }
                }
                initialized = geometry.group * stride
            }
            self.weights = []
        } else {
            packedGroupStride = 0
            packed = []
            self.weights = weights
        }
        if geometry.isDepthwise {
            bandRows = w.outH
            scratchCount = ConvKernel.depthwiseScratch(geometry) * threads
        } else if geometry.isPointwise {
            bandRows = w.outH
            scratchCount = 0
        } else {
            let rows = forcedBand ?? max(1, min(w.outH, ConvKernel.maxColumnFloats / max(1, geometry.patchSize * w.outW)))
            bandRows = rows
            // One column buffer per thread when whole images go to threads (batch >= threads).
            let buffers = geometry.batch >= threads && threads > 1 ? threads : 1
            scratchCount = geometry.patchSize * rows * w.outW * buffers
        }
    }

    func run(inputs: [UnsafePointer<Float>?], outputs: [UnsafeMutablePointer<Float>], scratch: UnsafeMutablePointer<Float>) {
        guard let x = inputs[0] else { return }
        let y = outputs[0]
        if usesPackedGEMM {
            packed.withUnsafeBufferPointer { pp in
                bias.withUnsafeBufferPointer { bp in im2colPacked(x, pp.baseAddress!, bp.baseAddress!, y, scratch) }
            }
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

    private func im2colGemm(
        _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        _ y: UnsafeMutablePointer<Float>, _ col: UnsafeMutablePointer<Float>
    ) {
        let win = g.window
        let plane = win.outH * win.outW
        let (cg, mg, k) = (g.inChannelsPerGroup, g.outChannelsPerGroup, g.patchSize)
        let t = threads
        if g.batch >= t && t > 1 {
            // Whole images per thread, each with its own column buffer; everything inside a
            // thread is serial (OpenBLAS single-threaded).
            let colSize = scratchCount / t
            let (batch, groups, inC, outC, activation) = (g.batch, g.group, g.inChannels, g.outChannels, self.activation)
            DispatchQueueHelper.run(t) { i in
                let myCol = col + i * colSize
                for n in (batch * i / t)..<(batch * (i + 1) / t) {
                    for group in 0..<groups {
                        let xi = x + (n * inC + group * cg) * win.inH * win.inW
                        let yi = y + (n * outC + group * mg) * plane
                        self.forEachBand { rows, cols in
                            ConvKernel.im2col(xi, channels: cg, window: win, rows: rows, into: myCol, parallel: false)
                            BLAS.sgemm(
                                m: mg, n: cols, k: k, a: w + group * mg * k, lda: k, b: myCol, ldb: cols,
                                c: yi + rows.lowerBound * win.outW, ldc: plane)
                        }
                    }
                    let yn = y + n * outC * plane
                    for m in 0..<outC { activation.apply(yn + m * plane, plane, bias: b[m]) }
                }
            }
            return
        }
        for n in 0..<g.batch {
            for group in 0..<g.group {
                let xi = x + (n * g.inChannels + group * cg) * win.inH * win.inW
                let yi = y + (n * g.outChannels + group * mg) * plane
                forEachBand { rows, cols in
                    ConvKernel.im2col(xi, channels: cg, window: win, rows: rows, into: col)
                    Parallel.sgemm(
                        m: mg, n: cols, k: k, a: w + group * mg * k, lda: k, b: col, ldb: cols,
                        c: yi + rows.lowerBound * win.outW, ldc: plane)
                }
            }
            epilogue(y + n * g.outChannels * plane, b)
        }
    }

    /// im2col + the packed kernel: the same bands and thread splits as `im2colGemm`, with bias
    /// and activation applied as each tile is stored (no epilogue pass). One image on several
    /// threads splits output channels (whole 6-row panels) when there are at least 8 per
    /// thread, else columns (whole 16-column strips), as `Parallel.sgemm` splits.
    private func im2colPacked(
        _ x: UnsafePointer<Float>, _ packed: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        _ y: UnsafeMutablePointer<Float>, _ col: UnsafeMutablePointer<Float>
    ) {
        let win = g.window
        let plane = win.outH * win.outW
        let (cg, mg, k) = (g.inChannelsPerGroup, g.outChannelsPerGroup, g.patchSize)
        let (batch, groups, inC, outC, stride) = (g.batch, g.group, g.inChannels, g.outChannels, packedGroupStride)
        let act = activation.ck
        let t = threads
        /// Rows and columns of one band's GEMM; a 0 from the kernel means the ISA was forced
        /// portable after this kernel was built (tests only): poison the band so it shows.
        func gemm(_ group: Int, _ cols: UnsafePointer<Float>, _ yb: UnsafeMutablePointer<Float>, n: Int, rows: Range<Int>, columns: Range<Int>) {
            let ok = ck_pointwise_conv(
                packed + group * stride, b + group * mg, nil, cols, yb, Int32(mg), Int32(k), Int32(n), Int32(plane),
                Int32(rows.lowerBound), Int32(rows.upperBound), Int32(columns.lowerBound), Int32(columns.upperBound), act)
            if ok == 0 { for m in 0..<mg { (yb + m * plane).update(repeating: .nan, count: n) } }
        }
        /// Every band of image n's group `group`; `split` runs one band's GEMM over its parts.
        func bands(_ n: Int, _ group: Int, col: UnsafeMutablePointer<Float>, parallel: Bool) {
            let xi = x + (n * inC + group * cg) * win.inH * win.inW
            let yi = y + (n * outC + group * mg) * plane
            forEachBand { rows, cols in
                ConvKernel.im2col(xi, channels: cg, window: win, rows: rows, into: col, parallel: parallel)
                let yb = yi + rows.lowerBound * win.outW
                // Below ~2 MFLOP a split costs more in dispatch than it saves.
                if !parallel || t <= 1 || mg * cols * k < 1 << 20 {
                    gemm(group, col, yb, n: cols, rows: 0..<mg, columns: 0..<cols)
                } else if mg >= 8 * t {
                    let rowsPerPanel = Int(CK_PW_PANEL_ROWS)
                    let panels = (mg + rowsPerPanel - 1) / rowsPerPanel
                    DispatchQueueHelper.run(t) { i in
                        let lower = panels * i / t * rowsPerPanel, upper = min(mg, panels * (i + 1) / t * rowsPerPanel)
                        if lower < upper { gemm(group, col, yb, n: cols, rows: lower..<upper, columns: 0..<cols) }
                    }
                } else {
                    DispatchQueueHelper.run(t) { i in
                        let lower = (cols * i / t) & ~15, upper = i == t - 1 ? cols : (cols * (i + 1) / t) & ~15
                        if lower < upper { gemm(group, col, yb, n: cols, rows: 0..<mg, columns: lower..<upper) }
                    }
                }
            }
        }
        if batch >= t && t > 1 {
            // Whole images per thread, each with its own column buffer.
            let colSize = scratchCount / t
            DispatchQueueHelper.run(t) { i in
                for n in (batch * i / t)..<(batch * (i + 1) / t) {
                    for group in 0..<groups { bands(n, group, col: col + i * colSize, parallel: false) }
                }
            }
            return
        }
        for n in 0..<batch {
            for group in 0..<groups { bands(n, group, col: col, parallel: true) }
        }
    }

    /// Calls `body(rows, columns)` for each band of at most `bandRows` output rows, in order;
    /// `columns` (the band's rows × outW) is the width of the band's im2col matrix.
    @inline(__always)
    private func forEachBand(_ body: (Range<Int>, Int) -> Void) {
        var oy0 = 0
        while oy0 < g.window.outH {
            let oy1 = min(g.window.outH, oy0 + bandRows)
            body(oy0..<oy1, (oy1 - oy0) * g.window.outW)
            oy0 = oy1
        }
    }

    /// Writes the im2col matrix of output rows `rows` for one image and group:
    /// col[(c·kH + ky)·kW + kx][(oy − rows.lower)·outW + ox] = x[c][oy·sH − padTop + ky·dH][ox·sW − padLeft + kx·dW],
    /// zero outside the input. Patch rows are split across threads.
    static func im2col(
        _ x: UnsafePointer<Float>, channels: Int, window w: Window, rows: Range<Int>, into col: UnsafeMutablePointer<Float>,
        parallel: Bool = true
    ) {
        let cols = rows.count * w.outW
        let patchRows = channels * w.kernelH * w.kernelW
        Parallel.forEachChunk(patchRows, work: parallel ? patchRows * cols : 0) { range in
            for r in range {
                let kx = r % w.kernelW
                let ky = (r / w.kernelW) % w.kernelH
                let c = r / (w.kernelW * w.kernelH)
                let plane = x + c * w.inH * w.inW
                var dst = col + r * cols
                // Output columns whose input x is inside the row: ox in [oxLo, oxHi).
                let offX = kx * w.dilationW - w.padLeft
                let oxLo = min(w.outW, offX >= 0 ? 0 : (-offX + w.strideW - 1) / w.strideW)
                let oxHi = max(oxLo, min(w.outW, (w.inW - offX + w.strideW - 1) / w.strideW))
                for oy in rows {
                    let iy = oy * w.strideH - w.padTop + ky * w.dilationH
                    if iy < 0 || iy >= w.inH {
                        dst.update(repeating: 0, count: w.outW)
                    } else {
                        let src = plane + iy * w.inW + offX
                        for ox in 0..<oxLo { dst[ox] = 0 }
                        if w.strideW == 1 {
                            (dst + oxLo).update(from: src + oxLo, count: oxHi - oxLo)
                        } else {
                            for ox in oxLo..<oxHi { dst[ox] = src[ox * w.strideW] }
                        }
                        for ox in oxHi..<w.outW { dst[ox] = 0 }
                    }
                    dst += w.outW
                }
            }
        }
    }
}

/// Test access: the same kernel (built from the same `weights`) with a forced band height
/// (exercises banded im2col).
enum ConvKernelTestHook {
    static func banded(_ kernel: ConvKernel, weights: [Float], rows: Int) -> ConvKernel {
        ConvKernel(
            geometry: kernel.g, weights: weights, bias: kernel.bias, activation: kernel.activation, bandRows: rows,
            packedGEMM: kernel.usesPackedGEMM)
    }
}
