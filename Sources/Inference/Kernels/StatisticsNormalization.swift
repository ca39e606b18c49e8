import Foundation

/// Normalizations whose statistics come from the input itself at run time (unlike
/// BatchNormalization's stored ones): ONNX `LayerNormalization` (ConvNeXt, vision transformers)
/// and `InstanceNormalization` (style-transfer and some detection backbones). Both compute,
/// per row of `width` consecutive floats, y = (x − mean) / √(var + ε) · scale + bias with the
/// biased variance, then differ only in how scale and bias are indexed: per element of the row
/// (LayerNormalization) or per row's channel (InstanceNormalization).
///
/// The moments are accumulated in Double over two passes (mean, then squared deviations), so a
/// row with a large mean keeps its small variance (one-pass E[x²] − E[x]² in Float loses it);
/// ONNX Runtime also subtracts the mean first.
enum RowNormalization {
    /// How scale and bias apply along a row.
    enum Affine {
        /// scale[i], bias[i] for the i-th float of every row (LayerNormalization).
        case perElement(scale: [Float], bias: [Float])
        /// scale[c], bias[c] for every float of a row whose channel is c = row % channels
        /// (InstanceNormalization: rows are the N·C planes).
        case perRow(scale: [Float], bias: [Float])
    }

    /// y = normalized(x) · scale + bias over `rows` rows of `width` floats; `x` and `y` may be
    /// the same buffer.
    static func apply(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Range<Int>, width: Int, epsilon: Float,
        affine: Affine
    ) {
        for row in rows {
            let s = x + row * width, d = y + row * width
            var sum = 0.0
            for i in 0..<width { sum += Double(s[i]) }
            let mean = sum / Double(width)
            var squares = 0.0
            for i in 0..<width { let v = Double(s[i]) - mean; squares += v * v }
            let inverse = Float(1 / (squares / Double(width) + Double(epsilon)).squareRoot())
            let m = Float(mean)
            switch affine {
            case let .perElement(scale, bias):
                for i in 0..<width { d[i] = (s[i] - m) * inverse * scale[i] + bias[i] }
            case let .perRow(scale, bias):
                let c = row % scale.count
                let a = inverse * scale[c], b = bias[c] - m * inverse * scale[c]
                for i in 0..<width { d[i] = s[i] * a + b }
            }
        }
    }

    /// Runs `apply` on a host tensor (constant folding and the kernels' reference).
    static func evaluate(_ x: HostTensor, width: Int, epsilon: Float, affine: Affine) -> HostTensor {
        var values = x.asFloats
        values.withUnsafeMutableBufferPointer { p in
            guard let base = p.baseAddress else { return }
            apply(base, base, rows: 0..<(p.count / max(width, 1)), width: width, epsilon: epsilon, affine: affine)
        }
        return HostTensor(shape: x.shape, floats: values)
    }
}

/// The kernel of both: rows split across threads.
final class RowNormalizationKernel: Kernel {
    let rows: Int, width: Int, epsilon: Float
    let affine: RowNormalization.Affine
    init(rows: Int, width: Int, epsilon: Float, affine: RowNormalization.Affine) {
        self.rows = rows; self.width = width; self.epsilon = epsilon; self.affine = affine
    }
    var overwritableInput: Int? { 0 }
    func run(inputs: [UnsafePointer<Float>?], outputs: [UnsafeMutablePointer<Float>], scratch: UnsafeMutablePointer<Float>) {
        guard let x = inputs[0] else { return }
        let y = outputs[0]
        Parallel.forEachChunk(rows, work: rows * width * 4) { range in
            RowNormalization.apply(x, y, rows: range, width: self.width, epsilon: self.epsilon, affine: self.affine)
        }
    }
}

/// ONNX `LayerNormalization` (opset 17): normalizes over the axes from `axis` (default −1) to
/// the last; Scale and the optional B broadcast to those axes and must be constants
/// (initializers, as every exporter writes them). The optional Mean and InvStdDev outputs
/// (training) are not supported.
struct LayerNormOp: Operator {
    let axis: Int
    let epsilon: Float
    init(node: Node) throws {
        axis = try node.int("axis", default: -1)
        epsilon = try node.float("epsilon", default: 1e-5)
        if node.outputs.dropFirst().contains(where: { !$0.isEmpty }) {
            throw OpError("the Mean and InvStdDev outputs (training) are not supported")
        }
    }

    /// The first normalized axis and the normalized floats per row, for input shape `shape`.
    func normalizedAxes(_ shape: [Int]) throws -> (first: Int, width: Int) {
        let first = axis < 0 ? axis + shape.count : axis
        guard first >= 0, first < shape.count else { throw OpError("axis \(axis) is out of range for input \(shape)") }
        return (first, shape[first...].reduce(1, *))
    }

    /// Scale and bias expanded to one value per float of a row.
    func affine(_ inputs: [ValueInfo?], shape: [Int]) throws -> RowNormalization.Affine {
        let (first, width) = try normalizedAxes(shape)
        let rowShape = Array(shape[first...])
        func expanded(_ t: HostTensor, _ what: String) throws -> [Float] {
            // Leading 1s beyond the normalized axes (e.g. [1, 1, C] for [C]) carry no values.
            var tShape = t.shape
            while tShape.count > rowShape.count, tShape.first == 1 { tShape.removeFirst() }
            guard tShape.count <= rowShape.count else {
                throw OpError("\(what) \(t.shape) does not broadcast to the normalized axes \(rowShape)")
            }
            let values = t.asFloats
            return try Broadcast.sourceIndex(from: tShape, to: rowShape).map { values[$0] }
        }
        let scale = try expanded(constantInput(inputs, 1, "Scale"), "Scale")
        let bias = inputs.count > 2 && inputs[2] != nil
            ? try expanded(constantInput(inputs, 2, "B"), "B") : [Float](repeating: 0, count: width)
        return .perElement(scale: scale, bias: bias)
    }

    func infer(_ inputs: [ValueInfo?]) throws -> [ValueInfo] {
        let x = try required(inputs, 0, "X")
        _ = try affine(inputs, shape: x.shape)
        return [ValueInfo(shape: x.shape)]
    }

    func evaluate(_ inputs: [HostTensor?]) throws -> [HostTensor] {
        let x = try required(inputs, 0, "X")
        let infos = inputs.map { $0.map { ValueInfo(constant: $0) } }
        return [RowNormalization.evaluate(
            x, width: try normalizedAxes(x.shape).width, epsilon: epsilon, affine: try affine(infos, shape: x.shape))]
    }

    func makeKernel(_ inputs: [ValueInfo?], outputs: [ValueInfo]) throws -> Kernel {
        let x = try required(inputs, 0, "X")
        let width = try normalizedAxes(x.shape).width
        return RowNormalizationKernel(
            rows: x.count / max(width, 1), width: width, epsilon: epsilon, affine: try affine(inputs, shape: x.shape))
    }
}

/// ONNX `InstanceNormalization`: each (image, channel) plane normalized by its own mean and
/// variance, then scale[c] and B[c] (constants, one per channel).
struct InstanceNormOp: Operator {
    let epsilon: Float
    init(node: Node) throws { epsilon = try node.float("epsilon", default: 1e-5) }

    func affine(_ inputs: [ValueInfo?], channels: Int) throws -> RowNormalization.Affine {
        let scale = try constantInput(inputs, 1, "scale").asFloats
        let bias = try constantInput(inputs, 2, "B").asFloats
        guard scale.count == channels, bias.count == channels else {
            throw OpError("scale and B must have \(channels) values (one per channel)")
        }
        return .perRow(scale: scale, bias: bias)
    }

    func infer(_ inputs: [ValueInfo?]) throws -> [ValueInfo] {
        let x = try required(inputs, 0, "X")
        guard x.shape.count >= 3 else { throw OpError("input \(x.shape) needs a channel axis and spatial axes") }
        _ = try affine(inputs, channels: x.shape[1])
        return [ValueInfo(shape: x.shape)]
    }

    func evaluate(_ inputs: [HostTensor?]) throws -> [HostTensor] {
        let x = try required(inputs, 0, "X")
        let infos = inputs.map { $0.map { ValueInfo(constant: $0) } }
        return [RowNormalization.evaluate(
            x, width: x.shape[2...].reduce(1, *), epsilon: epsilon, affine: try affine(infos, channels: x.shape[1]))]
    }

    func makeKernel(_ inputs: [ValueInfo?], outputs: [ValueInfo]) throws -> Kernel {
        let x = try required(inputs, 0, "X")
        let width = x.shape[2...].reduce(1, *)
        return RowNormalizationKernel(
            rows: x.shape[0] * x.shape[1], width: width, epsilon: epsilon, affine: try affine(inputs, channels: x.shape[1]))
    }
}
