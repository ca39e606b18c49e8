import CKernels
import Tensor

/// Winograd F(2×2, 3×3) convolution for 3×3, stride-1, undilated, ungrouped convolutions
/// with enough channels (VGG, ResNet): each 2×2 output tile costs 16 multiplies per
/// (input, output) channel pair instead of 36, i.e. 2.25× fewer FLOPs in the GEMMs.
///
/// Per image and band of tile rows:
/// 1. input transform: V[ξ][c][t] = (Bᵀ d B)[ξ] for the 4×4 input tile d of tile t (zero
///    outside the input), ξ = 4·i + j over the 16 positions of the transformed tile;
/// 2. 16 GEMMs: P[ξ] (M×T) = U[ξ] (M×C) · V[ξ] (C×T), U[ξ] = (G g Gᵀ)[ξ] computed at load;
///    on AVX2+FMA by the packed 6×16 kernel of ck_pointwise.h (U[ξ] packed at load, V read in
///    place, P written once: no beta = 0 zeroing pass, no per-call packing), else OpenBLAS;
/// 3. output transform: y tile = Aᵀ P A, plus bias, activation, clipped at the output edge.
/// Each step is split across threads (channels, ξ, output channels), each GEMM single-threaded.
/// The tile transforms run in C (Sources/CKernels/winograd.c, 8 tiles per AVX2 vector, with
/// a portable fallback): in Swift they took 11–15 % of VGG-19, DenseNet-121 and SqueezeNet.
///
/// Error: F(2,3)'s transforms only use ±1 and ½, so the rounding error is that of a few
/// extra additions; measured against `ConvReference` in KernelTests.
final class WinogradConvKernel: Kernel {
    let g: ConvGeometry
    /// The transformed weights U[ξ] (M × C each): on the packed path 16 packed matrices
    /// `packedStride` floats apart (ck_pointwise_pack's panels), else U[ξ][m][c] row-major.
    let transformed: [Float]
    let packedStride: Int
    let bias: [Float]
    let activation: Activation
    let tilesH: Int, tilesW: Int
    /// Tile rows per band: bounds the V and P buffers (16·(C+M)·tiles floats).
    let bandTileRows: Int
    let threads: Int
    let scratchCount: Int
    /// The transforms' AVX2 code and the packed GEMM kernel (else the portable transforms and
    /// OpenBLAS); tests force either.
    let useAVX2: Bool
    /// The activation as a clamp the C output transform applies ([−∞, ∞] = none); leaky
    /// ReLU, which is no clamp, is applied after it in Swift.
    let clampLow: Float, clampHigh: Float

    /// Upper bound on V + P per band (8 MB): big enough for wide sgemms (≥ ~900 columns on
    /// VGG's first layers), small enough to keep the scratch area modest.
    static let maxBandFloats = 2 << 20

    /// 3×3, stride 1, no dilation, one group, enough channels that the GEMMs dominate the
    /// transforms (these cost ~O(16·(C+M)) per tile against 16·C·M in the GEMMs), and at
    /// least 7×7 outputs per plane: below that the 16 GEMMs get too narrow (N = tiles) and odd
    /// sizes waste a larger share of each tile. At 7×7 (16 tiles compute 64 outputs for 49)
    /// it still wins: ResNet-50's three 512-channel 7×7 layers 4.0 → 3.5 ms each, the
    /// model 101 → 97 ms per image on one thread; DenseNet-121 and Inception v1 unchanged.
    static func applies(to g: ConvGeometry) -> Bool {
        let w = g.window
        return g.group == 1 && w.kernelH == 3 && w.kernelW == 3 && w.strideH == 1 && w.strideW == 1
            && w.dilationH == 1 && w.dilationW == 1 && g.inChannels >= 16 && g.outChannels >= 16
            && w.outH * w.outW >= 49
    }

    /// - Parameter bandTileRows: tile rows per band; nil = as many as `maxBandFloats` allows.
    /// - Parameter avx2: the transforms' and GEMMs' code path; nil = what this CPU runs (`ck_has_avx2_fma`).
    init(
        geometry: ConvGeometry, weights: [Float], bias: [Float], activation: Activation, bandTileRows forced: Int? = nil,
        avx2: Bool? = nil
    ) {
        g = geometry; self.bias = bias; self.activation = activation
        useAVX2 = avx2 ?? (ck_has_avx2_fma() != 0)
        switch activation {
        case .relu: (clampLow, clampHigh) = (0, .infinity)
        case let .clip(lo, hi): (clampLow, clampHigh) = (lo, hi)
        case .none, .leakyRelu: (clampLow, clampHigh) = (-.infinity, .infinity)
        }
        let (m, c) = (geometry.outChannels, geometry.inChannels)
        tilesH = (geometry.window.outH + 1) / 2
        tilesW = (geometry.window.outW + 1) / 2
        threads = max(1, Parallel.threads)
        let plain = WinogradConvKernel.transformWeights(weights, outChannels: m, inChannels: c)
        if useAVX2 {
            let stride = ck_pointwise_packed_floats(Int32(m), Int32(c))
            packedStride = stride
            transformed = [Float](unsafeUninitializedCapacity: 16 * stride) { buffer, initialized in
                plain.withUnsafeBufferPointer { u in
                    for xi in 0..<16 {
                        ck_pointwise_pack(u.baseAddress! + xi * m * c, Int32(m), Int32(c), buffer.baseAddress! + xi * stride)
                    }
                }
                initialized = 16 * stride
            }
        } else {
            packedStride = m * c
            transformed = plain
        }
        let perRow = 16 * (c + m) * tilesW
        let rows = forced ?? max(1, min(tilesH, WinogradConvKernel.maxBandFloats / perRow))
        bandTileRows = rows
        // V, P, and one padded strip of input rows per thread.
        scratchCount = perRow * rows + threads * WinogradConvKernel.stripFloats(rows: rows, tilesW: tilesW)
    }

    /// Padded input rows one band needs per channel: 2·rows + 2 rows of 2·tilesW + 2 floats.
    static func stripFloats(rows: Int, tilesW: Int) -> Int { (2 * rows + 2) * (2 * tilesW + 2) }

    /// U[ξ][m][c] = (G g Gᵀ)[ξ] with G = [[1,0,0],[½,½,½],[½,−½,½],[0,0,1]], in Double.
    static func transformWeights(_ w: [Float], outChannels m: Int, inChannels c: Int) -> [Float] {
        let gm: [[Double]] = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
        var u = [Float](repeating: 0, count: 16 * m * c)
        for o in 0..<m {
            for i in 0..<c {
                let k = (o * c + i) * 9
                // t = G g (4×3), then u = t Gᵀ (4×4).
                var t = [[Double]](repeating: [0, 0, 0], count: 4)
                for r in 0..<4 {
                    for col in 0..<3 {
                        t[r][col] = (0..<3).reduce(0) { $0 + gm[r][$1] * Double(w[k + $1 * 3 + col]) }
                    }
                }
                for r in 0..<4 {
                    for s in 0..<4 {
                        let v = (0..<3).reduce(0) { $0 + t[r][$1] * gm[s][$1] }
                        u[((r * 4 + s) * m + o) * c + i] = Float(v)
                    }
                }
            }
        }
        return u
    }

    func run(inputs: [UnsafePointer<Float>?], outputs: [UnsafeMutablePointer<Float>], scratch: UnsafeMutablePointer<Float>) {
        guard let x = inputs[0] else { return }
        let y = outputs[0]
        transformed.withUnsafeBufferPointer { up in
            bias.withUnsafeBufferPointer { bp in
                let u = up.baseAddress!, b = bp.baseAddress!
                let win = g.window
                for n in 0..<g.batch {
                    let xn = x + n * g.inChannels * win.inH * win.inW
                    let yn = y + n * g.outChannels * win.outH * win.outW
                    var ty0 = 0
                    while ty0 < tilesH {
                        let ty1 = min(tilesH, ty0 + bandTileRows)
                        band(xn, yn, u, b, tileRows: ty0..<ty1, scratch: scratch)
                        ty0 = ty1
                    }
                }
            }
        }
    }

    /// One band of tile rows of one image: transforms, 16 sgemms, inverse transform.
    private func band(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ u: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        tileRows: Range<Int>, scratch: UnsafeMutablePointer<Float>
    ) {
        let (c, m, t) = (g.inChannels, g.outChannels, tileRows.count * tilesW)
        let v = scratch  // [16][C][T]
        let p = scratch + 16 * c * t  // [16][M][T]
        let strips = p + 16 * m * t
        let stripSize = WinogradConvKernel.stripFloats(rows: bandTileRows, tilesW: tilesW)
        let threads = self.threads
        let parallel = threads > 1 && 16 * c * m * t >= 1 << 20
        func split(_ count: Int, _ body: (Range<Int>, Int) -> Void) {
            if !parallel { body(0..<count, 0); return }
            DispatchQueueHelper.run(threads) { i in
                let lower = count * i / threads, upper = count * (i + 1) / threads
                if lower < upper { body(lower..<upper, i) }
            }
        }
        split(c) { channels, i in
            for ch in channels { inputTransform(x, channel: ch, tileRows: tileRows, into: v, strip: strips + i * stripSize) }
        }
        let (packed, stride) = (useAVX2, packedStride)
        split(16) { positions, _ in
            for xi in positions {
                if packed {
                    // Bias and activation come in the output transform: none here. A 0 means the
                    // ISA was forced portable after this kernel was built (tests only): poison P.
                    let ok = ck_pointwise_conv(
                        u + xi * stride, nil, nil, v + xi * c * t, p + xi * m * t, Int32(m), Int32(c), Int32(t), Int32(t),
                        0, Int32(m), 0, Int32(t), Activation.none.ck)
                    if ok == 0 { (p + xi * m * t).update(repeating: .nan, count: m * t) }
                } else {
                    BLAS.sgemm(m: m, n: t, k: c, a: u + xi * m * c, lda: c, b: v + xi * c * t, ldb: t, c: p + xi * m * t, ldc: t)
                }
            }
        }
        split(m) { channels, _ in
            for o in channels { outputTransform(p, channel: o, tileRows: tileRows, into: y, bias: b[o]) }
        }
    }

    /// Copies the input rows the band needs (zero-padded) into `strip`, then writes the 16
    /// transformed values of each tile: V[ξ][ch][t], t = (ty − lower)·tilesW + tx.
    @inline(__always)
    private func inputTransform(
        _ x: UnsafePointer<Float>, channel ch: Int, tileRows: Range<Int>, into v: UnsafeMutablePointer<Float>,
        strip: UnsafeMutablePointer<Float>
    ) {
        let win = g.window
        let (c, tw) = (g.inChannels, tilesW)
        let t = tileRows.count * tw
        let stripW = 2 * tw + 2, stripH = 2 * tileRows.count + 2
        let plane = x + ch * win.inH * win.inW
        // Strip row r holds input row 2·lower − padTop + r, columns −padLeft ..< stripW − padLeft.
        let x0 = -win.padLeft
        let colLo = max(0, -x0), colHi = min(stripW, win.inW - x0)
        for r in 0..<stripH {
            let row = strip + r * stripW
            let iy = 2 * tileRows.lowerBound - win.padTop + r
            if iy < 0 || iy >= win.inH || colLo >= colHi {
                row.update(repeating: 0, count: stripW)
                continue
            }
            if colLo > 0 { row.update(repeating: 0, count: colLo) }
            row.advanced(by: colLo).update(from: plane + iy * win.inW + x0 + colLo, count: colHi - colLo)
            if colHi < stripW { row.advanced(by: colHi).update(repeating: 0, count: stripW - colHi) }
        }
        // V[ξ][ch][t]: this channel's tiles start at ch·T, the ξ planes are C·T apart.
        ck_wino2_input(strip, Int32(tileRows.count), Int32(tw), v + ch * t, c * t, useAVX2 ? 1 : 0)
    }

    /// y tile = Aᵀ P A with Aᵀ = [[1,1,1,0],[0,1,−1,−1]], plus bias and activation; tiles
    /// past the output edge (odd outH/outW) drop their last row/column.
    @inline(__always)
    private func outputTransform(
        _ p: UnsafePointer<Float>, channel o: Int, tileRows: Range<Int>, into y: UnsafeMutablePointer<Float>, bias: Float
    ) {
        let win = g.window
        let (m, tw) = (g.outChannels, tilesW)
        let t = tileRows.count * tw
        let plane = y + o * win.outH * win.outW
        let oy0 = 2 * tileRows.lowerBound
        // P[ξ][o][t]: this channel's tiles start at o·T, the ξ planes are M·T apart.
        ck_wino2_output(
            p + o * t, m * t, Int32(tileRows.count), Int32(tw), plane + oy0 * win.outW, Int32(win.outW),
            Int32(win.outH - oy0), bias, clampLow, clampHigh, useAVX2 ? 1 : 0)
        if case .leakyRelu = activation {
            let rows = min(win.outH, 2 * tileRows.upperBound) - oy0
            activation.apply(plane + oy0 * win.outW, rows * win.outW)
        }
    }
}
