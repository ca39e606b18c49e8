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
/// Threads share an image as `Split` says (each thread all three steps on its own tiles or
/// output channels, or each step split in turn), each GEMM single-threaded.
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
    /// The transformed weights U[ξ] (M × C each) on the packed path, one packed matrix per
    /// position; nil on the portable path (`plainTransformed`). The products run on the
    /// channel-lanes kernel where it fits a band's M × C × tiles (PackedGEMMWeights): every
    /// F(4×4) product at 14×14 (16 tiles) and 28×28 (49), F(2×2)'s at 7×7, where the strip
    /// kernel's 16-column tiles are bound by their weight broadcasts. Hot, one thread, against
    /// it: 256×256×16 0.303 → 0.265 ms, 512×512×16 1.26 → 1.07, 128×128×49 0.252 → 0.213,
    /// 256×256×49 0.98 → 0.80 (the same with the weights cold).
    let packed: PackedGEMMWeights?
    /// U[ξ][m][c] row-major for OpenBLAS (portable path); empty on the packed path.
    let plainTransformed: [Float]
    let bias: [Float]
    let activation: Activation
    let tilesH: Int, tilesW: Int
    /// Tile rows per band: bounds the V and P buffers (positions·(C+M)·tiles floats). With the
    /// `.tiles` split, a thread's run of tiles goes in pieces of at most bandTileRows·tilesW.
    let bandTileRows: Int
    let threads: Int
    /// Where two threads cut an image's tiles (`.tiles`; learned, see SplitBalance).
    let balance = SplitBalance()
    /// How an image is shared by the threads (`.serial` with one thread or a small layer).
    let split: Split
    /// Scratch floats each thread owns (V, P, input strip); the scratch holds `threads` of them
    /// (one when serial).
    let regionFloats: Int
    let scratchCount: Int

    /// How the threads share one image. Each thread runs all three steps (input transform,
    /// GEMMs, output transform) on its own V and P, so nothing one thread writes in this layer
    /// is read by another. The earlier split, each step in turn across the threads (input
    /// channels, then ξ, then output channels), had every GEMM read V the other core had half
    /// written and every output transform read its products: when this VM's two vCPUs sit on
    /// different core complexes (core-to-core round trip 330–450 ns instead of 65–150, for
    /// minutes at a time), SqueezeNet's Winograd layers took 1.5 → 3.4 ms per image.
    enum Split: Equatable {
        /// One thread, or too little work to split.
        case serial
        /// Thread i owns a contiguous run of the image's tiles (raster order, F(4×4) only:
        /// its transforms take any run): every output channel of its pixels.
        case tiles
        /// Every thread transforms the whole input (duplicated: ~O(C·tiles) against the GEMMs'
        /// O(C·M·tiles)), then computes its share of the output channels (whole 6-row panels):
        /// for planes with too few tiles to share well and M ≥ 4·C (SqueezeNet's 27×27).
        case outputChannels
        /// Each step split across the threads in turn (input channels, then the positions ξ,
        /// then output channels), V and P shared: where neither split above measured better
        /// (ResNet-50's 28×28, 14×14 and 7×7 layers, SqueezeNet's 13×13).
        case steps
    }
    /// The transforms' AVX2 code and the packed GEMM kernel (else the portable transforms and
    /// OpenBLAS); tests force either.
    let useAVX2: Bool
    /// The activation as a clamp the C output transform applies ([−∞, ∞] = none); leaky
    /// ReLU, which is no clamp, is applied after it in Swift.
    let clampLow: Float, clampHigh: Float

    /// Upper bound on V + P per band (8 MB): big enough for wide sgemms (≥ ~900 columns on
    /// VGG's first layers), small enough to keep the scratch area modest. Bands of 1 MB or
    /// 512 KB for the `.tiles` and `.serial` splits (V and P kept in L2) left SqueezeNet at
    /// two threads unchanged (1.015 and 0.994 ± 0.04, benchmarks/turns.py, session 14).
    static let maxBandFloats = 2 << 20

    /// 3×3, stride 1, no dilation, one group, enough channels that the GEMMs dominate the
    /// transforms (these cost ~O(16·(C+M)) per tile against 16·C·M in the GEMMs), and at
    /// least 7×7 outputs per plane: below that the 16 GEMMs get too narrow (N = tiles) and odd
    /// sizes waste a larger share of each tile. At 7×7 (16 tiles compute 64 outputs for 49)
    /// it won on the EPYC: ResNet-50's three 512-channel 7×7 layers 4.0 → 3.5 ms each, the
    /// model 101 → 97 ms per image on one thread; DenseNet-121 and Inception v1 unchanged.
    ///
    /// Except small planes with large weights (`weightBound`): at batch 1 a layer's weights
    /// come from memory on every pass, and F(2×2)'s transformed weights are 16/9 the size of
    /// the 3×3 ones (16·M·C floats: 4 MB for 256 channels), while a 7×7 plane gives each
    /// weight only 16 tiles of work. On the Emerald Rapids Xeon (one thread, CPU time, with the
    /// packed GEMM prefetching its next k-block) im2col ran open-nsfw's three 256-channel 7×7
    /// layers 0.97 → 0.76 ms each; ResNet-50's 512-channel ones the same within noise
    /// (2.7–3.1 ms); DenseNet-121's 7×7 layers (128 → 32, 0.6 MB transformed) stayed Winograd:
    /// on im2col its ConvKernel time doubled (3.0 → 6.0 ms). On AVX-512 all of these now run
    /// the direct lanes kernel instead (`LanesWindowConvKernel`, chosen before F(2×2) in
    /// Conv.swift).
    static func applies(to g: ConvGeometry) -> Bool {
        let w = g.window
        return g.group == 1 && w.kernelH == 3 && w.kernelW == 3 && w.strideH == 1 && w.strideW == 1
            && w.dilationH == 1 && w.dilationW == 1 && g.inChannels >= 16 && g.outChannels >= 16
            && w.outH * w.outW >= 49 && !weightBound(g)
    }

    /// An F(2×2) plane (sides below `minimumF4Side`) whose transformed weights (16·M·C floats)
    /// exceed 2 MB, an L2 of this project's machines (see `applies`).
    static func weightBound(_ g: ConvGeometry) -> Bool {
        min(g.window.outH, g.window.outW) < minimumF4Side && 16 * g.outChannels * g.inChannels * 4 > 2 << 20
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

    /// True when the layer's planes take F(4×4, 3×3) (both output sides ≥ `minimumF4Side`).
    static func usesF4(_ g: ConvGeometry) -> Bool { min(g.window.outH, g.window.outW) >= minimumF4Side }

    /// - Parameter bandTileRows: tile rows per band; nil = as many as `maxBandFloats` allows.
    /// - Parameter avx2: the transforms' and GEMMs' code path; nil = what this CPU runs (`ck_has_avx2_fma`).
    /// - Parameter tile: output tile side, 2 or 4; nil = 4 when both output sides are at least
    ///   `minimumF4Side`.
    /// - Parameter split: how threads share an image; nil = `defaultSplit`.
    init(
        geometry: ConvGeometry, weights: [Float], bias: [Float], activation: Activation, bandTileRows forced: Int? = nil,
        avx2: Bool? = nil, tile forcedTile: Int? = nil, split forcedSplit: Split? = nil
    ) {
        g = geometry; self.bias = bias; self.activation = activation
        let tile = forcedTile ?? (WinogradConvKernel.usesF4(geometry) ? 4 : 2)
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
        let perRow = positions * (c + m) * tilesW
        let rows = forced ?? max(1, min(tilesH, WinogradConvKernel.maxBandFloats / perRow))
        bandTileRows = rows
        if useAVX2 {
            let (matrices, columns) = ((tile + 2) * (tile + 2), rows * tilesW)
            packed = plain.withUnsafeBufferPointer {
                PackedGEMMWeights($0.baseAddress!, m: m, k: c, matrices: matrices, columns: columns)
            }
            plainTransformed = []
        } else {
            packed = nil
            plainTransformed = plain
        }
        var split = forcedSplit ?? WinogradConvKernel.defaultSplit(geometry, tile: tile, tiles: tilesH * tilesW, threads: threads)
        if threads == 1 || (split == .tiles && tile != 4) { split = .serial }
        self.split = split
        // Per thread: V and P for a band (or piece: at most `rows` tile rows, which a piece
        // starting inside a row can touch one more of) and one padded strip of input rows.
        let stripRows = split == .tiles ? min(tilesH, rows + 1) : rows
        regionFloats = perRow * rows + WinogradConvKernel.stripFloats(rows: stripRows, tilesW: tilesW, tile: tile)
        scratchCount = regionFloats * (split == .serial ? 1 : threads)
    }

    /// `.serial` below ~1 MFLOP of GEMMs per image; `.tiles` when each thread gets at least 48
    /// tiles (F(4×4): 55×55 planes and larger); `.outputChannels` for 24 … 47 tiles a thread
    /// when M ≥ 4·C (the duplicated input transform is then small); else `.steps`. Measured per
    /// layer, 2 threads, old split (steps) → this choice, medians of rounds in each regime of
    /// this VM (core-to-core round trip ~100 ns / ~350 ns), ms:
    /// - .tiles, 55×55 / 56×56: SqueezeNet n14 0.26 → 0.27 / 0.75 → 0.35, ResNet-50 n19
    ///   0.62 → 0.63 / 1.14 → 0.71;
    /// - .outputChannels, SqueezeNet 27×27 (C 32, M 128): 0.19 → 0.22 / 0.52 → 0.36;
    /// - kept on .steps: ResNet-50 28×28 (C = M = 128) 0.53 → 0.64 / 0.78 → 0.75 with
    ///   .outputChannels; SqueezeNet 13×13 (16 tiles) 0.19 → 0.25 / 0.31 → 0.36 with either.
    /// Again in session 14, whole SqueezeNet passes (benchmarks/turns.py, ± 0.04): its 13×13
    /// layers on .outputChannels 1.01, on .tiles 0.94; its 27×27 ones on .tiles 0.99, on
    /// .steps 1.00.
    static func defaultSplit(_ g: ConvGeometry, tile: Int, tiles: Int, threads: Int) -> Split {
        let positions = (tile + 2) * (tile + 2)
        guard threads > 1 && positions * g.inChannels * g.outChannels * tiles >= 1 << 20 else { return .serial }
        if tile == 4 && tiles >= 48 * threads { return .tiles }
        return tiles >= 24 * threads && g.outChannels >= 4 * g.inChannels ? .outputChannels : .steps
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
        bias.withUnsafeBufferPointer { bp in
            let b = bp.baseAddress!
            let win = g.window
            let (m, t, split, region) = (g.outChannels, threads, split, regionFloats)
            let tiles = tilesH * tilesW
            for n in 0..<g.batch {
                let xn = x + n * g.inChannels * win.inH * win.inW
                let yn = y + n * m * win.outH * win.outW
                switch split {
                case .serial:
                    forEachBand { tileRows in
                        band(xn, yn, b, tileRows: tileRows, tiles: 0..<(tileRows.count * tilesW), outputs: 0..<m, region: scratch)
                    }
                case .tiles:
                    let piece = bandTileRows * tilesW
                    /// Tiles `range` on thread i, in pieces of at most a band.
                    func run(_ i: Int, _ range: Range<Int>) {
                        var first = range.lowerBound
                        let end = range.upperBound
                        while first < end {
                            let last = min(end, first + piece)
                            let tileRows = (first / tilesW)..<((last - 1) / tilesW + 1)
                            let offset = tileRows.lowerBound * tilesW
                            band(
                                xn, yn, b, tileRows: tileRows, tiles: (first - offset)..<(last - offset), outputs: 0..<m,
                                region: scratch + i * region)
                            first = last
                        }
                    }
                    // The tiles are the GEMMs' columns: the cut moves in whole 32-column strips,
                    // and only where each thread's run is one piece (else where its pieces start
                    // would move with the cut), so the output never depends on it. Only on the
                    // packed GEMM: OpenBLAS's sgemm (the portable path) picks its kernels and
                    // its own threads by the column count and by which of its threads are free,
                    // and its last bits moved with the cut (EngineKernelTests, under load).
                    if t == 2 && piece >= tiles && packed != nil {
                        balance.run(count: tiles, granularity: 32, run)
                    } else {
                        DispatchQueueHelper.run(t) { i in run(i, (tiles * i / t)..<(tiles * (i + 1) / t)) }
                    }
                case .steps:
                    forEachBand { tileRows in bandInSteps(xn, yn, b, tileRows: tileRows, scratch: scratch) }
                case .outputChannels:
                    // Halves, not a learned cut: with a moving cut the output's last bits moved
                    // too (measured in EngineKernelTests; the tiles' cut does not).
                    forEachBand { tileRows in
                        DispatchQueueHelper.run(t) { i in
                            let outputs = Parallel.panelRows(
                                m, part: i, of: t, perPanel: packed?.rowBlock ?? Int(CK_PW_PANEL_ROWS))
                            guard !outputs.isEmpty else { return }
                            band(
                                xn, yn, b, tileRows: tileRows, tiles: 0..<(tileRows.count * tilesW), outputs: outputs,
                                region: scratch + i * region)
                        }
                    }
                }
            }
        }
    }

    /// The image's bands of at most `bandTileRows` tile rows, in order.
    private func forEachBand(_ body: (Range<Int>) -> Void) {
        var ty0 = 0
        while ty0 < tilesH {
            let ty1 = min(tilesH, ty0 + bandTileRows)
            body(ty0..<ty1)
            ty0 = ty1
        }
    }

    /// Scratch of one band of `tiles` tiles: V [positions][C][T], P [positions][M][T], then
    /// the input strip, at the start of `region`.
    private func layout(_ region: UnsafeMutablePointer<Float>, tiles t: Int) -> (
        v: UnsafeMutablePointer<Float>, p: UnsafeMutablePointer<Float>, strip: UnsafeMutablePointer<Float>
    ) {
        let (c, m) = (g.inChannels, g.outChannels)
        return (region, region + positions * c * t, region + positions * (c + m) * t)
    }

    /// All three steps for tiles `tiles` (numbered from the first tile of `tileRows`; all of
    /// them unless F(4×4)) and output channels `outputs`, on one thread, in `region` (P's
    /// rows outside `outputs` are neither written nor read).
    private func band(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>,
        tileRows: Range<Int>, tiles: Range<Int>, outputs: Range<Int>, region: UnsafeMutablePointer<Float>
    ) {
        let (v, p, strip) = layout(region, tiles: tiles.count)
        for ch in 0..<g.inChannels { inputTransform(x, channel: ch, tileRows: tileRows, tiles: tiles, into: v, strip: strip) }
        products(v, p, tiles: tiles.count, positions: 0..<positions, outputs: outputs)
        for o in outputs { outputTransform(p, channel: o, tileRows: tileRows, tiles: tiles, into: y, bias: b[o]) }
    }

    /// The `.steps` split of one band: each step across the threads in turn (input channels,
    /// positions ξ, output channels), V and P shared in region 0, thread i's strip after V and
    /// P in region i.
    private func bandInSteps(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>,
        tileRows: Range<Int>, scratch: UnsafeMutablePointer<Float>
    ) {
        let (c, m, t, threads, region) = (g.inChannels, g.outChannels, tileRows.count * tilesW, threads, regionFloats)
        let tiles = 0..<t
        let (v, p, _) = layout(scratch, tiles: t)
        func split(_ count: Int, _ body: (Range<Int>, Int) -> Void) {
            DispatchQueueHelper.run(threads) { i in
                let lower = count * i / threads, upper = count * (i + 1) / threads
                if lower < upper { body(lower..<upper, i) }
            }
        }
        split(c) { channels, i in
            let strip = layout(scratch + i * region, tiles: t).strip
            for ch in channels { inputTransform(x, channel: ch, tileRows: tileRows, tiles: tiles, into: v, strip: strip) }
        }
        split(positions) { range, _ in products(v, p, tiles: t, positions: range, outputs: 0..<m) }
        split(m) { channels, _ in
            for o in channels { outputTransform(p, channel: o, tileRows: tileRows, tiles: tiles, into: y, bias: b[o]) }
        }
    }

    /// P[ξ] rows `outputs` = U[ξ] · V[ξ] for ξ in `positions` (T = `tiles` columns).
    private func products(
        _ v: UnsafePointer<Float>, _ p: UnsafeMutablePointer<Float>, tiles t: Int,
        positions: Range<Int>, outputs: Range<Int>
    ) {
        let (c, m) = (g.inChannels, g.outChannels)
        for xi in positions {
            if let packed {
                // Bias and activation come in the output transform: none here. A false means the
                // ISA was forced portable after this kernel was built (tests only): poison P.
                // The next position's weights are fetched during this one's last k-block.
                let ok = packed.product(
                    xi, bias: nil, residual: nil, x: v + xi * c * t, ldx: t, y: p + xi * m * t, ldy: t, rows: outputs, columns: 0..<t,
                    activation: Activation.none.ck, prefetchNext: xi + 1 < positions.upperBound)
                if !ok { (p + xi * m * t).update(repeating: .nan, count: m * t) }
            } else {
                plainTransformed.withUnsafeBufferPointer { u in
                    BLAS.sgemm(
                        m: outputs.count, n: t, k: c, a: u.baseAddress! + (xi * m + outputs.lowerBound) * c, lda: c, b: v + xi * c * t,
                        ldb: t, c: p + (xi * m + outputs.lowerBound) * t, ldc: t)
                }
            }
        }
    }

    /// Copies the input rows of `tileRows` (zero-padded) into `strip`, then writes the
    /// `positions` transformed values of each tile of `tiles` (numbered from the first tile of
    /// `tileRows`): V[ξ][ch][t − tiles.lower].
    @inline(__always)
    private func inputTransform(
        _ x: UnsafePointer<Float>, channel ch: Int, tileRows: Range<Int>, tiles: Range<Int>, into v: UnsafeMutablePointer<Float>,
        strip: UnsafeMutablePointer<Float>
    ) {
        let win = g.window
        let (c, tw) = (g.inChannels, tilesW)
        let t = tiles.count
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
            ck_wino4_input_tiles(strip, Int32(tw), Int32(tiles.lowerBound), Int32(t), v + ch * t, c * t, useAVX2 ? 1 : 0)
        } else {
            precondition(tiles == 0..<(tileRows.count * tw), "F(2×2) transforms whole tile rows")
            ck_wino2_input(strip, Int32(tileRows.count), Int32(tw), v + ch * t, c * t, useAVX2 ? 1 : 0)
        }
    }

    /// y tile = Aᵀ P A (F(2×2): Aᵀ = [[1,1,1,0],[0,1,−1,−1]]; F(4×4): winograd.c), plus bias
    /// and activation, for the tiles of `tiles` (numbered as in `inputTransform`); tiles past
    /// the output edge drop their rows/columns outside it.
    @inline(__always)
    private func outputTransform(
        _ p: UnsafePointer<Float>, channel o: Int, tileRows: Range<Int>, tiles: Range<Int>, into y: UnsafeMutablePointer<Float>,
        bias: Float
    ) {
        let win = g.window
        let (m, tw) = (g.outChannels, tilesW)
        let t = tiles.count
        let plane = y + o * win.outH * win.outW
        let oy0 = tile * tileRows.lowerBound
        // P[ξ][o][t]: this channel's tiles start at o·T, the ξ planes are M·T apart.
        if tile == 4 {
            ck_wino4_output_tiles(
                p + o * t, m * t, Int32(tw), Int32(tiles.lowerBound), Int32(t), plane + oy0 * win.outW, Int32(win.outW),
                Int32(win.outH - oy0), bias, clampLow, clampHigh, useAVX2 ? 1 : 0)
        } else {
            ck_wino2_output(
                p + o * t, m * t, Int32(tileRows.count), Int32(tw), plane + oy0 * win.outW, Int32(win.outW),
                Int32(win.outH - oy0), bias, clampLow, clampHigh, useAVX2 ? 1 : 0)
        }
        if case .leakyRelu = activation {
            // The rows this run of tiles touches (a run starting or ending inside a tile row
            // has the rest of that row's outputs done by another thread: leave those alone).
            let first = tiles.lowerBound, last = tiles.upperBound - 1
            for ty in (first / tw)...(last / tw) {
                let tx0 = ty == first / tw ? first % tw : 0, tx1 = ty == last / tw ? last % tw + 1 : tw
                let ox0 = tile * tx0, ox1 = min(win.outW, tile * tx1)
                for oy in (oy0 + tile * ty)..<min(win.outH, oy0 + tile * (ty + 1)) {
                    activation.apply(plane + oy * win.outW + ox0, ox1 - ox0)
                }
            }
        }
    }
}
