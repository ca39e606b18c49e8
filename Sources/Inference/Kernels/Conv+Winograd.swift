import CKernels
import Tensor

/// Winograd convolution for 3×3, stride-1, undilated, ungrouped convolutions with enough
/// channels (VGG, ResNet, DenseNet, SqueezeNet), in two sizes:
/// - F(2×2, 3×3): each 2×2 output tile costs 16 multiplies per (input, output) channel pair
///   instead of 36, 2.25× fewer FLOPs in the GEMMs;
/// - F(4×4, 3×3): each 4×4 output tile costs 36 instead of 144, 4× fewer; its transforms
///   cost about the same per output (6×6 tiles, 36 values, for 16 outputs), and the GEMMs
///   get a quarter as many columns (tiles), so it takes planes of at least
///   `minimumF4Side` outputs a side (see there). Its transform matrices have entries up to 8
///   (points 0, ±1, ±2, ∞): the rounding error is larger than F(2×2)'s but still ~1e-6
///   relative on these networks' layers (measured against ONNX Runtime in the conformance
///   tests, against `ConvReference` in KernelTests).
///
/// Per image and band of tile rows (tile size s = 2 or 4, a = s + 2 the input tile side):
/// 1. input transform: V[ξ][c][t] = (Bᵀ d B)[ξ] for the a×a input tile d of tile t (zero
///    outside the input), ξ = a·i + j over the a² positions of the transformed tile;
/// 2. a² GEMMs: P[ξ] (M×T) = U[ξ] (M×C) · V[ξ] (C×T), U[ξ] = (G g Gᵀ)[ξ] computed at load;
///    on AVX2+FMA by the packed 6×16 kernel of ck_pointwise.h (U[ξ] packed at load, V read in
///    place, P written once: no beta = 0 zeroing pass, no per-call packing), else OpenBLAS;
/// 3. output transform: y tile (s×s) = Aᵀ P A, plus bias, activation, clipped at the output edge.
/// Each step is split across threads (channels, ξ, output channels), each GEMM single-threaded.
/// The tile transforms run in C (Sources/CKernels/winograd.c, 8 tiles per AVX2 vector, with
/// a portable fallback): in Swift they took 11–15 % of VGG-19, DenseNet-121 and SqueezeNet.
///
/// Error: F(2,3)'s transforms only use ±1 and ½, so the rounding error is that of a few
/// extra additions; measured against `ConvReference` in KernelTests.
final class WinogradConvKernel: Kernel {
    let g: ConvGeometry
    /// Output tile side: 2 for F(2×2, 3×3), 4 for F(4×4, 3×3).
    let tile: Int
    /// Positions ξ of a transformed tile: (tile + 2)², 16 or 36 (one GEMM each).
    var positions: Int { (tile + 2) * (tile + 2) }
    /// The transformed weights U[ξ] (M × C each): on the packed path `positions` packed matrices
    /// `packedStride` floats apart (ck_pointwise_pack's panels), else U[ξ][m][c] row-major.
    let transformed: [Float]
    let packedStride: Int
    let bias: [Float]
    let activation: Activation
    let tilesH: Int, tilesW: Int
    /// Tile rows per band: bounds the V and P buffers (positions·(C+M)·tiles floats).
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

    /// F(4×4, 3×3) for output planes at least this many outputs a side, else F(2×2, 3×3).
    /// The GEMMs' columns are tiles, and the packed kernel runs 16 at a time: at 13×13 F(4×4)
    /// has 16 tiles (a whole strip) where F(2×2) has 49; at 7×7 only 4 (a quarter strip at
    /// ~60 % of a strip's cost, times 36 positions) against F(2×2)'s 16. Measured one thread,
    /// CPU time of all Winograd layers, F(2×2) everywhere → F(4×4) from 13: ResNet-50
    /// 27.4 → 19.6 ms (F(4×4) at 7×7 too: 22.5), DenseNet-121 36.3 → 26.0, VGG-19 338 → 190,
    /// Inception v1 14.5 → 10.6, SqueezeNet 4.6 → 3.2 (its planes are 13×13: from 14 it
    /// stayed 4.5).
    static let minimumF4Side = 13

    /// - Parameter bandTileRows: tile rows per band; nil = as many as `maxBandFloats` allows.
    /// - Parameter avx2: the transforms' and GEMMs' code path; nil = what this CPU runs (`ck_has_avx2_fma`).
    /// - Parameter tile: output tile side, 2 or 4; nil = 4 when both output sides are at least
    ///   `minimumF4Side`.
    init(
        geometry: ConvGeometry, weights: [Float], bias: [Float], activation: Activation, bandTileRows forced: Int? = nil,
        avx2: Bool? = nil, tile forcedTile: Int? = nil
    ) {
        g = geometry; self.bias = bias; self.activation = activation
        let minSide = min(geometry.window.outH, geometry.window.outW)
        let tile = forcedTile ?? (minSide >= WinogradConvKernel.minimumF4Side ? 4 : 2)
        precondition(tile == 2 || tile == 4, "Winograd tile side must be 2 or 4")
        self.tile = tile
        let positions = (tile + 2) * (tile + 2)
        useAVX2 = avx2 ?? (ck_has_avx2_fma() != 0)
        switch activation {
        case .relu: (clampLow, clampHigh) = (0, .infinity)
        case let .clip(lo, hi): (clampLow, clampHigh) = (lo, hi)
        case .none, .leakyRelu: (clampLow, clampHigh) = (-.infinity, .infinity)
        }
        let (m, c) = (geometry.outChannels, geometry.inChannels)
        tilesH = (geometry.window.outH + tile - 1) / tile
        tilesW = (geometry.window.outW + tile - 1) / tile
        threads = max(1, Parallel.threads)
        let plain = WinogradConvKernel.transformWeights(weights, outChannels: m, inChannels: c, tile: tile)
        if useAVX2 {
            let stride = ck_pointwise_packed_floats(Int32(m), Int32(c))
            packedStride = stride
            transformed = [Float](unsafeUninitializedCapacity: positions * stride) { buffer, initialized in
                plain.withUnsafeBufferPointer { u in
                    for xi in 0..<positions {
                        ck_pointwise_pack(u.baseAddress! + xi * m * c, Int32(m), Int32(c), buffer.baseAddress! + xi * stride)
                    }
                }
                initialized = positions * stride
            }
        } else {
            packedStride = m * c
            transformed = plain
        }
        let perRow = positions * (c + m) * tilesW
        let rows = forced ?? max(1, min(tilesH, WinogradConvKernel.maxBandFloats / perRow))
        bandTileRows = rows
        // V, P, and one padded strip of input rows per thread.
        scratchCount = perRow * rows + threads * WinogradConvKernel.stripFloats(rows: rows, tilesW: tilesW, tile: tile)
    }

    /// Padded input rows one band needs per channel: tile·rows + 2 rows of tile·tilesW + 2
    /// floats (plus the slack F(4×4)'s vector loads read past the last tile).
    static func stripFloats(rows: Int, tilesW: Int, tile: Int) -> Int {
        (tile * rows + 2) * (tile * tilesW + 2) + (tile == 4 ? Int(CK_WINO4_STRIP_SLACK) : 0)
    }

    /// U[ξ][m][c] = (G g Gᵀ)[ξ], in Double, with G (a × 3) for F(2×2, 3×3):
    /// [[1,0,0],[½,½,½],[½,−½,½],[0,0,1]]; for F(4×4, 3×3): [[¼,0,0],[−⅙,−⅙,−⅙],[−⅙,⅙,−⅙],
    /// [1/24,1/12,⅙],[1/24,−1/12,⅙],[0,0,1]].
    static func transformWeights(_ w: [Float], outChannels m: Int, inChannels c: Int, tile: Int = 2) -> [Float] {
        let sixth: Double = 1.0 / 6, twelfth: Double = 1.0 / 12, twentyFourth: Double = 1.0 / 24
        let f2: [[Double]] = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
        let f4: [[Double]] = [
            [0.25, 0, 0], [-sixth, -sixth, -sixth], [-sixth, sixth, -sixth], [twentyFourth, twelfth, sixth],
            [twentyFourth, -twelfth, sixth], [0, 0, 1],
        ]
        let gm = tile == 2 ? f2 : f4
        let a = gm.count
        var u = [Float](repeating: 0, count: a * a * m * c)
        var t = [[Double]](repeating: [0, 0, 0], count: a)
        for o in 0..<m {
            for i in 0..<c {
                let k = (o * c + i) * 9
                // t = G g (a×3), then u = t Gᵀ (a×a).
                for r in 0..<a {
                    for col in 0..<3 {
                        t[r][col] = (0..<3).reduce(0) { $0 + gm[r][$1] * Double(w[k + $1 * 3 + col]) }
                    }
                }
                for r in 0..<a {
                    for s in 0..<a {
                        let v = (0..<3).reduce(0) { $0 + t[r][$1] * gm[s][$1] }
                        u[((r * a + s) * m + o) * c + i] = Float(v)
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

    /// One band of tile rows of one image: transforms, `positions` GEMMs, inverse transform.
    private func band(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ u: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        tileRows: Range<Int>, scratch: UnsafeMutablePointer<Float>
    ) {
        let (c, m, t) = (g.inChannels, g.outChannels, tileRows.count * tilesW)
        let positions = self.positions
        let v = scratch  // [positions][C][T]
        let p = scratch + positions * c * t  // [positions][M][T]
        let strips = p + positions * m * t
        let stripSize = WinogradConvKernel.stripFloats(rows: bandTileRows, tilesW: tilesW, tile: tile)
        let threads = self.threads
        let parallel = threads > 1 && positions * c * m * t >= 1 << 20
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
        split(positions) { range, _ in
            for xi in range {
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

    /// Copies the input rows the band needs (zero-padded) into `strip`, then writes the
    /// `positions` transformed values of each tile: V[ξ][ch][t], t = (ty − lower)·tilesW + tx.
    @inline(__always)
    private func inputTransform(
        _ x: UnsafePointer<Float>, channel ch: Int, tileRows: Range<Int>, into v: UnsafeMutablePointer<Float>,
        strip: UnsafeMutablePointer<Float>
    ) {
        let win = g.window
        let (c, tw) = (g.inChannels, tilesW)
        let t = tileRows.count * tw
        let stripW = tile * tw + 2, stripH = tile * tileRows.count + 2
        let plane = x + ch * win.inH * win.inW
        // Strip row r holds input row tile·lower − padTop + r, columns −padLeft ..< stripW − padLeft.
        let x0 = -win.padLeft
        let colLo = max(0, -x0), colHi = min(stripW, win.inW - x0)
        for r in 0..<stripH {
            let row = strip + r * stripW
            let iy = tile * tileRows.lowerBound - win.padTop + r
            if iy < 0 || iy >= win.inH || colLo >= colHi {
                row.update(repeating: 0, count: stripW)
                continue
            }
            if colLo > 0 { row.update(repeating: 0, count: colLo) }
            row.advanced(by: colLo).update(from: plane + iy * win.inW + x0 + colLo, count: colHi - colLo)
            if colHi < stripW { row.advanced(by: colHi).update(repeating: 0, count: stripW - colHi) }
        }
        // V[ξ][ch][t]: this channel's tiles start at ch·T, the ξ planes are C·T apart.
        if tile == 4 {
            ck_wino4_input(strip, Int32(tileRows.count), Int32(tw), v + ch * t, c * t, useAVX2 ? 1 : 0)
        } else {
            ck_wino2_input(strip, Int32(tileRows.count), Int32(tw), v + ch * t, c * t, useAVX2 ? 1 : 0)
        }
    }

    /// y tile = Aᵀ P A (F(2×2): Aᵀ = [[1,1,1,0],[0,1,−1,−1]]; F(4×4): winograd.c), plus bias
    /// and activation; tiles past the output edge drop their rows/columns outside it.
    @inline(__always)
    private func outputTransform(
        _ p: UnsafePointer<Float>, channel o: Int, tileRows: Range<Int>, into y: UnsafeMutablePointer<Float>, bias: Float
    ) {
        let win = g.window
        let (m, tw) = (g.outChannels, tilesW)
        let t = tileRows.count * tw
        let plane = y + o * win.outH * win.outW
        let oy0 = tile * tileRows.lowerBound
        // P[ξ][o][t]: this channel's tiles start at o·T, the ξ planes are M·T apart.
        let transform = tile == 4 ? ck_wino4_output : ck_wino2_output
        transform(
            p + o * t, m * t, Int32(tileRows.count), Int32(tw), plane + oy0 * win.outW, Int32(win.outW),
            Int32(win.outH - oy0), bias, clampLow, clampHigh, useAVX2 ? 1 : 0)
        if case .leakyRelu = activation {
            let rows = min(win.outH, tile * tileRows.upperBound) - oy0
            activation.apply(plane + oy0 * win.outW, rows * win.outW)
        }
    }
}
