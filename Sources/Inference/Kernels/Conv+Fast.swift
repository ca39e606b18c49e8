import Tensor

/// The fast convolution, chosen once per node from the geometry:
/// - pointwise (1x1, stride 1, no padding): one sgemm per image, W[M×C] · X[C×HW] (images
///   split across threads when the batch allows, else output channels);
/// - depthwise (group == C == M): a direct kernel over zero-padded planes, channels split
///   across threads;
/// - otherwise im2col + sgemm per image and group, in bands of output rows so the column
///   buffer stays under `maxColumnFloats`.
/// Bias and activation are applied in one pass over each output channel (the epilogue).
final class ConvKernel: Kernel {
    let g: ConvGeometry
    let weights: [Float]  // [M, C/group, kH, kW] row-major, as ONNX stores them
    let bias: [Float]  // [M]
    let activation: Activation
    /// Output rows per im2col band.
    let bandRows: Int
    let scratchCount: Int
    /// Threads the depthwise path splits planes over (fixed here: its scratch is sized for it).
    let threads: Int

    /// Upper bound on the im2col buffer (16 MB): large enough that sgemm runs on wide
    /// matrices (≥ 4k columns on VGG's first layers), small enough not to double peak memory.
    static let maxColumnFloats = 4 << 20

    /// - Parameter bandRows: output rows per im2col band; nil = as many as `maxColumnFloats` allows.
    init(geometry: ConvGeometry, weights: [Float], bias: [Float], activation: Activation, bandRows forcedBand: Int? = nil) {
        g = geometry; self.weights = weights; self.bias = bias; self.activation = activation
        let w = geometry.window
        threads = max(1, Parallel.threads)
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
            let (batch, groups, inC, outC, bandRows, activation) = (g.batch, g.group, g.inChannels, g.outChannels, self.bandRows, self.activation)
            DispatchQueueHelper.run(t) { i in
                let myCol = col + i * colSize
                for n in (batch * i / t)..<(batch * (i + 1) / t) {
                    for group in 0..<groups {
                        let xi = x + (n * inC + group * cg) * win.inH * win.inW
                        let yi = y + (n * outC + group * mg) * plane
                        var oy0 = 0
                        while oy0 < win.outH {
                            let oy1 = min(win.outH, oy0 + bandRows)
                            let cols = (oy1 - oy0) * win.outW
                            ConvKernel.im2col(xi, channels: cg, window: win, rows: oy0..<oy1, into: myCol, parallel: false)
                            BLAS.sgemm(
                                m: mg, n: cols, k: k, a: w + group * mg * k, lda: k, b: myCol, ldb: cols,
                                c: yi + oy0 * win.outW, ldc: plane)
                            oy0 = oy1
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
                var oy0 = 0
                while oy0 < win.outH {
                    let oy1 = min(win.outH, oy0 + bandRows)
                    let cols = (oy1 - oy0) * win.outW
                    ConvKernel.im2col(xi, channels: cg, window: win, rows: oy0..<oy1, into: col)
                    Parallel.sgemm(
                        m: mg, n: cols, k: k, a: w + group * mg * k, lda: k, b: col, ldb: cols,
                        c: yi + oy0 * win.outW, ldc: plane)
                    oy0 = oy1
                }
            }
            epilogue(y + n * g.outChannels * plane, b)
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

    private func depthwise(
        _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        _ y: UnsafeMutablePointer<Float>, _ scratch: UnsafeMutablePointer<Float>
    ) {
        let win = g.window
        let channels = g.inChannels
        let planes = g.batch * channels
        let padW = win.inW + win.padLeft + win.padRight
        let padH = win.inH + win.padTop + win.padBottom
        let threads = max(1, min(self.threads, planes))
        let activation = self.activation
        let kh = win.kernelH, kw = win.kernelW
        let (sh, sw, dh, dw) = (win.strideH, win.strideW, win.dilationH, win.dilationW)
        let (outH, outW) = (win.outH, win.outW)
        let work = planes * outH * outW * kh * kw
        let flat = ConvKernel.depthwiseIsFlat(g)
        let body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void = { range, padded in
            // Zero the padded plane (and the slack after it) once: the border stays zero, the
            // interior is overwritten per plane.
            padded.update(repeating: 0, count: padH * padW + kw)
            let acc = padded + padH * padW + kw
            for p in range {
                let c = p % channels
                let src = x + p * win.inH * win.inW
                for iy in 0..<win.inH {
                    (padded + (iy + win.padTop) * padW + win.padLeft).update(from: src + iy * win.inW, count: win.inW)
                }
                let wc = w + c * kh * kw
                let dst = y + p * outH * outW
                let bias = b[c]
                if flat {
                    // Stride 1: output (oy, ox) sits at acc[oy·padW + ox] and reads
                    // padded[(oy + ky)·padW + ox + kx] = padded[ky·padW + kx + i], so each kernel
                    // row is one long vectorizable pass over the whole plane (columns ox ≥ outW
                    // are computed and dropped; reads end within the kw slack floats).
                    let count = outH * padW
                    for ky in 0..<kh {
                        ConvKernel.depthwiseTaps(
                            acc, UnsafePointer(padded + ky * padW), wc + ky * kw, kw: kw, stride: 1, count: count,
                            first: ky == 0, bias: bias)
                    }
                    for oy in 0..<outH {
                        let row = dst + oy * outW
                        row.update(from: acc + oy * padW, count: outW)
                        activation.apply(row, outW)
                    }
                    continue
                }
                for oy in 0..<outH {
                    let row = dst + oy * outW
                    if dw == 1 && (kw == 3 || kw == 5) {
                        // One pass per kernel row with the kw taps unrolled (vectorizes over ox).
                        for ky in 0..<kh {
                            let srcRow = UnsafePointer(padded + (oy * sh + ky * dh) * padW)
                            ConvKernel.depthwiseTaps(row, srcRow, wc + ky * kw, kw: kw, stride: sw, count: outW, first: ky == 0, bias: bias)
                        }
                        activation.apply(row, outW)
                        continue
                    }
                    row.update(repeating: 0, count: outW)
                    for ky in 0..<kh {
                        let srcRow = padded + (oy * sh + ky * dh) * padW
                        for kx in 0..<kw {
                            let weight = wc[ky * kw + kx]
                            let s = srcRow + kx * dw
                            if sw == 1 {
                                for ox in 0..<outW { row[ox] += weight * s[ox] }
                            } else {
                                for ox in 0..<outW { row[ox] += weight * s[ox * sw] }
                            }
                        }
                    }
                    activation.apply(row, outW, bias: bias)
                }
            }
        }
        let planeSize = ConvKernel.depthwiseScratch(g)
        if threads == 1 || work < 65_536 {
            body(0..<planes, scratch)
        } else {
            DispatchQueueHelper.run(threads) { t in
                let lower = planes * t / threads, upper = planes * (t + 1) / threads
                if lower < upper { body(lower..<upper, scratch + t * planeSize) }
            }
        }
    }
}

extension ConvKernel {
    /// Stride-1, undilated 3- or 5-wide depthwise kernels take the flattened-plane path.
    static func depthwiseIsFlat(_ g: ConvGeometry) -> Bool {
        let w = g.window
        return w.strideH == 1 && w.strideW == 1 && w.dilationH == 1 && w.dilationW == 1 && (w.kernelW == 3 || w.kernelW == 5)
    }

    /// Floats of scratch per depthwise thread: the zero-padded plane, kW slack floats the
    /// flattened passes may read past it, and for the flat path the accumulator plane
    /// (outH rows of padded width).
    static func depthwiseScratch(_ g: ConvGeometry) -> Int {
        let w = g.window
        let padW = w.inW + w.padLeft + w.padRight, padH = w.inH + w.padTop + w.padBottom
        return padH * padW + w.kernelW + (depthwiseIsFlat(g) ? w.outH * padW : 0)
    }

    /// out[ox] (= bias if `first`, else +=) Σ_kx w[kx] · r[ox·stride + kx] for kw 3 or 5, with
    /// the taps unrolled so the ox loop vectorizes.
    @inline(__always)
    static func depthwiseTaps(
        _ out: UnsafeMutablePointer<Float>, _ r: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
        kw: Int, stride: Int, count n: Int, first: Bool, bias: Float
    ) {
        @inline(__always) func pass(_ tap: (Int) -> Float) {
            if first { for ox in 0..<n { out[ox] = bias + tap(ox) } } else { for ox in 0..<n { out[ox] += tap(ox) } }
        }
        let (w0, w1, w2) = (w[0], w[1], w[2])
        switch (kw, stride) {
        case (3, 1): pass { w0 * r[$0] + w1 * r[$0 + 1] + w2 * r[$0 + 2] }
        case (3, 2): pass { w0 * r[2 * $0] + w1 * r[2 * $0 + 1] + w2 * r[2 * $0 + 2] }
        case (3, _): pass { w0 * r[stride * $0] + w1 * r[stride * $0 + 1] + w2 * r[stride * $0 + 2] }
        case (5, 1):
            let (w3, w4) = (w[3], w[4])
            pass { w0 * r[$0] + w1 * r[$0 + 1] + w2 * r[$0 + 2] + w3 * r[$0 + 3] + w4 * r[$0 + 4] }
        case (5, 2):
            let (w3, w4) = (w[3], w[4])
            pass { w0 * r[2 * $0] + w1 * r[2 * $0 + 1] + w2 * r[2 * $0 + 2] + w3 * r[2 * $0 + 3] + w4 * r[2 * $0 + 4] }
        default:
            pass { i in (0..<kw).reduce(Float(0)) { $0 + w[$1] * r[stride * i + $1] } }
        }
    }
}

/// Test access: the same kernel with a forced band height (exercises banded im2col).
enum ConvKernelTestHook {
    static func banded(_ kernel: ConvKernel, rows: Int) -> ConvKernel {
        ConvKernel(geometry: kernel.g, weights: kernel.weights, bias: kernel.bias, activation: kernel.activation, bandRows: rows)
    }
}
