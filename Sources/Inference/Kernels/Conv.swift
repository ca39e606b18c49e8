/// ONNX `Conv` (2-D, NCHW): groups (incl. depthwise), strides, dilations, explicit or automatic
/// padding, optional bias; plus what the load-time passes fuse into it: a per-output-channel
/// bias change (folded BatchNormalization), a residual Add (input 3, `ResidualAddFusion`), an
/// activation epilogue (Relu, Clip), applied in that order, and a MaxPool of the result
/// (`ConvMaxPoolFusion`: the output is then the pooled tensor).
struct ConvOp: Operator {
    let node: Node
    var group: Int
    var kernelShape: [Int]?
    /// Extra zero padding merged from a preceding `Pad` node [top, left, bottom, right].
    var extraPads = [0, 0, 0, 0]
    var activation = Activation.none
    /// Input 3 is a tensor of the output's shape added before the activation (a fused Add).
    var residual = false
    /// A MaxPool applied to the activated output (fused; see `ConvMaxPoolKernel`).
    var maxPool: PoolOp?

    init(node: Node) throws {
        self.node = node
        group = try node.int("group", default: 1)
        kernelShape = try node.ints("kernel_shape")
        guard group >= 1 else { throw OpError("group \(group) must be positive") }
    }

    /// The geometry for an input shape [N, C, H, W] and weights [M, C/group, kH, kW].
    func geometry(input: [Int], weights: [Int]) throws -> ConvGeometry {
        guard input.count == 4 else { throw OpError("only 2-D convolution on NCHW input is supported, got input \(input)") }
        guard weights.count == 4, weights.allSatisfy({ $0 > 0 }) else {
            throw OpError("weights \(weights) must be [M, C/group, kH, kW] with positive extents")
        }
        let kernel = kernelShape ?? Array(weights[2...])
        guard kernel == Array(weights[2...]) else { throw OpError("kernel_shape \(kernel) does not match weights \(weights)") }
        guard input[1] == weights[1] * group, weights[0] % group == 0 else {
            throw OpError("input channels \(input[1]) / weights \(weights) do not fit group \(group)")
        }
        var window = try Window(
            node: node, kernel: kernel, inH: input[2] + extraPads[0] + extraPads[2], inW: input[3] + extraPads[1] + extraPads[3])
        // Extra pads are applied as padding, not as a larger input.
        window.inH = input[2]; window.inW = input[3]
        window.padTop += extraPads[0]; window.padLeft += extraPads[1]
        window.padBottom += extraPads[2]; window.padRight += extraPads[3]
        return ConvGeometry(batch: input[0], inChannels: input[1], outChannels: weights[0], group: group, window: window)
    }

    func infer(_ inputs: [ValueInfo?]) throws -> [ValueInfo] {
        let x = try required(inputs, 0, "X"), w = try required(inputs, 1, "W")
        let g = try geometry(input: x.shape, weights: w.shape)
        if inputs.count > 2, let b = inputs[2], b.count != g.outChannels {
            throw OpError("bias has \(b.count) values for \(g.outChannels) output channels")
        }
        if residual {
            guard inputs.count > 3, let r = inputs[3], r.shape == g.outputShape else {
                throw OpError("fused residual input must have the output's shape \(g.outputShape)")
            }
        }
        if let maxPool { return try maxPool.infer([ValueInfo(shape: g.outputShape)]) }
        return [ValueInfo(shape: g.outputShape)]
    }

    func evaluate(_ inputs: [HostTensor?]) throws -> [HostTensor] {
        let x = try required(inputs, 0, "X"), w = try required(inputs, 1, "W")
        let g = try geometry(input: x.shape, weights: w.shape)
        let bias = inputs.count > 2 ? inputs[2]?.asFloats : nil
        var out = ConvReference.run(g, input: x.asFloats, weights: w.asFloats, bias: bias)
        if residual {
            let r = try required(inputs, 3, "residual").asFloats
            for i in out.indices { out[i] += r[i] }
        }
        out = activation.applied(to: out)
        let result = HostTensor(shape: g.outputShape, floats: out)
        if let maxPool { return try maxPool.evaluate([result]) }
        return [result]
    }

    func makeKernel(_ inputs: [ValueInfo?], outputs: [ValueInfo]) throws -> Kernel {
        let x = try required(inputs, 0, "X")
        let w = try constantInput(inputs, 1, "W")
        let g = try geometry(input: x.shape, weights: w.shape)
        var bias = [Float](repeating: 0, count: g.outChannels)
        if inputs.count > 2, inputs[2] != nil { bias = try constantInput(inputs, 2, "B").asFloats }
        if let maxPool {
            let window = try maxPool.window(g.outputShape)
            guard ConvMaxPoolKernel.applies(conv: g, pool: window), !residual else {
                throw OpError("the fused MaxPool needs the packed-GEMM convolution (AVX2+FMA), which this CPU does not run now")
            }
            if let stem = StemMaxPoolKernel(geometry: g, weights: w.asFloats, bias: bias, activation: activation, pool: window) {
                return stem
            }
            return ConvMaxPoolKernel(geometry: g, weights: w.asFloats, bias: bias, activation: activation, pool: window)
        }
        if PointwiseConvKernel.applies(to: g) {
            return PointwiseConvKernel(geometry: g, weights: w.asFloats, bias: bias, activation: activation, residual: residual)
        }
        // Small planes on AVX-512 (7×7, and deep 13×13 … 14×14 ones) take the direct lanes kernel
        // unless Winograd runs them as F(4×4), which does a quarter of the multiplies: there
        // it won by 1.4× (ResNet-50's 256-channel and VGG-19's 512-channel 14×14 layers; open-nsfw's
        // 32-, 64- and 128-channel ones at 56×56, 28×28 and 14×14 1.2–1.6×, session 13), while
        // F(2×2) at 7×7 lost to the direct kernel (DenseNet-121's 128 → 32 layers 0.18 → 0.04 ms).
        if LanesWindowConvKernel.applies(to: g) && !(WinogradConvKernel.applies(to: g) && WinogradConvKernel.usesF4(g)) {
            return LanesWindowConvKernel(geometry: g, weights: w.asFloats, bias: bias, activation: activation, residual: residual)
        }
        // The other kernels know no residual: they run without the activation, and a second
        // pass adds the residual and activates.
        let inner = residual ? Activation.none : activation
        let kernel: Kernel
        if WinogradConvKernel.applies(to: g) {
            kernel = WinogradConvKernel(geometry: g, weights: w.asFloats, bias: bias, activation: inner)
        } else {
            kernel = ConvKernel(geometry: g, weights: w.asFloats, bias: bias, activation: inner)
        }
        return residual ? ResidualEpilogueKernel(inner: kernel, count: g.outputShape.reduce(1, *), activation: activation) : kernel
    }
}

/// Sizes of one convolution, all in elements.
struct ConvGeometry {
    var batch: Int, inChannels: Int, outChannels: Int, group: Int
    var window: Window

    var outputShape: [Int] { [batch, outChannels, window.outH, window.outW] }
    var inChannelsPerGroup: Int { inChannels / group }
    var outChannelsPerGroup: Int { outChannels / group }
    /// Rows of the im2col matrix = columns of one group's weight matrix.
    var patchSize: Int { inChannelsPerGroup * window.kernelH * window.kernelW }
    var isDepthwise: Bool { group == inChannels && group == outChannels && group > 1 }
    /// 1x1, stride 1, no padding: the input plane is already the im2col matrix.
    var isPointwise: Bool {
        let w = window
        return w.kernelH == 1 && w.kernelW == 1 && w.strideH == 1 && w.strideW == 1
            && w.padTop == 0 && w.padLeft == 0 && w.padBottom == 0 && w.padRight == 0
    }
}

/// The plain, obviously correct convolution the fast kernels are tested against.
enum ConvReference {
    static func run(_ g: ConvGeometry, input: [Float], weights: [Float], bias: [Float]?) -> [Float] {
        let w = g.window
        let (cg, mg) = (g.inChannelsPerGroup, g.outChannelsPerGroup)
        var out = [Float](repeating: 0, count: g.outputShape.reduce(1, *))
        for n in 0..<g.batch {
            for m in 0..<g.outChannels {
                let group = m / mg
                for oy in 0..<w.outH {
                    for ox in 0..<w.outW {
                        var sum: Float = bias?[m] ?? 0
                        for c in 0..<cg {
                            let ic = group * cg + c
                            for ky in 0..<w.kernelH {
                                let iy = oy * w.strideH - w.padTop + ky * w.dilationH
                                if iy < 0 || iy >= w.inH { continue }
                                for kx in 0..<w.kernelW {
                                    let ix = ox * w.strideW - w.padLeft + kx * w.dilationW
                                    if ix < 0 || ix >= w.inW { continue }
                                    let xv = input[((n * g.inChannels + ic) * w.inH + iy) * w.inW + ix]
                                    let wv = weights[((m * cg + c) * w.kernelH + ky) * w.kernelW + kx]
                                    sum += xv * wv
                                }
                            }
                        }
                        out[((n * g.outChannels + m) * w.outH + oy) * w.outW + ox] = sum
                    }
                }
            }
        }
        return out
    }
}
