import CKernels
/// ONNX `MaxPool` and `AveragePool` (2-D, NCHW): kernel_shape, strides, pads, auto_pad,
/// ceil_mode, dilations, and for AveragePool count_include_pad. Planes are split across threads.
struct PoolOp: Operator {
    enum Kind { case max, average }
    let node: Node
    let kind: Kind
    let kernel: [Int]
    let ceilMode: Bool
    let countIncludePad: Bool

    init(node: Node, kind: Kind) throws {
        self.node = node; self.kind = kind
        guard let kernel = try node.ints("kernel_shape") else { throw OpError("kernel_shape is required") }
        self.kernel = kernel
        ceilMode = try node.int("ceil_mode", default: 0) != 0
        countIncludePad = try node.int("count_include_pad", default: 0) != 0
        if kind == .max, node.outputs.count > 1, !node.outputs[1].isEmpty {
            throw OpError("the Indices output of MaxPool is not supported")
        }
    }

    func window(_ shape: [Int]) throws -> Window {
        guard shape.count == 4 else { throw OpError("only 2-D pooling on NCHW input is supported, got \(shape)") }
        return try Window(node: node, kernel: kernel, inH: shape[2], inW: shape[3], ceilMode: ceilMode)
    }

    func infer(_ inputs: [ValueInfo?]) throws -> [ValueInfo] {
        let x = try required(inputs, 0, "X")
        let w = try window(x.shape)
        return [ValueInfo(shape: [x.shape[0], x.shape[1], w.outH, w.outW])]
    }

    func evaluate(_ inputs: [HostTensor?]) throws -> [HostTensor] {
        let x = try required(inputs, 0, "X")
        let w = try window(x.shape)
        guard x.count > 0 else { throw OpError("empty input") }
        let shape = [x.shape[0], x.shape[1], w.outH, w.outW]
        var out = [Float](repeating: 0, count: shape.reduce(1, *))
        let input = x.asFloats
        input.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                PoolKernel(kind: kind, window: w, planes: x.shape[0] * x.shape[1], countIncludePad: countIncludePad)
                    .pool(i.baseAddress!, o.baseAddress!)
            }
        }
        return [HostTensor(shape: shape, floats: out)]
    }

    func makeKernel(_ inputs: [ValueInfo?], outputs: [ValueInfo]) throws -> Kernel {
        let x = try required(inputs, 0, "X")
        return PoolKernel(kind: kind, window: try window(x.shape), planes: x.shape[0] * x.shape[1], countIncludePad: countIncludePad)
    }
}

final class PoolKernel: Kernel {
    let kind: PoolOp.Kind
    let w: Window
    let planes: Int
    let countIncludePad: Bool

    init(kind: PoolOp.Kind, window: Window, planes: Int, countIncludePad: Bool) {
        self.kind = kind; self.w = window; self.planes = planes; self.countIncludePad = countIncludePad
    }

    func run(inputs: [UnsafePointer<Float>?], outputs: [UnsafeMutablePointer<Float>], scratch: UnsafeMutablePointer<Float>) {
        guard let x = inputs[0] else { return }
        pool(x, outputs[0])
    }

    /// For each output position the window's input rows/cols are clamped to the input; the
    /// average divides by the clamped count, or with count_include_pad by the count clamped
    /// to the padded extent (so a ceil_mode window hanging past the end padding is not
    /// counted there, as ONNX Runtime does). The clamped ranges are computed per output row
    /// and column up front, so the inner loops carry no bounds checks.
    func pool(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        // MaxPool goes to the C kernel (Sources/CKernels/pool.c: AVX2 with a portable
        // fallback, any stride/dilation); the Swift paths below serve AveragePool only.
        if kind == .max {
            maxPoolC(x, y)
            return
        }
        let rowsY = PoolKernel.ranges(
            out: w.outH, stride: w.strideH, pad: w.padTop, dilation: w.dilationH, kernel: w.kernelH, size: w.inH, padEnd: w.padBottom)
        let colsX = PoolKernel.ranges(
            out: w.outW, stride: w.strideW, pad: w.padLeft, dilation: w.dilationW, kernel: w.kernelW, size: w.inW, padEnd: w.padRight)
        if w.outH == 1 && w.outW == 1 && rowsY[0].1 - rowsY[0].0 == w.inH && colsX[0].1 - colsX[0].0 == w.inW {
            averageWholePlanes(x, y, divisor: countIncludePad ? rowsY[0].2 * colsX[0].2 : w.inH * w.inW)
        } else if w.dilationH == 1 && w.dilationW == 1 {
            poolByRows(x, y, rowsY: rowsY, colsX: colsX)
        } else {
            poolByTaps(x, y, rowsY: rowsY, colsX: colsX)
        }
    }

    /// Per output (row or column) index: (first tap inside the input, end of the taps inside,
    /// end of the taps inside the padded extent).
    static func ranges(out: Int, stride: Int, pad: Int, dilation: Int, kernel: Int, size: Int, padEnd: Int) -> [(Int, Int, Int)] {
        (0..<out).map { o in
            let start = o * stride - pad
            func count(below limit: Int) -> Int {  // taps k >= 0 with start + k·dilation < limit
                limit - start <= 0 ? 0 : min(kernel, (limit - start + dilation - 1) / dilation)
            }
            let lo = start >= 0 ? 0 : min(kernel, (-start + dilation - 1) / dilation)
            return (lo, max(lo, count(below: size)), count(below: size + padEnd))
        }
    }

    /// AveragePool, undilated windows, separably: per output row, the kernelH input rows are
    /// first summed column by column into a row buffer — contiguous, vectorized passes — then
    /// each output sums kernelW neighbours of that buffer. Buffer index j holds input column
    /// j − padLeft; columns outside the input stay 0, so the horizontal pass needs no bounds.
    /// Profiled: the tap-by-tap loop took 17–20 % of SqueezeNet and Inception v1 at batch 1.
    private func poolByRows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rowsY: [(Int, Int, Int)], colsX: [(Int, Int, Int)]) {
        let w = self.w, includePad = countIncludePad
        let inPlane = w.inH * w.inW, outPlane = w.outH * w.outW
        let (kW, sW, outW) = (w.kernelW, w.strideW, w.outW)
        let rowLength = (outW - 1) * sW + kW
        let jLo = min(rowLength, w.padLeft), jHi = max(jLo, min(rowLength, w.padLeft + w.inW))
        // Average divisors per output column for a full set of rows are (rows counted) × this.
        let columnCounts = colsX.map { includePad ? $0.2 : $0.1 - $0.0 }
        Parallel.forEachChunk(planes, work: planes * outPlane * w.kernelH * kW) { range in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: rowLength) { buffer in
                guard let r = buffer.baseAddress else { return }
                r.initialize(repeating: 0, count: rowLength)
                for p in range {
                    let src = x + p * inPlane
                    let dst = y + p * outPlane
                    for oy in 0..<w.outH {
                        let (kyLo, kyHi, kyPad) = rowsY[oy]
                        let y0 = oy * w.strideH - w.padTop
                        let inside = r + jLo, count = jHi - jLo
                        if kyLo >= kyHi {
                            inside.update(repeating: 0, count: count)
                        } else {
                            let first = src + (y0 + kyLo) * w.inW + (jLo - w.padLeft)
                            inside.update(from: first, count: count)
                            for ky in (kyLo + 1)..<max(kyLo + 1, kyHi) {
                                let row = src + (y0 + ky) * w.inW + (jLo - w.padLeft)
                                for j in 0..<count { inside[j] += row[j] }
                            }
                        }
                        let out = dst + oy * outW
                        let rows = includePad ? kyPad : kyHi - kyLo
                        for ox in 0..<outW {
                            var sum: Float = 0
                            let base = r + ox * sW
                            for kx in 0..<kW { sum += base[kx] }
                            let divisor = rows * columnCounts[ox]
                            out[ox] = divisor > 0 ? sum / Float(divisor) : 0
                        }
                    }
                }
            }
        }
    }

    /// AveragePool whose one window holds every input of the plane (ResNet-50's 7×7 on 7×7,
    /// Inception v1's 7×7 padded on 6×6): a global average, summed in 8 lanes
    /// (GlobalPoolKernel.sum) but divided by the window's count. ResNet-50's 2048 × 7² 0.096 →
    /// 0.02 ms (the row-buffer loop spent its time on 1-output rows).
    private func averageWholePlanes(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, divisor: Int) {
        let size = w.inH * w.inW, count = Float(max(divisor, 1))
        Parallel.forEachChunk(planes, work: planes * size) { range in
            for p in range { y[p] = GlobalPoolKernel.sum(x + p * size, size) / count }
        }
    }

    /// AveragePool with dilated windows: every output walks its clamped taps.
    private func poolByTaps(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rowsY: [(Int, Int, Int)], colsX: [(Int, Int, Int)]) {
        let w = self.w, includePad = countIncludePad
        let inPlane = w.inH * w.inW, outPlane = w.outH * w.outW
        Parallel.forEachChunk(planes, work: planes * outPlane * w.kernelH * w.kernelW) { range in
            for p in range {
                let src = x + p * inPlane
                let dst = y + p * outPlane
                for oy in 0..<w.outH {
                    let (kyLo, kyHi, kyPad) = rowsY[oy]
                    let y0 = oy * w.strideH - w.padTop
                    for ox in 0..<w.outW {
                        let (kxLo, kxHi, kxPad) = colsX[ox]
                        let x0 = ox * w.strideW - w.padLeft
                        var sum: Float = 0
                        for ky in kyLo..<kyHi {
                            let row = src + (y0 + ky * w.dilationH) * w.inW + x0
                            for kx in kxLo..<kxHi { sum += row[kx * w.dilationW] }
                        }
                        let divisor = includePad ? kyPad * kxPad : (kyHi - kyLo) * (kxHi - kxLo)
                        dst[oy * w.outW + ox] = divisor > 0 ? sum / Float(divisor) : 0
                    }
                }
            }
        }
    }
}

/// The plain pooling loop the fast `PoolKernel.pool` is tested against: every tap checked
/// against the input and padded bounds.
enum PoolReference {
    static func pool(kind: PoolOp.Kind, window w: Window, planes: Int, countIncludePad: Bool, input: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: planes * w.outH * w.outW)
        for p in 0..<planes {
            for oy in 0..<w.outH {
                for ox in 0..<w.outW {
                    var best = -Float.infinity, sum: Float = 0, inside = 0, padded = 0
                    for ky in 0..<w.kernelH {
                        let iy = oy * w.strideH - w.padTop + ky * w.dilationH
                        if iy >= w.inH + w.padBottom { continue }
                        for kx in 0..<w.kernelW {
                            let ix = ox * w.strideW - w.padLeft + kx * w.dilationW
                            if ix >= w.inW + w.padRight { continue }
                            padded += 1
                            if iy >= 0 && iy < w.inH && ix >= 0 && ix < w.inW {
                                let v = input[(p * w.inH + iy) * w.inW + ix]
                                inside += 1; sum += v; best = max(best, v)
                            }
                        }
                    }
                    let divisor = countIncludePad ? padded : inside
                    out[(p * w.outH + oy) * w.outW + ox] = kind == .max ? best : (divisor > 0 ? sum / Float(divisor) : 0)
                }
            }
        }
        return out
    }
}

/// ONNX `GlobalAveragePool` / `GlobalMaxPool`: over every axis after the first two.
struct GlobalPoolOp: Operator {
    let kind: PoolOp.Kind

    func infer(_ inputs: [ValueInfo?]) throws -> [ValueInfo] {
        let x = try required(inputs, 0, "X")
        guard x.shape.count >= 3 else { throw OpError("input \(x.shape) needs a spatial axis") }
        return [ValueInfo(shape: Array(x.shape[0..<2]) + Array(repeating: 1, count: x.shape.count - 2))]
    }

    func evaluate(_ inputs: [HostTensor?]) throws -> [HostTensor] {
        let x = try required(inputs, 0, "X")
        let shape = try infer([ValueInfo(shape: x.shape)])[0].shape
        guard x.count > 0 else { throw OpError("empty input") }
        let planes = x.shape[0] * x.shape[1]
        var out = [Float](repeating: 0, count: planes)
        let input = x.asFloats
        input.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                GlobalPoolKernel(kind: kind, planes: planes, size: x.count / max(planes, 1)).pool(i.baseAddress!, o.baseAddress!)
            }
        }
        return [HostTensor(shape: shape, floats: out)]
    }

    func makeKernel(_ inputs: [ValueInfo?], outputs: [ValueInfo]) throws -> Kernel {
        let x = try required(inputs, 0, "X")
        let planes = x.shape[0] * x.shape[1]
        return GlobalPoolKernel(kind: kind, planes: planes, size: x.count / max(planes, 1))
    }
}

final class GlobalPoolKernel: Kernel {
    let kind: PoolOp.Kind
    let planes: Int, size: Int
    init(kind: PoolOp.Kind, planes: Int, size: Int) { self.kind = kind; self.planes = planes; self.size = size }

    func run(inputs: [UnsafePointer<Float>?], outputs: [UnsafeMutablePointer<Float>], scratch: UnsafeMutablePointer<Float>) {
        guard let x = inputs[0] else { return }
        pool(x, outputs[0])
    }

    func pool(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        let size = self.size, kind = self.kind
        Parallel.forEachChunk(planes, work: planes * size) { range in
            for p in range {
                let src = x + p * size
                switch kind {
                case .average:
                    y[p] = GlobalPoolKernel.sum(src, size) / Float(size)
                case .max:
                    var best = -Float.infinity
                    for i in 0..<size where src[i] > best { best = src[i] }
                    y[p] = best
                }
            }
        }
    }
}

extension GlobalPoolKernel {
    /// Sum of `count` floats in 8 independent lanes: a single running sum is one dependent
    /// add per element (4 cycles each), which made SqueezeNet's 1000 × 13² average 0.12 ms.
    @inline(__always)
    static func sum(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
        var lanes = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            lanes += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        var total = lanes.sum()
        while i < count { total += x[i]; i += 1 }
        return total
    }
}

extension PoolKernel {
    /// Max pooling on the C kernel (Sources/CKernels/pool.c: AVX2 row by row for strides 1 and
    /// 2, else on a −∞-padded plane copy), planes split across threads, each with its own buffer
    /// (allocated here: `pool` is also called without the executor's scratch).
    ///
    /// Planes, not each plane's output rows, even though the layer before (a convolution split
    /// by pixels) left each half of the rows in one core's cache: splitting the downsampling
    /// pools of one image by rows (session 14, SqueezeNet and ResNet-50, two threads, one
    /// binary toggled, benchmarks/turns.py) left the model unchanged (0.97 and 1.00 ± 0.04) and
    /// the next layers too, while the 27 → 13 pools of 128–256 channels got slower (0.119 →
    /// 0.134 ms, 0.086 → 0.117: each thread pays every plane's row setup).
    func maxPoolC(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        let window = w.ck
        var probe = window
        let perThread = ck_max_pool_scratch_floats(&probe)
        let planes = self.planes
        let t = max(1, min(Parallel.threads, planes))
        let work = planes * w.outH * w.outW * w.kernelH * w.kernelW
        let body: (Int, Int) -> Void = { lower, upper in
            var window = window
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: perThread)
            defer { buffer.deallocate() }
            ck_max_pool(x, y, lower, upper, &window, buffer)
        }
        if t == 1 || work < 32_768 {
            body(0, planes)
        } else {
            DispatchQueueHelper.run(t) { i in
                let lower = planes * i / t, upper = planes * (i + 1) / t
                if lower < upper { body(lower, upper) }
            }
        }
    }
}
