/// Operators that only move elements of input 0 (Transpose, Slice, Gather, Pad, Split,
/// Expand): each describes every output element by the flat index of its source element
/// (−1 = the fill value, for Pad). The same map drives constant folding (for float and int64
/// tensors alike) and the runtime kernel, so both agree by construction.
protocol MovementOp: Operator {
    /// Per output: its shape and source index of each element.
    func maps(_ inputs: [ValueInfo?]) throws -> [(shape: [Int], source: [Int])]
    /// Value for source index −1.
    func fill(_ inputs: [ValueInfo?]) throws -> Float
}

extension MovementOp {
    func fill(_ inputs: [ValueInfo?]) throws -> Float { 0 }

    func infer(_ inputs: [ValueInfo?]) throws -> [ValueInfo] {
        let dtype = try required(inputs, 0, "data").dtype
        return try maps(inputs).map { ValueInfo(shape: $0.shape, dtype: dtype) }
    }

    func evaluate(_ inputs: [HostTensor?]) throws -> [HostTensor] {
        let infos = inputs.map { $0.map { ValueInfo(constant: $0) } }
        let data = try required(inputs, 0, "data")
        let fillValue = try fill(infos)
        return try maps(infos).map { map in
            switch data.dtype {
            case .float: return HostTensor(shape: map.shape, floats: map.source.map { $0 < 0 ? fillValue : data.floats[$0] })
            case .int64: return HostTensor(shape: map.shape, ints: map.source.map { $0 < 0 ? Int64(fillValue) : data.ints[$0] })
            }
        }
    }

    func makeKernel(_ inputs: [ValueInfo?], outputs: [ValueInfo]) throws -> Kernel {
        IndexMapKernel(maps: try maps(inputs).map { $0.source.map { Int32($0) } }, fill: try fill(inputs))
    }
}

/// out_k[i] = source_k[i] < 0 ? fill : x[source_k[i]]. Int32 indices halve the map's memory;
/// tensors of 2^31 elements are far beyond what this engine plans for.
final class IndexMapKernel: Kernel {
    let maps: [[Int32]]
    let fill: Float
    init(maps: [[Int32]], fill: Float) { self.maps = maps; self.fill = fill }

    func run(inputs: [UnsafePointer<Float>?], outputs: [UnsafeMutablePointer<Float>], scratch: UnsafeMutablePointer<Float>) {
        guard let x = inputs[0] else { return }
        let fill = self.fill
        for (map, y) in zip(maps, outputs) {
            map.withUnsafeBufferPointer { m in
                Parallel.forEachChunk(m.count, work: m.count) { r in
                    for i in r { let s = Int(m[i]); y[i] = s < 0 ? fill : x[s] }
                }
            }
        }
    }
}

/// Source indices of a strided box: output index (i_0, …) reads input element
/// Σ (start_a + i_a · step_a) · stride_a. `extents` are the output shape.
func boxIndex(inputShape: [Int], starts: [Int], steps: [Int], extents: [Int]) -> [Int] {
    let strides = HostTensor.rowMajorStrides(inputShape)
    var result = [0]
    for axis in 0..<inputShape.count {
        var next: [Int] = []
        next.reserveCapacity(result.count * extents[axis])
        for base in result {
            for i in 0..<extents[axis] { next.append(base + (starts[axis] + i * steps[axis]) * strides[axis]) }
        }
        result = next
    }
    return result
}

/// ONNX `Transpose` (perm, default reversed axes).
struct TransposeOp: MovementOp {
    let perm: [Int]?
    init(node: Node) throws { perm = try node.ints("perm") }

    func infer(_ inputs: [ValueInfo?]) throws -> [ValueInfo] {
        let x = try required(inputs, 0, "data")
        let p = perm ?? Array((0..<x.shape.count).reversed())
        guard p.count == x.shape.count, Set(p) == Set(0..<x.shape.count) else {
            throw OpError("perm \(p) is not a permutation of \(x.shape.count) axes")
        }
        return [ValueInfo(shape: p.map { x.shape[$0] }, dtype: x.dtype)]
    }

    func maps(_ inputs: [ValueInfo?]) throws -> [(shape: [Int], source: [Int])] {
        let shape = try required(inputs, 0, "data").shape
        let p = perm ?? Array((0..<shape.count).reversed())
        guard p.count == shape.count, Set(p) == Set(0..<shape.count) else {
            throw OpError("perm \(p) is not a permutation of \(shape.count) axes")
        }
        let outShape = p.map { shape[$0] }
        let inStrides = HostTensor.rowMajorStrides(shape)
        // The input seen in output order: a box with permuted strides.
        let permutedStrides = p.map { inStrides[$0] }
        var result = [0]
        for axis in 0..<p.count {
            var next: [Int] = []
            next.reserveCapacity(result.count * outShape[axis])
            for base in result { for i in 0..<outShape[axis] { next.append(base + i * permutedStrides[axis]) } }
            result = next
        }
        return [(outShape, result)]
    }
}

/// ONNX `Slice`: attributes starts/ends/axes before opset 10, inputs (starts, ends, axes,
/// steps) from 10 on; negative indices count from the end; out-of-range values are clamped
/// (for negative steps to [-1, dim-1] for ends).
struct SliceOp: MovementOp {
    let node: Node
    init(node: Node) throws { self.node = node }

    func maps(_ inputs: [ValueInfo?]) throws -> [(shape: [Int], source: [Int])] {
        let shape = try required(inputs, 0, "data").shape
        let rank = shape.count
        var starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?
        if node.opset < 10 {
            guard let s = try node.ints("starts"), let e = try node.ints("ends") else { throw OpError("starts and ends are required") }
            starts = s; ends = e; axes = try node.ints("axes"); steps = nil
        } else {
            starts = try constantInput(inputs, 1, "starts").asInt
            ends = try constantInput(inputs, 2, "ends").asInt
            axes = inputs.count > 3 && inputs[3] != nil ? try constantInput(inputs, 3, "axes").asInt : nil
            steps = inputs.count > 4 && inputs[4] != nil ? try constantInput(inputs, 4, "steps").asInt : nil
        }
        let axisList = try (axes ?? Array(0..<starts.count)).map { try normalizedAxis($0, rank: rank) }
        let stepList = steps ?? [Int](repeating: 1, count: starts.count)
        guard ends.count == starts.count, axisList.count == starts.count, stepList.count == starts.count else {
            throw OpError("starts \(starts), ends \(ends), axes \(axisList), steps \(stepList) differ in length")
        }
        var boxStart = [Int](repeating: 0, count: rank)
        var boxStep = [Int](repeating: 1, count: rank)
        var extents = shape
        for (i, axis) in axisList.enumerated() {
            let dim = shape[axis], step = stepList[i]
            guard step != 0 else { throw OpError("slice step 0") }
            var s = starts[i] < 0 ? starts[i] + dim : starts[i]
            var e = ends[i] < 0 ? ends[i] + dim : ends[i]
            // Ends like INT64_MAX (or −INT64_MAX for reversed slices) saturate here.
            if step > 0 {
                s = min(max(s, 0), dim); e = min(max(e, 0), dim)
                extents[axis] = max(0, (e - s + step - 1) / step)
            } else {
                s = min(max(s, 0), dim - 1); e = min(max(e, -1), dim - 1)
                extents[axis] = max(0, (s - e + (-step) - 1) / (-step))
            }
            boxStart[axis] = s; boxStep[axis] = step
        }
        return [(extents, boxIndex(inputShape: shape, starts: boxStart, steps: boxStep, extents: extents))]
    }
}

/// ONNX `Gather` along `axis` with constant indices (negative ones count from the end).
struct GatherOp: MovementOp {
    let axis: Int
    init(node: Node) throws { axis = try node.int("axis", default: 0) }

    func maps(_ inputs: [ValueInfo?]) throws -> [(shape: [Int], source: [Int])] {
        let shape = try required(inputs, 0, "data").shape
        let indices = try constantInput(inputs, 1, "indices")
        let a = try normalizedAxis(axis, rank: shape.count)
        let dim = shape[a]
        let idx = try indices.asInt.map { i -> Int in
            let j = i < 0 ? i + dim : i
            guard j >= 0 && j < dim else { throw OpError("index \(i) out of range for axis \(a) of \(shape)") }
            return j
        }
        let outer = shape[..<a].reduce(1, *), inner = shape[(a + 1)...].reduce(1, *)
        var source: [Int] = []
        source.reserveCapacity(outer * idx.count * inner)
        for o in 0..<outer { for j in idx { let base = (o * dim + j) * inner; for i in 0..<inner { source.append(base + i) } } }
        return [(Array(shape[..<a]) + indices.shape + Array(shape[(a + 1)...]), source)]
    }
}

/// ONNX `Pad`: modes constant / edge / reflect; pads as attribute (opset < 11) or input, with
/// the constant value as attribute `value` or input 2, optional `axes` input (opset 18).
/// Negative pads crop.
struct PadOp: MovementOp {
    let node: Node
    let mode: String
    init(node: Node) throws {
        self.node = node
        mode = try node.string("mode", default: "constant")
        guard ["constant", "edge", "reflect"].contains(mode) else { throw OpError("pad mode '\(mode)' is not supported") }
    }

    /// [begin_0, …, begin_{r-1}, end_0, …, end_{r-1}] for every axis.
    func pads(_ inputs: [ValueInfo?], rank: Int) throws -> [Int] {
        let given: [Int]
        if node.opset < 11 {
            guard let p = try node.ints("pads") else { throw OpError("pads is required") }
            given = p
        } else {
            given = try constantInput(inputs, 1, "pads").asInt
        }
        var axes = Array(0..<rank)
        if node.opset >= 18, inputs.count > 3, inputs[3] != nil {
            axes = try constantInput(inputs, 3, "axes").asInt.map { try normalizedAxis($0, rank: rank) }
        }
        guard given.count == 2 * axes.count else { throw OpError("pads \(given) needs \(2 * axes.count) values") }
        var full = [Int](repeating: 0, count: 2 * rank)
        for (i, axis) in axes.enumerated() { full[axis] = given[i]; full[rank + axis] = given[axes.count + i] }
        return full
    }

    func fill(_ inputs: [ValueInfo?]) throws -> Float {
        if node.opset < 11 { return try node.float("value", default: 0) }
        if inputs.count > 2, inputs[2] != nil { return try constantInput(inputs, 2, "constant_value").asFloats.first ?? 0 }
        return 0
    }

    /// Pads of a zero constant Pad that only touches the last two axes of a rank-4 tensor,
    /// as [top, left, bottom, right]: what the PadIntoConv pass can merge.
    func spatialZeroPads(_ inputs: [ValueInfo?]) -> [Int]? {
        guard mode == "constant", let x = inputs.first ?? nil, x.shape.count == 4,
            let p = try? pads(inputs, rank: 4), (try? fill(inputs)) == 0,
            p[0] == 0, p[1] == 0, p[4] == 0, p[5] == 0, p.allSatisfy({ $0 >= 0 })
        else { return nil }
        return [p[2], p[3], p[6], p[7]]
    }

    /// Shapes only: planning must not build index maps of large runtime tensors just to
    /// learn a shape (the kernel builds its map once, in `makeKernel`).
    func infer(_ inputs: [ValueInfo?]) throws -> [ValueInfo] {
        let x = try required(inputs, 0, "data")
        return [ValueInfo(shape: try outputShape(x.shape, try pads(inputs, rank: x.shape.count)), dtype: x.dtype)]
    }

    func outputShape(_ shape: [Int], _ p: [Int]) throws -> [Int] {
        let rank = shape.count
        return try (0..<rank).map { axis -> Int in
            let n = shape[axis] + p[axis] + p[rank + axis]
            guard n >= 0 else { throw OpError("pads \(p) crop more than axis \(axis) of \(shape) holds") }
            if mode == "reflect", shape[axis] < 2, p[axis] > 0 || p[rank + axis] > 0 {
                throw OpError("reflect padding needs at least 2 elements along axis \(axis)")
            }
            return n
        }
    }

    func maps(_ inputs: [ValueInfo?]) throws -> [(shape: [Int], source: [Int])] {
        let shape = try required(inputs, 0, "data").shape
        let rank = shape.count
        let p = try pads(inputs, rank: rank)
        let outShape = try outputShape(shape, p)
        // Per axis: the source coordinate of each output coordinate, −1 when it is padding.
        let coordinate: [[Int]] = (0..<rank).map { axis in
            let n = shape[axis]
            return (0..<outShape[axis]).map { o -> Int in
                var i = o - p[axis]
                if i >= 0 && i < n { return i }
                switch mode {
                case "edge": i = min(max(i, 0), n - 1)
                case "reflect":
                    let period = 2 * (n - 1)
                    i = ((i % period) + period) % period
                    if i >= n { i = period - i }
                default: return -1
                }
                return i
            }
        }
        let strides = HostTensor.rowMajorStrides(shape)
        var result = [0]
        for axis in 0..<rank {
            var next: [Int] = []
            next.reserveCapacity(result.count * outShape[axis])
            for base in result {
                for c in coordinate[axis] { next.append(base < 0 || c < 0 ? -1 : base + c * strides[axis]) }
            }
            result = next
        }
        return [(outShape, result)]
    }
}

/// ONNX `Split` along `axis`: sizes from the `split` attribute (opset < 13) or input 1, or
/// equal parts (the last one smaller when uneven, as opset 18 `num_outputs` defines).
struct SplitOp: MovementOp {
    let node: Node
    let axis: Int
    init(node: Node) throws { self.node = node; axis = try node.int("axis", default: 0) }

    func maps(_ inputs: [ValueInfo?]) throws -> [(shape: [Int], source: [Int])] {
        let shape = try required(inputs, 0, "data").shape
        let a = try normalizedAxis(axis, rank: shape.count)
        let parts = node.outputs.count
        var sizes: [Int]
        if node.opset < 13, let s = try node.ints("split") {
            sizes = s
        } else if node.opset >= 13, inputs.count > 1, inputs[1] != nil {
            sizes = try constantInput(inputs, 1, "split").asInt
        } else {
            let chunk = (shape[a] + parts - 1) / parts
            sizes = (0..<parts).map { min(chunk, max(0, shape[a] - $0 * chunk)) }
        }
        guard sizes.count == parts, sizes.reduce(0, +) == shape[a], sizes.allSatisfy({ $0 >= 0 }) else {
            throw OpError("split sizes \(sizes) do not cover axis \(a) (\(shape[a])) in \(parts) outputs")
        }
        var start = 0
        return sizes.map { size in
            var starts = [Int](repeating: 0, count: shape.count)
            starts[a] = start
            var extents = shape
            extents[a] = size
            start += size
            return (extents, boxIndex(inputShape: shape, starts: starts, steps: [Int](repeating: 1, count: shape.count), extents: extents))
        }
    }
}

/// ONNX `Expand`: broadcast input 0 to the (constant) shape input.
struct ExpandOp: MovementOp {
    func maps(_ inputs: [ValueInfo?]) throws -> [(shape: [Int], source: [Int])] {
        let shape = try required(inputs, 0, "data").shape
        let target = try Broadcast.shape(shape, try constantInput(inputs, 1, "shape").asInt)
        return [(target, try Broadcast.sourceIndex(from: shape, to: target))]
    }
}
