/// Shape operators: Shape, Size, Constant, ConstantOfShape, Cast, Concat, and the ops that
/// only re-label a buffer (Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout), which the
/// executor runs as buffer aliases.

/// ONNX `Shape` (with opset-15 start/end): known from the input shape alone.
struct ShapeOp: Operator {
    let start: Int, end: Int?
    init(node: Node) throws {
        start = try node.int("start", default: 0)
        end = node.attributes["end"] == nil ? nil : try node.int("end", default: 0)
    }

    func values(_ shape: [Int]) -> [Int64] {
        let r = shape.count
        let s = min(max(start < 0 ? start + r : start, 0), r)
        let e = min(max(end.map { $0 < 0 ? $0 + r : $0 } ?? r, s), r)
        return shape[s..<e].map { Int64($0) }
    }

    func shapeOnlyOutputs(_ inputs: [ValueInfo?]) throws -> [HostTensor]? {
        let v = values(try required(inputs, 0, "data").shape)
        return [HostTensor(shape: [v.count], ints: v)]
    }
    func infer(_ inputs: [ValueInfo?]) throws -> [ValueInfo] {
        let v = values(try required(inputs, 0, "data").shape)
        return [ValueInfo(constant: HostTensor(shape: [v.count], ints: v))]
    }
    func evaluate(_ inputs: [HostTensor?]) throws -> [HostTensor] {
        let v = values(try required(inputs, 0, "data").shape)
        return [HostTensor(shape: [v.count], ints: v)]
    }
}

/// ONNX `Size`: the element count, known from the shape.
struct SizeOp: Operator {
    func shapeOnlyOutputs(_ inputs: [ValueInfo?]) throws -> [HostTensor]? {
        [HostTensor(shape: [], ints: [Int64(try required(inputs, 0, "data").count)])]
    }
    func infer(_ inputs: [ValueInfo?]) throws -> [ValueInfo] { [ValueInfo(shape: [], dtype: .int64)] }
    func evaluate(_ inputs: [HostTensor?]) throws -> [HostTensor] {
        [HostTensor(shape: [], ints: [Int64(try required(inputs, 0, "data").count)])]
    }
}

/// ONNX `Constant`: value (tensor) or value_float(s) / value_int(s).
struct ConstantOp: Operator {
    let value: HostTensor
    init(node: Node) throws {
        if case let .tensor(t)? = node.attributes["value"] { value = t }
        else if case let .float(f)? = node.attributes["value_float"] { value = HostTensor(shape: [], floats: [f]) }
        else if case let .floats(f)? = node.attributes["value_floats"] { value = HostTensor(shape: [f.count], floats: f) }
        else if case let .int(i)? = node.attributes["value_int"] { value = HostTensor(shape: [], ints: [i]) }
        else if case let .ints(i)? = node.attributes["value_ints"] { value = HostTensor(shape: [i.count], ints: i) }
        else { throw OpError("no supported value attribute (value, value_float(s), value_int(s))") }
    }
    func infer(_ inputs: [ValueInfo?]) throws -> [ValueInfo] { [ValueInfo(constant: value)] }
    func evaluate(_ inputs: [HostTensor?]) throws -> [HostTensor] { [value] }
}

/// ONNX `ConstantOfShape`: a tensor of the (constant) shape input filled with `value`
/// (default float 0). The `light` models make all their weights this way.
struct ConstantOfShapeOp: Operator {
    let value: HostTensor
    init(node: Node) throws {
        if case let .tensor(t)? = node.attributes["value"] {
            guard t.count == 1 else { throw OpError("value must hold one element") }
            value = t
        } else {
            value = HostTensor(shape: [1], floats: [0])
        }
    }
    func shape(_ inputs: [ValueInfo?]) throws -> [Int] {
        let s = try constantInput(inputs, 0, "shape").asInt
        guard s.allSatisfy({ $0 >= 0 }) else { throw OpError("negative extent in shape \(s)") }
        return s
    }
    func infer(_ inputs: [ValueInfo?]) throws -> [ValueInfo] { [ValueInfo(shape: try shape(inputs), dtype: value.dtype)] }
    func evaluate(_ inputs: [HostTensor?]) throws -> [HostTensor] {
        let s = try shape(inputs.map { $0.map { ValueInfo(constant: $0) } })
        let n = s.reduce(1, *)
        switch value.dtype {
        case .float: return [HostTensor(shape: s, floats: [Float](repeating: value.floats[0], count: n))]
        case .int64: return [HostTensor(shape: s, ints: [Int64](repeating: value.ints[0], count: n))]
        }
    }
}

/// ONNX `Cast`: to float types (float32 here), to integer types (truncated toward zero, held
/// as int64 when constant, as whole floats at run time), to bool (x != 0).
struct CastOp: Operator {
    let to: Int
    init(node: Node) throws {
        to = try node.int("to", default: 1)
        guard [1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 16].contains(to) else {
            throw OpError("cast to ONNX data type \(to) is not supported")
        }
    }
    var toFloat: Bool { [1, 10, 11, 16].contains(to) }

    func infer(_ inputs: [ValueInfo?]) throws -> [ValueInfo] {
        [ValueInfo(shape: try required(inputs, 0, "input").shape, dtype: toFloat ? .float : .int64)]
    }
    func evaluate(_ inputs: [HostTensor?]) throws -> [HostTensor] {
        let x = try required(inputs, 0, "input")
        if toFloat { return [x.castFloat()] }
        if to == 9 { return [HostTensor(shape: x.shape, ints: x.asFloats.map { $0 != 0 ? 1 : 0 })] }
        return [HostTensor(shape: x.shape, ints: x.asInts)]
    }
    func makeKernel(_ inputs: [ValueInfo?], outputs: [ValueInfo]) throws -> Kernel {
        let n = try required(inputs, 0, "input").count
        if toFloat { return UnaryKernel(function: .clip(-.infinity, .infinity), count: n) }
        return EvaluateKernel(op: self, inputs: inputs, outputs: outputs)
    }
}

/// ONNX `Concat` along `axis` (negative counts from the end).
struct ConcatOp: Operator {
    let axis: Int
    init(node: Node) throws { axis = try node.int("axis", default: node.opset < 4 ? 1 : 0) }

    func outputShape(_ shapes: [[Int]]) throws -> (shape: [Int], axis: Int) {
        guard let first = shapes.first else { throw OpError("needs inputs") }
        let a = try normalizedAxis(axis, rank: first.count)
        var out = first
        out[a] = 0
        for s in shapes {
            guard s.count == first.count, (0..<s.count).allSatisfy({ $0 == a || s[$0] == first[$0] }) else {
                throw OpError("input shapes \(shapes) differ outside axis \(a)")
            }
            out[a] += s[a]
        }
        return (out, a)
    }

    func infer(_ inputs: [ValueInfo?]) throws -> [ValueInfo] {
        let present = inputs.compactMap { $0 }
        let dtype: DType = present.allSatisfy { $0.dtype == .int64 } ? .int64 : .float
        return [ValueInfo(shape: try outputShape(present.map(\.shape)).shape, dtype: dtype)]
    }

    func evaluate(_ inputs: [HostTensor?]) throws -> [HostTensor] {
        let present = inputs.compactMap { $0 }
        let (shape, a) = try outputShape(present.map(\.shape))
        let outer = shape[..<a].reduce(1, *)
        if present.allSatisfy({ $0.dtype == .int64 }) {
            var out: [Int64] = []
            for o in 0..<outer {
                for t in present { let block = t.shape[a...].reduce(1, *); out += t.ints[(o * block)..<((o + 1) * block)] }
            }
            return [HostTensor(shape: shape, ints: out)]
        }
        var out: [Float] = []
        let floats = present.map(\.asFloats)
        for o in 0..<outer {
            for (t, f) in zip(present, floats) { let block = t.shape[a...].reduce(1, *); out += f[(o * block)..<((o + 1) * block)] }
        }
        return [HostTensor(shape: shape, floats: out)]
    }

    func makeKernel(_ inputs: [ValueInfo?], outputs: [ValueInfo]) throws -> Kernel {
        var parts: [ConcatKernel.Part] = []
        let shape = outputs[0].shape
        let a = try normalizedAxis(axis, rank: shape.count)
        for (index, info) in inputs.enumerated() {
            guard let info else { continue }
            parts.append(ConcatKernel.Part(input: index, block: info.shape[a...].reduce(1, *), constant: info.constant?.asFloats))
        }
        return ConcatKernel(outer: shape[..<a].reduce(1, *), parts: parts)
    }
}

/// Concatenation as block copies: for each outer index, each input's contiguous block.
final class ConcatKernel: Kernel {
    struct Part { var input: Int; var block: Int; var constant: [Float]? }
    let outer: Int
    let parts: [Part]
    let rowSize: Int
    init(outer: Int, parts: [Part]) { self.outer = outer; self.parts = parts; rowSize = parts.reduce(0) { $0 + $1.block } }

    func run(inputs: [UnsafePointer<Float>?], outputs: [UnsafeMutablePointer<Float>], scratch: UnsafeMutablePointer<Float>) {
        let y = outputs[0]
        var offset = 0
        for part in parts {
            let copy: (UnsafePointer<Float>) -> Void = { x in
                for o in 0..<self.outer { (y + o * self.rowSize + offset).update(from: x + o * part.block, count: part.block) }
            }
            if let c = part.constant { c.withUnsafeBufferPointer { if let base = $0.baseAddress { copy(base) } } }
            else if let x = inputs[part.input] { copy(x) }
            offset += part.block
        }
    }
}

/// Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout (inference mode): output 0 is
/// input 0's elements under a new shape.
struct ViewOp: Operator {
    let node: Node
    init(node: Node) throws { self.node = node }
    var aliasesInput: Bool { true }

    func outputShape(_ inputs: [ValueInfo?]) throws -> [Int] {
        let x = try required(inputs, 0, "data")
        let shape = x.shape
        switch node.opType {
        case "Identity", "Dropout":
            return shape
        case "Flatten":
            let a = try node.int("axis", default: 1)
            let axis = a < 0 ? a + shape.count : a
            guard axis >= 0 && axis <= shape.count else { throw OpError("axis \(a) out of range for \(shape)") }
            return [shape[..<axis].reduce(1, *), shape[axis...].reduce(1, *)]
        case "Reshape":
            let target: [Int]
            if node.opset < 5 {
                guard let t = try node.ints("shape") else { throw OpError("shape attribute is required") }
                target = t
            } else {
                target = try constantInput(inputs, 1, "shape").asInt
            }
            let allowZero = try node.int("allowzero", default: 0) != 0
            var out = try target.enumerated().map { i, d -> Int in
                if d == 0 && !allowZero {
                    guard i < shape.count else { throw OpError("0 at position \(i) copies a dimension \(shape) lacks") }
                    return shape[i]
                }
                guard d >= -1 else { throw OpError("invalid extent \(d) in shape \(target)") }
                return d
            }
            let inferred = out.indices.filter { out[$0] == -1 }
            guard inferred.count <= 1 else { throw OpError("more than one -1 in shape \(target)") }
            let known = out.filter { $0 != -1 }.reduce(1, *)
            if let i = inferred.first {
                guard known > 0, x.count % known == 0 else { throw OpError("cannot reshape \(shape) to \(target)") }
                out[i] = x.count / known
            }
            guard out.reduce(1, *) == x.count else { throw OpError("cannot reshape \(shape) (\(x.count) elements) to \(target)") }
            return out
        case "Squeeze":
            var axes: [Int]? = try node.ints("axes")
            if node.opset >= 13 { axes = inputs.count > 1 && inputs[1] != nil ? try constantInput(inputs, 1, "axes").asInt : nil }
            guard let axes else { return shape.filter { $0 != 1 } }
            let normalized = Set(try axes.map { try normalizedAxis($0, rank: shape.count) })
            for a in normalized where shape[a] != 1 { throw OpError("cannot squeeze axis \(a) of \(shape)") }
            return shape.enumerated().filter { !normalized.contains($0.offset) }.map(\.element)
        case "Unsqueeze":
            var axes: [Int]? = try node.ints("axes")
            if node.opset >= 13 { axes = try constantInput(inputs, 1, "axes").asInt }
            guard let axes else { throw OpError("axes are required") }
            let rank = shape.count + axes.count
            let normalized = Set(try axes.map { try normalizedAxis($0, rank: rank) })
            guard normalized.count == axes.count else { throw OpError("repeated axes \(axes)") }
            var out: [Int] = []
            var it = shape.makeIterator()
            for i in 0..<rank { out.append(normalized.contains(i) ? 1 : (it.next() ?? 1)) }
            return out
        default:
            throw OpError("not a view operator")
        }
    }

    func infer(_ inputs: [ValueInfo?]) throws -> [ValueInfo] {
        let x = try required(inputs, 0, "data")
        var result = [ValueInfo(shape: try outputShape(inputs), dtype: x.dtype)]
        if node.opType == "Dropout" && node.outputs.count > 1 { result.append(ValueInfo(shape: x.shape)) }
        return result
    }

    func evaluate(_ inputs: [HostTensor?]) throws -> [HostTensor] {
        let x = try required(inputs, 0, "data")
        let shape = try outputShape(inputs.map { $0.map { ValueInfo(constant: $0) } })
        var result = [x.reshaped(shape)]
        if node.opType == "Dropout" && node.outputs.count > 1 {
            result.append(HostTensor(shape: x.shape, floats: [Float](repeating: 1, count: x.count)))
        }
        return result
    }
}
