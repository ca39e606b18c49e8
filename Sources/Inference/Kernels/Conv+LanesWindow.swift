import CKernels
import Tensor

/// Direct convolution of small planes on the channel-lanes kernel (AVX-512; ck_lanes.h,
/// ck_lanes_window_conv): one group, horizontal stride 1 or 2, any window, where the product's
/// shape fits the lanes kernel (ck_lanes_fits: ≤ 64 output pixels, or ≤ 256 with K ≥ 2M) or
/// K ≥ 2M on any plane (ck_lanes_window_fits), and Winograd would not run it as F(4×4)
/// (Conv.swift). In the models: the 3×3 layers at 7×7 (ResNet-50's 512-channel ones, stride 1
/// and 2; open-nsfw's 256-channel; DenseNet-121's 128 → 32), ResNet-50's stride-2 layers onto
/// 28×28 and 14×14, Inception v1's 5×5 layers and its 3×3 at 7×7.
///
/// Each image is copied once into zero-padded planes in scratch; the kernel then broadcasts
/// every tile's pixels straight from them (a k-block of ~96 values reads ~11 padded planes, in
/// L1), so no column matrix is written. The implicit GEMM it replaces (`ConvKernel`, 32-pixel
/// strips gathered per k-block) fills a 49-pixel plane's strips badly (32 + 16 + 1); here a
/// tile is 32 output channels × two 7-pixel rows. Measured hot, one thread, CPU time
/// (ck_implicit_conv → this, M×K×N): 256×2304×49 0.49 → 0.36 ms (117 → 162 GFLOP/s),
/// 512×4608×49 stride 2 1.97 → 1.51, 256×2304×196 stride 2 1.71 → 1.44, 128×1152×49 0.133 →
/// 0.087, 32×1152×49 0.047 → 0.022. In the models (one thread, min of 8 interleaved rounds):
/// ResNet-50's 7×7 layers 2.18 → 1.67 ms (stride 2: 2.24 → 1.76; onto 14×14: 1.86 → 1.64),
/// open-nsfw's 0.59 → 0.49 (ONNX Runtime 0.52); against Winograd F(2×2), DenseNet-121's
/// 7×7 layers 0.18 → 0.04 ms.
///
/// Several images share one pass over the weights (`imagesPerPass`: a chunk of 16 tiles is
/// four 7×7 images), so a batch streams each layer's weights a quarter as often. Threads:
/// whole images when the batch allows; in one image, blocks of 32 output channels (each
/// thread reads its share of the weights, the layer's largest operand), or pixel halves when
/// there are too few blocks.
final class LanesWindowConvKernel: Kernel {
    let g: ConvGeometry
    /// W [M × C·kh·kw] packed by ck_lanes_pack.
    let packed: AlignedFloats
    /// ck_lanes_window_offsets: each column's offset in the padded planes.
    let offsets: [Int32]
    let bias: [Float]
    let activation: Activation
    /// A fused residual Add: input 3 (same shape as the output) is added before the activation.
    let residual: Bool
    let threads: Int
    /// Images padded together and computed in one pass over the weights.
    let imagesPerPass: Int
    /// Floats from one padded image to the next in scratch (64-byte lines).
    let paddedStride: Int
    /// Floats of one zero-padded input plane.
    let paddedPlaneFloats: Int
    let scratchCount: Int

    static func applies(to g: ConvGeometry) -> Bool {
        var window = g.window.ck
        return g.group == 1 && !g.isPointwise && !g.isDepthwise
            && ck_lanes_window_fits(Int32(g.outChannels), Int32(g.inChannels), &window) != 0
    }

    /// Same as ck_lanes_conv's column split: the residual's elements are read just before the
    /// same elements of the output are written.
    var overwritableInput: Int? { residual ? 3 : nil }

    init(geometry: ConvGeometry, weights: [Float], bias: [Float], activation: Activation, residual: Bool = false) {
        g = geometry; self.bias = bias; self.activation = activation; self.residual = residual
        threads = max(1, Parallel.threads)
        let (m, k) = (geometry.outChannels, geometry.patchSize)
        packed = AlignedFloats(count: ck_lanes_packed_floats(Int32(m), Int32(k))) { buffer in
            weights.withUnsafeBufferPointer { ck_lanes_pack($0.baseAddress!, Int32(m), Int32(k), buffer) }
        }
        var window = geometry.window.ck
        var offsets = [Int32](repeating: 0, count: k)
        offsets.withUnsafeMutableBufferPointer { ck_lanes_window_offsets(Int32(geometry.inChannels), &window, $0.baseAddress!) }
        self.offsets = offsets
        paddedStride = (ck_lanes_padded_floats(Int32(geometry.inChannels), &window) + 15) & ~15
        paddedPlaneFloats = ck_lanes_padded_floats(1, &window)
        imagesPerPass = min(geometry.batch, Int(ck_lanes_window_images_per_pass(&window)))
        let slots = geometry.batch >= threads && threads > 1 ? threads : 1
        scratchCount = slots * imagesPerPass * paddedStride
    }

    func run(inputs: [UnsafePointer<Float>?], outputs: [UnsafeMutablePointer<Float>], scratch: UnsafeMutablePointer<Float>) {
        guard let x = inputs[0] else { return }
        let y = outputs[0]
        let r: UnsafePointer<Float>? = residual && inputs.count > 3 ? inputs[3] : nil
        let win = g.window
        let (m, k, c, batch, plane) = (g.outChannels, g.patchSize, g.inChannels, g.batch, win.outH * win.outW)
        let (inImage, outImage, padded, perPass) = (c * win.inH * win.inW, m * plane, paddedStride, imagesPerPass)
        let act = activation.ck
        let t = min(Parallel.threads, threads)
        let w = UnsafePointer(packed.base)
        offsets.withUnsafeBufferPointer { op in
            bias.withUnsafeBufferPointer { bp in
                let (koff, b) = (op.baseAddress!, bp.baseAddress!)
                /// Images [n0, n0 + count) padded into `slot`.
                func pad(_ n0: Int, _ count: Int, into slot: UnsafeMutablePointer<Float>) {
                    var window = win.ck
                    for i in 0..<count { ck_lanes_pad(x + (n0 + i) * inImage, Int32(c), &window, slot + i * padded) }
                }
                /// Rows and pixels (through the pass's images) of images from n0, padded in `slot`;
                /// a 0 from the kernel means the ISA was capped after this kernel was built
                /// (tests only): poison the output so it shows.
                func conv(_ n0: Int, _ count: Int, _ slot: UnsafePointer<Float>, rows: Range<Int>, pixels: Range<Int>) {
                    var window = win.ck
                    let ok = ck_lanes_window_conv(
                        w, b, r.map { $0 + n0 * outImage }, slot, koff, y + n0 * outImage, Int32(m), Int32(k), &window, padded,
                        outImage, Int32(rows.lowerBound), Int32(rows.upperBound), pixels.lowerBound, pixels.upperBound, act)
                    if ok == 0 { (y + n0 * outImage).update(repeating: .nan, count: count * outImage) }
                }
                if batch >= t && t > 1 {
                    DispatchQueueHelper.run(t) { i in
                        let slot = scratch + i * perPass * padded
                        var n = batch * i / t
                        let end = batch * (i + 1) / t
                        while n < end {
                            let count = min(perPass, end - n)
                            pad(n, count, into: slot)
                            conv(n, count, slot, rows: 0..<m, pixels: 0..<(count * plane))
                            n += count
                        }
                    }
                    return
                }
                let blocks = (m + Int(CK_LANES_BLOCK_ROWS) - 1) / Int(CK_LANES_BLOCK_ROWS)
                var n = 0
                while n < batch {
                    let count = min(perPass, batch - n)
                    let pixels = count * plane
                    let splits = Parallel.splitsProduct(macs: m * k * pixels, threads: t)
                    if splits && count == 1 && inImage >= 1 << 16 {
                        // A large image (a wide plane's padded copy takes ~5 % of the layer)
                        // is padded by all threads, a share of the channels each.
                        let (inPlane, paddedPlane) = (win.inH * win.inW, paddedPlaneFloats)
                        DispatchQueueHelper.run(t) { i in
                            let (c0, c1) = (c * i / t, c * (i + 1) / t)
                            var window = win.ck
                            if c0 < c1 {
                                ck_lanes_pad(x + n * inImage + c0 * inPlane, Int32(c1 - c0), &window, scratch + c0 * paddedPlane)
                            }
                        }
                    } else {
                        pad(n, count, into: scratch)
                    }
                    if !splits {
                        conv(n, count, scratch, rows: 0..<m, pixels: 0..<pixels)
                    } else if blocks >= 2 * t && m * 2 >= plane {
                        // The weights outweigh the image (7×7 and 14×14 planes): each thread
                        // reads its share of them and all of the padded input.
                        DispatchQueueHelper.run(t) { i in
                            let rows = Parallel.panelRows(m, part: i, of: t, perPanel: Int(CK_LANES_BLOCK_ROWS))
                            if !rows.isEmpty { conv(n, count, scratch, rows: rows, pixels: 0..<pixels) }
                        }
                    } else {
                        // Whole output rows per thread: each reads its part of the padded
                        // input (wide planes) and all of the (smaller) weights.
                        let rowsOut = count * win.outH
                        DispatchQueueHelper.run(t) { i in
                            let part = (rowsOut * i / t * win.outW)..<(rowsOut * (i + 1) / t * win.outW)
                            if !part.isEmpty { conv(n, count, scratch, rows: 0..<m, pixels: part) }
                        }
                    }
                    n += count
                }
            }
        }
    }
}
