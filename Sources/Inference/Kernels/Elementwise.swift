import CKernels
import Foundation

/// Element-wise unary operators on float tensors: Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid,
/// HardSwish, Tanh, Exp, Log, Sqrt, Neg, Abs, Reciprocal, Floor, Ceil, Elu, Softplus, and the
/// activations of newer exports: Erf and Gelu (ConvNeXt's and ViT's GELU, exported as
/// x · ½(1 + erf(x/√2)) before opset 20 and as Gelu from it), Selu, Mish, Softsign, Sign,
/// ThresholdedRelu.
struct UnaryOp: Operator {
    enum Function: Equatable {
        case relu, sigmoid, tanh, exp, log, sqrt, neg, abs, reciprocal, floor, ceil, softplus
        case clip(Float, Float)
        case leakyRelu(Float)
        case hardSigmoid(alpha: Float, beta: Float)
        case hardSwish
        case elu(Float)
        case erf, softsign, sign, mish
        /// Gelu: exact (erf) or, with approximate="tanh", the tanh approximation.
        case gelu(tanh: Bool)
        case selu(alpha: Float, gamma: Float)
        case thresholdedRelu(Float)
    }
    let function: Function

    init(node: Node) throws {
        switch node.opType {
        case "Relu": function = .relu
        case "Sigmoid": function = .sigmoid
        case "Tanh": function = .tanh
        case "Exp": function = .exp
        case "Log": function = .log
        case "Sqrt": function = .sqrt
        case "Neg": function = .neg
        case "Abs": function = .abs
        case "Reciprocal": function = .reciprocal
        case "Floor": function = .floor
        case "Ceil": function = .ceil
        case "Softplus": function = .softplus
        case "LeakyRelu": function = .leakyRelu(try node.float("alpha", default: 0.01))
        case "Elu": function = .elu(try node.float("alpha", default: 1))
        case "HardSigmoid":
            function = .hardSigmoid(alpha: try node.float("alpha", default: 0.2), beta: try node.float("beta", default: 0.5))
        case "HardSwish": function = .hardSwish
        case "Erf": function = .erf
        case "Softsign": function = .softsign
        case "Sign": function = .sign
        case "Mish": function = .mish
        case "Gelu":
            switch try node.string("approximate", default: "none") {
            case "none": function = .gelu(tanh: false)
            case "tanh": function = .gelu(tanh: true)
            case let other: throw OpError("approximate=\"\(other)\" (ONNX defines \"none\" and \"tanh\")")
            }
        case "Selu":
            function = .selu(alpha: try node.float("alpha", default: 1.67326319217681884765625),
                              gamma: try node.float("gamma", default: 1.05070102214813232421875))
        case "ThresholdedRelu": function = .thresholdedRelu(try node.float("alpha", default: 1))
        case "Clip":
            // Opset < 11: bounds are attributes; from 11 on they are optional inputs (read in
            // `resolved`, as constants).
            function = .clip(try node.float("min", default: -.infinity), try node.float("max", default: .infinity))
        default: throw OpError("not a unary operator")
        }
    }

    init(function: Function) { self.function = function }

    /// The function with Clip's input-form bounds (inputs 1 and 2, constants) filled in.
    func resolved(_ inputs: [ValueInfo?]) throws -> Function {
        guard case var .clip(lo, hi) = function else { return function }
        if inputs.count > 1, inputs[1] != nil {
            guard let v = try constantInput(inputs, 1, "min").asFloats.first else { throw OpError("empty min") }
            lo = v
        }
        if inputs.count > 2, inputs[2] != nil {
            guard let v = try constantInput(inputs, 2, "max").asFloats.first else { throw OpError("empty max") }
            hi = v
        }
        return .clip(lo, hi)
    }

    /// The activation a Conv/Gemm epilogue can apply instead, if any.
    func fusableActivation(_ inputs: [ValueInfo?]) -> Activation? {
        guard let f = try? resolved(inputs) else { return nil }
        switch f {
        case .relu: return .relu
        case let .clip(lo, hi): return .clip(min: lo, max: hi)
        case let .leakyRelu(alpha): return .leakyRelu(alpha: alpha)
        default: return nil
        }
    }

    func infer(_ inputs: [ValueInfo?]) throws -> [ValueInfo] {
        let x = try required(inputs, 0, "X")
        _ = try resolved(inputs)
        return [ValueInfo(shape: x.shape, dtype: x.dtype)]
    }

    func evaluate(_ inputs: [HostTensor?]) throws -> [HostTensor] {
        let x = try required(inputs, 0, "X")
        let f = try resolved(inputs.map { $0.map { ValueInfo(constant: $0) } })
        if x.dtype == .int64, case let .clip(lo, hi) = f {
            return [HostTensor(shape: x.shape, ints: x.ints.map { Swift.min(Swift.max($0, Int64(max(lo, -9e18))), Int64(min(hi, 9e18))) })]
        }
        var values = x.asFloats
        values.withUnsafeMutableBufferPointer { p in
            if let base = p.baseAddress { UnaryKernel.apply(f, base, base, p.count) }
        }
        return [HostTensor(shape: x.shape, floats: values)]
    }

    func makeKernel(_ inputs: [ValueInfo?], outputs: [ValueInfo]) throws -> Kernel {
        UnaryKernel(function: try resolved(inputs), count: try required(inputs, 0, "X").count)
    }
}

final class UnaryKernel: Kernel {
    let function: UnaryOp.Function
    let count: Int
    init(function: UnaryOp.Function, count: Int) { self.function = function; self.count = count }

    func run(inputs: [UnsafePointer<Float>?], outputs: [UnsafeMutablePointer<Float>], scratch: UnsafeMutablePointer<Float>) {
        guard let x = inputs[0] else { return }
        let y = outputs[0], f = function
        Parallel.forEachChunk(count, work: count * 4) { r in
            UnaryKernel.apply(f, x + r.lowerBound, y + r.lowerBound, r.count)
        }
    }

    /// y[i] = f(x[i]); `x` and `y` may be the same buffer. The switch is outside the loops.
    static func apply(_ f: UnaryOp.Function, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        switch f {
        case .relu: for i in 0..<n { y[i] = max(x[i], 0) }
        case let .clip(lo, hi): for i in 0..<n { y[i] = min(max(x[i], lo), hi) }
        case let .leakyRelu(a): for i in 0..<n { let v = x[i]; y[i] = v < 0 ? a * v : v }
        case .sigmoid: ck_sigmoid(x, y, n)  // vectorized (Sources/CKernels/vmath.c), as are exp, erf, GELU
        case let .hardSigmoid(a, b): for i in 0..<n { y[i] = max(0, min(1, a * x[i] + b)) }
        case .hardSwish: for i in 0..<n { let v = x[i]; y[i] = v * max(0, min(1, v / 6 + 0.5)) }
        case .tanh: for i in 0..<n { y[i] = Foundation.tanh(x[i]) }
        case .exp: ck_exp(x, y, n)
        case .log: for i in 0..<n { y[i] = Foundation.log(x[i]) }
        case .sqrt: for i in 0..<n { y[i] = x[i].squareRoot() }
        case .neg: for i in 0..<n { y[i] = -x[i] }
        case .abs: for i in 0..<n { y[i] = Swift.abs(x[i]) }
        case .reciprocal: for i in 0..<n { y[i] = 1 / x[i] }
        case .floor: for i in 0..<n { y[i] = x[i].rounded(.down) }
        case .ceil: for i in 0..<n { y[i] = x[i].rounded(.up) }
        case .softplus: for i in 0..<n { y[i] = Foundation.log1p(Foundation.exp(x[i])) }
        case let .elu(a): for i in 0..<n { let v = x[i]; y[i] = v < 0 ? a * (Foundation.exp(v) - 1) : v }
        case .erf: ck_erf(x, y, n)
        case .gelu(tanh: false): ck_gelu(x, y, n)
        case .gelu(tanh: true):
            // ½x(1 + tanh(√(2/π)(x + 0.044715x³))), the approximation ONNX's Gelu names "tanh".
            let c = (2 / Double.pi).squareRoot()
            for i in 0..<n { let v = Double(x[i]); y[i] = Float(0.5 * v * (1 + Foundation.tanh(c * (v + 0.044715 * v * v * v)))) }
        case let .selu(a, g): for i in 0..<n { let v = x[i]; y[i] = v <= 0 ? g * a * (Foundation.exp(v) - 1) : g * v }
        case .softsign: for i in 0..<n { y[i] = x[i] / (1 + Swift.abs(x[i])) }
        case .sign: for i in 0..<n { let v = x[i]; y[i] = v > 0 ? 1 : v < 0 ? -1 : 0 }
        case .mish:
            for i in 0..<n { let v = Double(x[i]); y[i] = Float(v * Foundation.tanh(Foundation.log1p(Foundation.exp(v)))) }
        case let .thresholdedRelu(a): for i in 0..<n { let v = x[i]; y[i] = v > a ? v : 0 }
        }
    }
}

/// Element-wise binary and variadic operators with numpy broadcasting: Add, Sub, Mul, Div,
/// Pow, Max, Min, Sum, Mean, and PRelu (x < 0 ? slope · x : x, the slope broadcast to x —
/// per channel as [C, 1, 1] in exported CNNs). Float at run time; int64 too during constant
/// folding.
struct BinaryOp: Operator {
    enum Function { case add, sub, mul, div, pow, max, min, prelu }
    let function: Function
    /// Sum/Mean/Max/Min take any number of inputs; Mean divides by their count at the end.
    let isMean: Bool

    init(node: Node) throws {
        isMean = node.opType == "Mean"
        switch node.opType {
        case "Add", "Sum", "Mean": function = .add
        case "Sub": function = .sub
        case "Mul": function = .mul
        case "Div": function = .div
        case "Pow": function = .pow
        case "Max": function = .max
        case "Min": function = .min
        case "PRelu": function = .prelu
        default: throw OpError("not a binary operator")
        }
        if node.opset < 7, ["Add", "Sub", "Mul", "Div"].contains(node.opType), try node.int("broadcast", default: 0) != 0,
            node.attributes["axis"] != nil
        {
            throw OpError("legacy broadcast with an axis attribute (opset < 7) is not supported")
        }
    }

    init(function: Function) { self.function = function; isMean = false }

    func infer(_ inputs: [ValueInfo?]) throws -> [ValueInfo] {
        let present = inputs.compactMap { $0 }
        guard let first = present.first else { throw OpError("needs at least one input") }
        var shape = first.shape
        for other in present.dropFirst() { shape = try Broadcast.shape(shape, other.shape) }
        let dtype: DType = present.allSatisfy { $0.dtype == .int64 } ? .int64 : .float
        return [ValueInfo(shape: shape, dtype: dtype)]
    }

    func evaluate(_ inputs: [HostTensor?]) throws -> [HostTensor] {
        let present = inputs.compactMap { $0 }
        guard var acc = present.first else { throw OpError("needs at least one input") }
        for other in present.dropFirst() { acc = try combine(acc, other) }
        if isMean { acc = HostTensor(shape: acc.shape, floats: acc.asFloats.map { $0 / Float(present.count) }) }
        return [acc]
    }

    /// The reference: both operands gathered to the output shape, then the function.
    func combine(_ a: HostTensor, _ b: HostTensor) throws -> HostTensor {
        let shape = try Broadcast.shape(a.shape, b.shape)
        let ia = try Broadcast.sourceIndex(from: a.shape, to: shape)
        let ib = try Broadcast.sourceIndex(from: b.shape, to: shape)
        if a.dtype == .int64 && b.dtype == .int64 {
            let f: (Int64, Int64) -> Int64
            switch function {
            case .add: f = { $0 &+ $1 }
            case .sub: f = { $0 &- $1 }
            case .mul: f = { $0 &* $1 }
            case .div: f = { $1 == 0 ? 0 : $0 / $1 }
            case .pow: f = { Int64(Foundation.pow(Double($0), Double($1))) }
            case .max: f = { Swift.max($0, $1) }
            case .min: f = { Swift.min($0, $1) }
            case .prelu: f = { $0 < 0 ? $0 &* $1 : $0 }
            }
            return HostTensor(shape: shape, ints: zip(ia, ib).map { f(a.ints[$0], b.ints[$1]) })
        }
        let av = a.asFloats, bv = b.asFloats
        let f = BinaryOp.scalar(function)
        return HostTensor(shape: shape, floats: zip(ia, ib).map { f(av[$0], bv[$1]) })
    }

    static func scalar(_ function: Function) -> (Float, Float) -> Float {
        switch function {
        case .add: return { $0 + $1 }
        case .sub: return { $0 - $1 }
        case .mul: return { $0 * $1 }
        case .div: return { $0 / $1 }
        case .pow: return { Foundation.pow($0, $1) }
        case .max: return { Swift.max($0, $1) }
        case .min: return { Swift.min($0, $1) }
        case .prelu: return { $0 < 0 ? $0 * $1 : $0 }
        }
    }

    func makeKernel(_ inputs: [ValueInfo?], outputs: [ValueInfo]) throws -> Kernel {
        let out = outputs[0].shape
        var operands: [BroadcastKernel.Operand] = []
        for (index, info) in inputs.enumerated() {
            guard let info else { continue }
            operands.append(BroadcastKernel.Operand(
                input: index, strides: try Broadcast.strides(of: info.shape, in: out), constant: info.constant?.asFloats))
        }
        return BroadcastKernel(function: function, shape: out, operands: operands, mean: isMean)
    }
}

/// Broadcasting binary kernel: out = f(f(x0, x1), x2)…, each operand read through strides
/// (0 along broadcast axes); the innermost axis is the inner loop with the function chosen
/// outside it.
final class BroadcastKernel: Kernel {
    struct Operand {
        var input: Int
        var strides: [Int]
        var constant: [Float]?
    }
    let function: BinaryOp.Function
    let shape: [Int]
    let operands: [Operand]
    let mean: Bool
    let count: Int

    init(function: BinaryOp.Function, shape: [Int], operands: [Operand], mean: Bool) {
        self.function = function; self.shape = shape.isEmpty ? [1] : shape
        self.operands = operands.map { var o = $0; if o.strides.isEmpty { o.strides = [0] }; return o }
        self.mean = mean; count = shape.reduce(1, *)
    }

    func run(inputs: [UnsafePointer<Float>?], outputs: [UnsafeMutablePointer<Float>], scratch: UnsafeMutablePointer<Float>) {
        let y = outputs[0]
        guard operands.count >= 1 else { return }
        withOperand(operands[0], inputs) { first in
            if operands.count == 1 {
                copy(first, strides: operands[0].strides, into: y)
                return
            }
            withOperand(operands[1], inputs) { second in
                apply(first, operands[0].strides, second, operands[1].strides, y, assign: true)
            }
        }
        for operand in operands.dropFirst(2) {
            withOperand(operand, inputs) { p in
                apply(UnsafePointer(y), HostTensor.rowMajorStrides(shape), p, operand.strides, y, assign: true)
            }
        }
        if mean { let s = 1 / Float(operands.count); for i in 0..<count { y[i] *= s } }
    }

    private func withOperand(_ o: Operand, _ inputs: [UnsafePointer<Float>?], _ body: (UnsafePointer<Float>) -> Void) {
        if let c = o.constant {
            c.withUnsafeBufferPointer { body($0.baseAddress!) }
        } else if let p = inputs[o.input] {
            body(p)
        }
    }

    private func copy(_ x: UnsafePointer<Float>, strides: [Int], into y: UnsafeMutablePointer<Float>) {
        apply(x, strides, x, strides, y, assign: false)
    }

    /// Iterates all outer indices (rows of the last axis); rows are split across threads.
    private func apply(
        _ a: UnsafePointer<Float>, _ sa: [Int], _ b: UnsafePointer<Float>, _ sb: [Int],
        _ y: UnsafeMutablePointer<Float>, assign: Bool
    ) {
        let rank = shape.count
        let inner = shape[rank - 1]
        let rows = count / max(inner, 1)
        let (ia, ib) = (sa[rank - 1], sb[rank - 1])
        let function = assign ? self.function : .max  // copy path: max(x, x) == x
        let shape = self.shape
        Parallel.forEachChunk(rows, work: count) { range in
            // Offsets of the first row of the chunk.
            var index = [Int](repeating: 0, count: rank)
            var rem = range.lowerBound
            for axis in stride(from: rank - 2, through: 0, by: -1) {
                index[axis] = rem % shape[axis]; rem /= shape[axis]
            }
            var oa = 0, ob = 0
            for axis in 0..<(rank - 1) { oa += index[axis] * sa[axis]; ob += index[axis] * sb[axis] }
            for row in range {
                let pa = a + oa, pb = b + ob, py = y + row * inner
                switch function {
                case .add: BroadcastKernel.row(pa, ia, pb, ib, py, inner) { $0 + $1 }
                case .sub: BroadcastKernel.row(pa, ia, pb, ib, py, inner) { $0 - $1 }
                case .mul: BroadcastKernel.row(pa, ia, pb, ib, py, inner) { $0 * $1 }
                case .div: BroadcastKernel.row(pa, ia, pb, ib, py, inner) { $0 / $1 }
                case .pow: BroadcastKernel.row(pa, ia, pb, ib, py, inner) { Foundation.pow($0, $1) }
                case .max: BroadcastKernel.row(pa, ia, pb, ib, py, inner) { Swift.max($0, $1) }
                case .min: BroadcastKernel.row(pa, ia, pb, ib, py, inner) { Swift.min($0, $1) }
                case .prelu: BroadcastKernel.row(pa, ia, pb, ib, py, inner) { $0 < 0 ? $0 * $1 : $0 }
                }
                // Advance the outer index (odometer over axes 0..<rank-1).
                var axis = rank - 2
                while axis >= 0 {
                    index[axis] += 1; oa += sa[axis]; ob += sb[axis]
                    if index[axis] < shape[axis] { break }
                    oa -= sa[axis] * shape[axis]; ob -= sb[axis] * shape[axis]
                    index[axis] = 0
                    axis -= 1
                }
            }
        }
    }

    @inline(__always)
    private static func row(
        _ a: UnsafePointer<Float>, _ ia: Int, _ b: UnsafePointer<Float>, _ ib: Int,
        _ y: UnsafeMutablePointer<Float>, _ n: Int, _ f: (Float, Float) -> Float
    ) {
        if ia == 1 && ib == 1 {
            for i in 0..<n { y[i] = f(a[i], b[i]) }
        } else if ia == 1 && ib == 0 {
            let bv = b[0]
            for i in 0..<n { y[i] = f(a[i], bv) }
        } else if ia == 0 && ib == 1 {
            let av = a[0]
            for i in 0..<n { y[i] = f(av, b[i]) }
        } else {
            for i in 0..<n { y[i] = f(a[i * ia], b[i * ib]) }
        }
    }
}
