import CKernels
import Tensor

/// Pointwise convolution (1×1, no padding, one group) on the AVX2+FMA C kernel
/// (Sources/CKernels/pointwise.c): Y = act(bias + W·X) per image with W packed once here, X
/// read in place and Y written once — no zeroing pass (sgemm's beta = 0), no weight repacking
/// per call, no separate bias/activation pass. Measured against OpenBLAS sgemm + epilogue on
/// EfficientNet-Lite0's shapes (one thread): 1.3× faster in total, never slower by more than
/// noise (tools: see the engine report).
///
/// Strided 1×1 convolutions (ResNet's downsampling) first gather the subsampled input
/// planes into scratch (ck_im2col of the 1×1 window: C rows of outH·outW floats, `columnStride`
/// apart, per image and thread), then run the same kernel.
///
/// On AVX-512, narrow planes with many input channels (ck_lanes_fits: 7×7, and 13×13 … 14×14
/// when K ≥ 2M) take the channel-lanes kernel instead (Sources/CKernels/lanes.c: 32 output
/// channels in the lanes × up to 14 pixels per tile, so a 49-pixel plane fills its vectors);
/// `PackedGEMMWeights` packs for whichever kernel the shape takes.
///
/// Only used when the CPU runs AVX2+FMA (`applies`); otherwise `ConvKernel` (OpenBLAS) runs
/// the layer. Threads: whole images per thread when the batch allows, else column strips
/// (multiples of 16) of one image, or row panels (multiples of 6) when the image is narrow or
/// the weights outweigh it (M > H·W); with two threads where to cut is learned
/// (`SplitBalance`).
final class PointwiseConvKernel: Kernel {
    let g: ConvGeometry
    /// W [M, C], packed for the strip or the channel-lanes kernel.
    let packed: PackedGEMMWeights
    let bias: [Float]
    let activation: Activation
    /// A fused residual Add: input 3 (same shape as the output) is added before the activation.
    let residual: Bool
    /// One subsampled input image per thread (strided layers only).
    let scratchCount: Int
    /// Row stride of a subsampled image in scratch (`ColumnBands.stride`: room for ck_im2col's
    /// whole-vector stores, 64-byte lines).
    let columnStride: Int
    let threads: Int
    /// Where two threads cut one image's columns or rows (learned; see SplitBalance).
    let balance = SplitBalance()

    static func applies(to g: ConvGeometry) -> Bool {
        let w = g.window
        return w.kernelH == 1 && w.kernelW == 1 && w.padTop == 0 && w.padLeft == 0 && w.padBottom == 0 && w.padRight == 0
            && g.group == 1 && ck_has_avx2_fma() != 0
    }

    var isStrided: Bool { g.window.strideH != 1 || g.window.strideW != 1 }

    /// The residual: each tile of Y loads its residual values (and, on later k-blocks, Y's
    /// partial sums) before it stores to the same place, and no tile reads another's. Written
    /// in place, the output's lines are already in cache when the tile stores (read for the
    /// residual a moment before) instead of being fetched for ownership from a second 3 MB
    /// buffer, and the pass touches two large tensors instead of three.
    var overwritableInput: Int? { residual ? 3 : nil }

    init(geometry: ConvGeometry, weights: [Float], bias: [Float], activation: Activation, residual: Bool = false) {
        g = geometry; self.bias = bias; self.activation = activation; self.residual = residual
        threads = max(1, Parallel.threads)
        let w = geometry.window
        columnStride = ColumnBands.stride(w.outH * w.outW)
        scratchCount = w.strideH != 1 || w.strideW != 1 ? geometry.inChannels * columnStride * threads : 0
        packed = weights.withUnsafeBufferPointer {
            PackedGEMMWeights($0.baseAddress!, m: geometry.outChannels, k: geometry.inChannels, columns: w.outH * w.outW)
        }
    }

    func run(inputs: [UnsafePointer<Float>?], outputs: [UnsafeMutablePointer<Float>], scratch: UnsafeMutablePointer<Float>) {
        guard let input = inputs[0] else { return }
        let y = outputs[0]
        let r: UnsafePointer<Float>? = residual && inputs.count > 3 ? inputs[3] : nil
        let win = g.window
        let (m, k, hw, batch) = (g.outChannels, g.inChannels, win.outH * win.outW, g.batch)
        let act = activation.ck
        let t = min(Parallel.threads, threads)
        let packed = self.packed
        let strided = isStrided
        let ldx = strided ? columnStride : hw
        /// Image n's input as a [C × outH·outW] matrix with row stride ldx: the input itself at
        /// stride 1, else its subsampled copy in scratch slot `slot`.
        func image(_ n: Int, slot: Int) -> UnsafePointer<Float> {
            let src = input + n * k * win.inH * win.inW
            guard strided else { return src }
            let dst = scratch + slot * k * ldx
            // The subsampled planes are the im2col matrix of the 1×1 window.
            var window = win.ck
            ck_im2col(src, Int32(k), &window, 0, hw, 0, Int32(k), dst, ldx)
            return UnsafePointer(dst)
        }
        bias.withUnsafeBufferPointer { bp in
            let b = bp.baseAddress!
            /// Rows and columns of image n; a 0 from the kernel means the ISA was switched
            /// after this kernel was built (tests only): poison the output so it shows.
            func call(_ n: Int, _ x: UnsafePointer<Float>, rows: Range<Int>, cols: Range<Int>) {
                let ok = packed.product(
                    bias: b, residual: r.map { $0 + n * m * hw }, x: x, ldx: ldx, y: y + n * m * hw, ldy: hw, rows: rows,
                    columns: cols, activation: act)
                if !ok { (y + n * m * hw).update(repeating: .nan, count: m * hw) }
            }
            if batch >= t && t > 1 {
                DispatchQueueHelper.run(t) { i in
                    for n in (batch * i / t)..<(batch * (i + 1) / t) { call(n, image(n, slot: i), rows: 0..<m, cols: 0..<hw) }
                }
                return
            }
            for n in 0..<batch {
                let x = image(n, slot: 0)
                if !Parallel.splitsProduct(macs: m * k * hw, threads: t) {
                    call(n, x, rows: 0..<m, cols: 0..<hw)
                } else if hw >= 32 * t && m <= hw {
                    // Column strips: each thread reads all of W and its share of X. When W
                    // is the larger operand (m > hw, i.e. M·K > K·hw) row panels instead
                    // halve each thread's weight traffic (SqueezeNet's conv10, 1000 × 512
                    // at 13×13: 1.36 → 1.22 ms on 2 threads, measured in session 3). Where
                    // the data lives matters as much: ResNet-50's 14×14 layers all on column
                    // strips (session 13, 2 threads, min of 10 interleaved rounds) ran the
                    // residual 1024×256 ones 0.63 → 0.54 ms but the 256×1024 ones after them
                    // 0.56 → 0.66, the strided 1024×512 1.25 → 1.39, the 7×7 2048×1024 1.05 →
                    // 1.30 (no net gain); strips on the residual layers alone made both kinds
                    // ~15 % slower (the next layer then reads the block's output from the
                    // other core's cache). Balancing the split dynamically instead (each thread
                    // starts on its share and then takes 32-column pieces, or 6-row panels, from
                    // the back of the other's; the pool's counters had the caller waiting
                    // 0.6–1.0 s of 5 s of SqueezeNet for the worker): 0.997 with pieces of a
                    // quarter share, 0.88 with single strips (benchmarks/turns.py, session 15).
                    // Two threads move the cut instead (SplitBalance), in whole 32-column
                    // strips: a strip cut in two runs as two 16-column tiles, whose sums round
                    // differently, and the output would change with the cut.
                    if t == 2 {
                        balance.run(count: hw, granularity: 32) { _, cols in call(n, x, rows: 0..<m, cols: cols) }
                    } else {
                        DispatchQueueHelper.run(t) { i in
                            let lower = (hw * i / t) & ~15, upper = i == t - 1 ? hw : (hw * (i + 1) / t) & ~15
                            if lower < upper { call(n, x, rows: 0..<m, cols: lower..<upper) }
                        }
                    }
                } else if t == 2 {
                    balance.run(count: m, granularity: packed.rowBlock) { _, rows in call(n, x, rows: rows, cols: 0..<hw) }
                } else {
                    DispatchQueueHelper.run(t) { i in
                        let rows = Parallel.panelRows(m, part: i, of: t, perPanel: packed.rowBlock)
                        if !rows.isEmpty { call(n, x, rows: rows, cols: 0..<hw) }
                    }
                }
            }
        }
    }
}
