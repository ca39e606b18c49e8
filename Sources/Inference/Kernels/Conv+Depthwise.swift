import Tensor

/// The depthwise path of `ConvKernel` (group == C == M): a direct kernel over zero-padded
/// planes, planes (image × channel) split across threads.
extension ConvKernel {
    func depthwise(
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
