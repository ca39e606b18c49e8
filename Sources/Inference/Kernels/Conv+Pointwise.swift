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
/// Narrow images (7×7 maps: ResNet's and EfficientNet's last stages) run on the variant that
/// vectorizes over output channels (Sources/CKernels/pointwise_narrow.c): 49 pixels leave
/// 7 of the 56 lanes of the pixel-vectorized kernel idle, a channel-vectorized tile wastes
/// none. Measured (one thread, thread CPU time, GFLOP/s pixel tiles → channel tiles):
/// M×K×N 192×1152×49 68 → 76, 512×2048×49 67 → 78, 2048×512×49 67 → 75, 1152×192×49 72 → 73;
/// tiny layers (64×64×49: 63 → 51) and 13×13 or wider maps (1000×512×169: 80 → 79) keep the
/// pixel-vectorized kernel.
///
/// Only used when the CPU runs AVX2+FMA (`applies`); otherwise `ConvKernel` (OpenBLAS) runs
/// the layer. Threads: whole images per thread when the batch allows, else column strips
/// (multiples of 16) of one image, or row panels (multiples of 6) when the image is narrow or
/// the weights outweigh it (M > H·W).
final class PointwiseConvKernel: Kernel {
    let g: ConvGeometry
    /// W [M, C] in panels of CK_PW_PANEL_ROWS rows, k-major inside a panel (ck_pointwise.h).
    let packed: [Float]
    let bias: [Float]
    let activation: Activation
    /// A fused residual Add: input 3 (same shape as the output) is added before the activation.
    let residual: Bool
    /// Per thread: a subsampled input image (strided layers only), then the narrow kernel's
    /// transposed X (narrow layers only).
    let scratchCount: Int
    let gatherFloats: Int, narrowFloats: Int
    /// Whether the channel-vectorized kernel runs this layer (then `packed` is in its layout).
    let narrow: Bool
    /// Row stride of a subsampled image in scratch (`ColumnBands.stride`: room for ck_im2col's
    /// whole-vector stores, 64-byte lines).
    let columnStride: Int
    let threads: Int

    static func applies(to g: ConvGeometry) -> Bool {
        let w = g.window
        return w.kernelH == 1 && w.kernelW == 1 && w.padTop == 0 && w.padLeft == 0 && w.padBottom == 0 && w.padRight == 0
            && g.group == 1 && ck_has_avx2_fma() != 0
    }

    var isStrided: Bool { g.window.strideH != 1 || g.window.strideW != 1 }

    /// Pixels per image up to which (when not a whole number of 16-pixel strips) the narrow
    /// kernel runs, and the weight count below which it does not (its transposes dominate).
    static let narrowMaxPixels = 56, narrowMinWeights = 1 << 16

    static func prefersNarrow(_ g: ConvGeometry) -> Bool {
        let hw = g.window.outH * g.window.outW
        return hw <= narrowMaxPixels && hw % 16 != 0 && g.outChannels * g.inChannels >= narrowMinWeights
    }

    init(geometry: ConvGeometry, weights: [Float], bias: [Float], activation: Activation, residual: Bool = false, narrow forced: Bool? = nil) {
        g = geometry; self.bias = bias; self.activation = activation; self.residual = residual
        threads = max(1, Parallel.threads)
        let w = geometry.window
        let (m, k) = (Int32(geometry.outChannels), Int32(geometry.inChannels))
        let hw = w.outH * w.outW
        narrow = forced ?? PointwiseConvKernel.prefersNarrow(geometry)
        columnStride = ColumnBands.stride(hw)
        gatherFloats = w.strideH != 1 || w.strideW != 1 ? geometry.inChannels * columnStride : 0
        narrowFloats = narrow ? ck_pointwise_narrow_scratch_floats(k, Int32(hw)) : 0
        scratchCount = (gatherFloats + narrowFloats) * threads
        let count = narrow ? ck_pointwise_narrow_packed_floats(m, k) : ck_pointwise_packed_floats(m, k)
        let isNarrow = narrow
        packed = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            weights.withUnsafeBufferPointer {
                if isNarrow {
                    ck_pointwise_narrow_pack($0.baseAddress, m, k, buffer.baseAddress)
                } else {
                    ck_pointwise_pack($0.baseAddress, m, k, buffer.baseAddress)
                }
            }
            initialized = count
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
        let strided = isStrided
        let ldx = strided ? columnStride : hw
        /// Image n's input as a [C × outH·outW] matrix with row stride ldx: the input itself at
        /// stride 1, else its subsampled copy in scratch slot `slot`.
        func image(_ n: Int, slot: Int) -> UnsafePointer<Float> {
            let src = input + n * k * win.inH * win.inW
            guard strided else { return src }
            let dst = scratch + slot * (gatherFloats + narrowFloats)
            // The subsampled planes are the im2col matrix of the 1×1 window.
            var window = win.ck
            ck_im2col(src, Int32(k), &window, 0, hw, 0, Int32(k), dst, ldx)
            return UnsafePointer(dst)
        }
        packed.withUnsafeBufferPointer { pp in
            bias.withUnsafeBufferPointer { bp in
                let p = pp.baseAddress!, b = bp.baseAddress!
                /// Rows and columns of image n; a 0 from the kernel means the ISA was switched
                /// after this kernel was built (tests only): poison the output so it shows.
                func call(_ n: Int, _ x: UnsafePointer<Float>, rows: Range<Int>, cols: Range<Int>, slot: Int) {
                    let ok: Int32
                    if narrow {
                        ok = ck_pointwise_narrow_conv(
                            p, b, r.map { $0 + n * m * hw }, x, y + n * m * hw, Int32(m), Int32(k), Int32(hw), Int32(ldx), Int32(hw),
                            Int32(rows.lowerBound), Int32(rows.upperBound), act, scratch + slot * (gatherFloats + narrowFloats) + gatherFloats)
                    } else {
                        ok = ck_pointwise_conv(
                            p, b, r.map { $0 + n * m * hw }, x, y + n * m * hw, Int32(m), Int32(k), Int32(ldx), Int32(hw),
                            Int32(rows.lowerBound), Int32(rows.upperBound), Int32(cols.lowerBound), Int32(cols.upperBound), act)
                    }
                    if ok == 0 { (y + n * m * hw).update(repeating: .nan, count: m * hw) }
                }
                if batch >= t && t > 1 {
                    DispatchQueueHelper.run(t) { i in
                        for n in (batch * i / t)..<(batch * (i + 1) / t) { call(n, image(n, slot: i), rows: 0..<m, cols: 0..<hw, slot: i) }
                    }
                    return
                }
                for n in 0..<batch {
                    let x = image(n, slot: 0)
                    // Below ~1 MFLOP a split costs more in dispatch than it saves.
                    if t <= 1 || m * k * hw < 1 << 19 {
                        call(n, x, rows: 0..<m, cols: 0..<hw, slot: 0)
                    } else if hw >= 32 * t && m <= hw && !narrow {
                        // Column strips: each thread reads all of W and its share of X. When W
                        // is the larger operand (m > hw, i.e. M·K > K·hw) row panels instead
                        // halve each thread's weight traffic (SqueezeNet's conv10, 1000 × 512
                        // at 13×13: 1.36 → 1.22 ms on 2 threads, measured in session 3).
                        DispatchQueueHelper.run(t) { i in
                            let lower = (hw * i / t) & ~15, upper = i == t - 1 ? hw : (hw * (i + 1) / t) & ~15
                            if lower < upper { call(n, x, rows: 0..<m, cols: lower..<upper, slot: i) }
                        }
                    } else {
                        // Whole panels per thread; the narrow kernel transposes X into each thread's slot.
                        let rowsPerPanel = Int(narrow ? CK_PWN_PANEL_CHANNELS : CK_PW_PANEL_ROWS)
                        let panels = (m + rowsPerPanel - 1) / rowsPerPanel
                        DispatchQueueHelper.run(t) { i in
                            let lower = panels * i / t * rowsPerPanel, upper = min(m, panels * (i + 1) / t * rowsPerPanel)
                            if lower < upper { call(n, x, rows: lower..<upper, cols: 0..<hw, slot: i) }
                        }
                    }
                }
            }
        }
    }
}
