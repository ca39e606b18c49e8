import CKernels
import Foundation

/// ONNX `BatchNormalization` (inference form): y = (x − mean) / sqrt(var + ε) · scale + B per
/// channel (axis 1). Usually folded into the preceding Conv by `BatchNormIntoConv`; this kernel
/// runs the ones that are not.
struct BatchNormOp: Operator {
    let epsilon: Float
    init(node: Node) throws {
        epsilon = try node.float("epsilon", default: 1e-5)
        if node.outputs.dropFirst().contains(where: { !$0.isEmpty }) && node.opset >= 14 {
            throw OpError("training-mode outputs (running mean/var) are not supported")
        }
    }

    /// Per-channel (multiplier, addend) with y = x · a + b, from constant parameters.
    func affine(_ inputs: [ValueInfo?], channels: Int) throws -> (a: [Float], b: [Float]) {
        let scale = try constantInput(inputs, 1, "scale").asFloats
        let bias = try constantInput(inputs, 2, "B").asFloats
        let mean = try constantInput(inputs, 3, "mean").asFloats
        let variance = try constantInput(inputs, 4, "var").asFloats
        guard [scale.count, bias.count, mean.count, variance.count].allSatisfy({ $0 == channels }) else {
            throw OpError("parameters must have \(channels) values (one per channel)")
        }
        var a = [Float](repeating: 0, count: channels), b = a
        for c in 0..<channels {
            a[c] = scale[c] / (variance[c] + epsilon).squareRoot()
            b[c] = bias[c] - mean[c] * a[c]
        }
        return (a, b)
    }

    func infer(_ inputs: [ValueInfo?]) throws -> [ValueInfo] {
        let x = try required(inputs, 0, "X")
        guard x.shape.count >= 2 else { throw OpError("input \(x.shape) needs a channel axis") }
        return [ValueInfo(shape: x.shape)]
    }

    func evaluate(_ inputs: [HostTensor?]) throws -> [HostTensor] {
        let x = try required(inputs, 0, "X")
        let infos = inputs.map { $0.map { ValueInfo(constant: $0) } }
        let (a, b) = try affine(infos, channels: x.shape[1])
        let inner = x.shape[2...].reduce(1, *)
        var y = x.asFloats
        for i in 0..<y.count { let c = (i / inner) % x.shape[1]; y[i] = y[i] * a[c] + b[c] }
        return [HostTensor(shape: x.shape, floats: y)]
    }

    func makeKernel(_ inputs: [ValueInfo?], outputs: [ValueInfo]) throws -> Kernel {
        let x = try required(inputs, 0, "X")
        let (a, b) = try affine(inputs, channels: x.shape[1])
        return ChannelAffineKernel(planes: x.shape[0] * x.shape[1], channels: x.shape[1], inner: x.shape[2...].reduce(1, *), a: a, b: b)
    }
}

/// y = act(x · a[c] + b[c]) per channel (axis 1): not an ONNX operator, but what
/// `ChannelAffineFusion` makes of a BatchNormalization / per-channel Mul / Add chain (and
/// `ActivationFusion` of a Relu after it).
struct ChannelAffineOp: Operator {
    /// The op type merged steps show in `runtimeOpTypes` and `forward --profile`.
    static let opType = "ChannelAffine"
    let a: [Float], b: [Float]
    var activation: Activation

    func infer(_ inputs: [ValueInfo?]) throws -> [ValueInfo] {
        let x = try required(inputs, 0, "X")
        guard x.shape.count >= 2, x.shape[1] == a.count else { throw OpError("input \(x.shape) needs \(a.count) channels") }
        return [ValueInfo(shape: x.shape)]
    }

    func evaluate(_ inputs: [HostTensor?]) throws -> [HostTensor] {
        let x = try required(inputs, 0, "X")
        let inner = x.shape[2...].reduce(1, *)
        var y = x.asFloats
        for i in 0..<y.count { let c = (i / inner) % x.shape[1]; y[i] = y[i] * a[c] + b[c] }
        return [HostTensor(shape: x.shape, floats: activation.applied(to: y))]
    }

    func makeKernel(_ inputs: [ValueInfo?], outputs: [ValueInfo]) throws -> Kernel {
        let x = try required(inputs, 0, "X")
        return ChannelAffineKernel(
            planes: x.shape[0] * x.shape[1], channels: x.shape[1], inner: x.shape[2...].reduce(1, *), a: a, b: b,
            activation: activation)
    }
}

/// y = act(x · a[c] + b[c]) over NC… planes, the activation applied per plane while it is in cache.
final class ChannelAffineKernel: Kernel {
    let planes: Int, channels: Int, inner: Int
    let a: [Float], b: [Float]
    let activation: Activation
    init(planes: Int, channels: Int, inner: Int, a: [Float], b: [Float], activation: Activation = .none) {
        self.planes = planes; self.channels = channels; self.inner = inner; self.a = a; self.b = b
        self.activation = activation
    }
    func run(inputs: [UnsafePointer<Float>?], outputs: [UnsafeMutablePointer<Float>], scratch: UnsafeMutablePointer<Float>) {
        guard let x = inputs[0] else { return }
        let y = outputs[0], inner = self.inner, channels = self.channels
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                Parallel.forEachChunk(planes, work: planes * inner) { range in
                    for p in range {
                        let (av, bv) = (ap[p % channels], bp[p % channels])
                        let s = x + p * inner, d = y + p * inner
                        for i in 0..<inner { d[i] = s[i] * av + bv }
                        activation.apply(d, inner)
                    }
                }
            }
        }
    }
}

/// ONNX `LRN` across channels: y = x / (bias + α/size · Σ x²)^β, the sum over channels
/// c − ⌊(size−1)/2⌋ … c + ⌈(size−1)/2⌉.
struct LRNOp: Operator {
    let size: Int
    let alpha: Float, beta: Float, bias: Float
    init(node: Node) throws {
        size = try node.int("size", default: 0)
        guard size > 0 else { throw OpError("size is required and must be positive") }
        alpha = try node.float("alpha", default: 1e-4)
        beta = try node.float("beta", default: 0.75)
        bias = try node.float("bias", default: 1)
    }

    func infer(_ inputs: [ValueInfo?]) throws -> [ValueInfo] {
        let x = try required(inputs, 0, "X")
        guard x.shape.count >= 3 else { throw OpError("input \(x.shape) must be N×C×…") }
        return [ValueInfo(shape: x.shape)]
    }

    func evaluate(_ inputs: [HostTensor?]) throws -> [HostTensor] {
        let x = try required(inputs, 0, "X")
        guard x.count > 0 else { throw OpError("empty input") }
        var y = [Float](repeating: 0, count: x.count)
        let input = x.asFloats
        input.withUnsafeBufferPointer { i in
            y.withUnsafeMutableBufferPointer { o in
                LRNKernel(op: self, shape: x.shape).run(inputs: [i.baseAddress!], outputs: [o.baseAddress!], scratch: o.baseAddress!)
            }
        }
        return [HostTensor(shape: x.shape, floats: y)]
    }

    func makeKernel(_ inputs: [ValueInfo?], outputs: [ValueInfo]) throws -> Kernel {
        LRNKernel(op: self, shape: try required(inputs, 0, "X").shape)
    }
}

final class LRNKernel: Kernel {
    let op: LRNOp
    let batch: Int, channels: Int, inner: Int
    init(op: LRNOp, shape: [Int]) {
        self.op = op; batch = shape[0]; channels = shape[1]; inner = shape[2...].reduce(1, *)
    }

    /// y[c] = x[c] / (bias + alpha/size · Σ_{k in window(c)} x[k]²)^beta. beta = 0.75 (every
    /// network that uses LRN) runs on the C kernel (lrn075: Inception v1's two LRNs 4.32 →
    /// 0.70 ms, AlexNet's 2.52 → 0.40 ms, one thread, thread clock). Other betas, plane by plane: for
    /// each output channel the window's squares are summed into y's plane (contiguous,
    /// vectorized passes), then the plane is scaled in place. Channels are split across
    /// threads. beta = 0.75 (AlexNet, GoogLeNet, ZFNet) uses t^−0.75 = 1/(√t·√√t), which
    /// vectorizes, instead of a powf call per element (profiled: 10–16 % of Inception v1 and
    /// AlexNet were LRN and powf, walking channels with a stride of one plane).
    func run(inputs: [UnsafePointer<Float>?], outputs: [UnsafeMutablePointer<Float>], scratch: UnsafeMutablePointer<Float>) {
        guard let x = inputs[0] else { return }
        let y = outputs[0]
        let (channels, inner) = (self.channels, self.inner)
        let before = (op.size - 1) / 2, after = op.size - 1 - before
        let scale = op.alpha / Float(op.size), beta = op.beta, bias = op.bias
        if beta == 0.75 && op.size <= Int(CK_LRN_MAX_SIZE) {
            lrn075(x, y)
            return
        }
        Parallel.forEachChunk(batch * channels, work: batch * channels * inner * op.size) { range in
            for plane in range {
                let n = plane / channels, c = plane % channels
                let image = x + n * channels * inner
                let out = y + plane * inner
                let xc = image + c * inner
                out.update(repeating: 0, count: inner)
                for k in max(0, c - before)...min(channels - 1, c + after) {
                    let xk = image + k * inner
                    for i in 0..<inner { out[i] += xk[i] * xk[i] }
                }
                if beta == 0.75 {
                    for i in 0..<inner {
                        let t = bias + scale * out[i]
                        let r = t.squareRoot()
                        out[i] = xc[i] / (r * r.squareRoot())
                    }
                } else {
                    for i in 0..<inner { out[i] = xc[i] / Foundation.pow(bias + scale * out[i], beta) }
                }
            }
        }
    }
}

/// ONNX `Softmax` / `LogSoftmax`. Before opset 13 the input is coerced to 2-D at `axis`
/// (default 1) and normalized over the whole trailing block; from 13 on, over `axis` alone
/// (default −1).
struct SoftmaxOp: Operator {
    let axis: Int
    let legacy: Bool
    let log: Bool
    init(node: Node) throws {
        legacy = node.opset < 13
        axis = try node.int("axis", default: legacy ? 1 : -1)
        log = node.opType == "LogSoftmax"
    }

    /// (outer, n, inner): normalize over n elements spaced `inner` apart.
    func layout(_ shape: [Int]) throws -> (Int, Int, Int) {
        let a = try normalizedAxis(axis, rank: shape.count)
        if legacy { return (shape[..<a].reduce(1, *), shape[a...].reduce(1, *), 1) }
        return (shape[..<a].reduce(1, *), shape[a], shape[(a + 1)...].reduce(1, *))
    }

    func infer(_ inputs: [ValueInfo?]) throws -> [ValueInfo] {
        let x = try required(inputs, 0, "input")
        _ = try layout(x.shape)
        return [ValueInfo(shape: x.shape)]
    }

    func evaluate(_ inputs: [HostTensor?]) throws -> [HostTensor] {
        let x = try required(inputs, 0, "input")
        var y = x.asFloats
        let (outer, n, inner) = try layout(x.shape)
        y.withUnsafeMutableBufferPointer { p in
            if let base = p.baseAddress { SoftmaxKernel.softmax(base, base, outer: outer, n: n, inner: inner, log: log) }
        }
        return [HostTensor(shape: x.shape, floats: y)]
    }

    func makeKernel(_ inputs: [ValueInfo?], outputs: [ValueInfo]) throws -> Kernel {
        let (outer, n, inner) = try layout(try required(inputs, 0, "input").shape)
        return SoftmaxKernel(outer: outer, n: n, inner: inner, log: log)
    }
}

final class SoftmaxKernel: Kernel {
    let outer: Int, n: Int, inner: Int, log: Bool
    init(outer: Int, n: Int, inner: Int, log: Bool) { self.outer = outer; self.n = n; self.inner = inner; self.log = log }

    func run(inputs: [UnsafePointer<Float>?], outputs: [UnsafeMutablePointer<Float>], scratch: UnsafeMutablePointer<Float>) {
        guard let x = inputs[0] else { return }
        SoftmaxKernel.softmax(x, outputs[0], outer: outer, n: n, inner: inner, log: log)
    }

    /// Max-subtracted softmax, in double accumulation for the sum.
    static func softmax(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, outer: Int, n: Int, inner: Int, log: Bool) {
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * n * inner + i
                var m = -Float.infinity
                for k in 0..<n { m = max(m, x[base + k * inner]) }
                var sum: Double = 0
                for k in 0..<n { sum += Double(Foundation.exp(x[base + k * inner] - m)) }
                if log {
                    let ls = Float(Foundation.log(sum))
                    for k in 0..<n { y[base + k * inner] = x[base + k * inner] - m - ls }
                } else {
                    let inv = Float(1 / sum)
                    for k in 0..<n { y[base + k * inner] = Foundation.exp(x[base + k * inner] - m) * inv }
                }
            }
        }
    }
}

extension LRNKernel {
    /// beta = 0.75 on the C kernel (Sources/CKernels/lrn.c: columns of 16 positions walked
    /// through the channels with the window's squares in registers), columns split across
    /// threads.
    func lrn075(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        let (channels, inner, size, alpha, bias) = (Int32(self.channels), self.inner, Int32(op.size), op.alpha, op.bias)
        let columns = ck_lrn_columns(batch, inner)
        Parallel.forEachChunk(columns, work: batch * self.channels * inner * op.size) { range in
            ck_lrn_075(x, y, channels, inner, size, alpha, bias, range.lowerBound, range.upperBound)
        }
    }
}
