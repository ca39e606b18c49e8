import Tensor

/// ONNX `Gemm`: Y = alpha · op(A) · op(B) + beta · C, with transA/transB and C broadcast to
/// [M, N] (unidirectionally). A fused activation (Relu) may follow.
struct GemmOp: Operator {
    let transA: Bool, transB: Bool
    let alpha: Float, beta: Float
    var activation = Activation.none

    init(node: Node) throws {
        transA = try node.int("transA", default: 0) != 0
        transB = try node.int("transB", default: 0) != 0
        alpha = try node.float("alpha", default: 1)
        beta = try node.float("beta", default: 1)
    }

    /// (M, N, K) for A and B of these shapes.
    func sizes(_ a: [Int], _ b: [Int]) throws -> (Int, Int, Int) {
        guard a.count == 2, b.count == 2 else { throw OpError("A \(a) and B \(b) must be matrices") }
        let (m, k) = transA ? (a[1], a[0]) : (a[0], a[1])
        let (k2, n) = transB ? (b[1], b[0]) : (b[0], b[1])
        guard k == k2 else { throw OpError("inner dimensions differ: A \(a)\(transA ? "ᵀ" : "") · B \(b)\(transB ? "ᵀ" : "")") }
        return (m, n, k)
    }

    func infer(_ inputs: [ValueInfo?]) throws -> [ValueInfo] {
        let (m, n, _) = try sizes(try required(inputs, 0, "A").shape, try required(inputs, 1, "B").shape)
        if inputs.count > 2, let c = inputs[2] { _ = try Broadcast.sourceIndex(from: c.shape, to: [m, n]) }
        return [ValueInfo(shape: [m, n])]
    }

    /// C broadcast to [M, N], times beta (zeros when C is absent).
    func biasMatrix(_ c: HostTensor?, m: Int, n: Int) throws -> [Float] {
        guard let c else { return [Float](repeating: 0, count: m * n) }
        let index = try Broadcast.sourceIndex(from: c.shape, to: [m, n])
        let values = c.asFloats
        return index.map { beta * values[$0] }
    }

    /// The reference: a plain triple loop.
    func evaluate(_ inputs: [HostTensor?]) throws -> [HostTensor] {
        let a = try required(inputs, 0, "A"), b = try required(inputs, 1, "B")
        let (m, n, k) = try sizes(a.shape, b.shape)
        var y = try biasMatrix(inputs.count > 2 ? inputs[2] : nil, m: m, n: n)
        let av = a.asFloats, bv = b.asFloats
        for i in 0..<m {
            for j in 0..<n {
                var sum: Float = 0
                for p in 0..<k {
                    let x = transA ? av[p * m + i] : av[i * k + p]
                    let w = transB ? bv[j * k + p] : bv[p * n + j]
                    sum += x * w
                }
                y[i * n + j] += alpha * sum
            }
        }
        return [HostTensor(shape: [m, n], floats: activation.applied(to: y))]
    }

    func makeKernel(_ inputs: [ValueInfo?], outputs: [ValueInfo]) throws -> Kernel {
        let a = try required(inputs, 0, "A"), b = try required(inputs, 1, "B")
        guard a.constant == nil, let bValue = b.constant else {
            return EvaluateKernel(op: self, inputs: inputs, outputs: outputs)
        }
        let c = inputs.count > 2 ? inputs[2] : nil
        if let c, c.constant == nil { return EvaluateKernel(op: self, inputs: inputs, outputs: outputs) }
        let (m, n, k) = try sizes(a.shape, b.shape)
        return GemmKernel(
            m: m, n: n, k: k, transA: transA, transB: transB, alpha: alpha,
            b: bValue.asFloats, bias: c == nil ? nil : try biasMatrix(c?.constant, m: m, n: n), activation: activation)
    }
}

/// Y = alpha · op(A) · op(B) (+ precomputed beta·C) with B constant, then the activation.
final class GemmKernel: Kernel {
    let m: Int, n: Int, k: Int
    let transA: Bool, transB: Bool
    let alpha: Float
    let b: [Float]
    let bias: [Float]?
    let activation: Activation

    init(m: Int, n: Int, k: Int, transA: Bool, transB: Bool, alpha: Float, b: [Float], bias: [Float]?, activation: Activation) {
        self.m = m; self.n = n; self.k = k; self.transA = transA; self.transB = transB
        self.alpha = alpha; self.b = b; self.bias = bias; self.activation = activation
    }

    func run(inputs: [UnsafePointer<Float>?], outputs: [UnsafeMutablePointer<Float>], scratch: UnsafeMutablePointer<Float>) {
        guard let a = inputs[0] else { return }
        let y = outputs[0]
        if let bias { bias.withUnsafeBufferPointer { y.update(from: $0.baseAddress!, count: m * n) } }
        b.withUnsafeBufferPointer { bp in
            Parallel.sgemm(
                transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                a: a, lda: transA ? m : k, b: bp.baseAddress!, ldb: transB ? k : n,
                beta: bias == nil ? 0 : 1, c: y, ldc: n)
        }
        activation.apply(y, m * n)
    }
}

/// ONNX `MatMul` with numpy semantics: 1-D operands promoted, batch dimensions broadcast.
struct MatMulOp: Operator {
    /// Shapes after promotion: batch dims, M, K, N, and the output shape.
    struct Plan {
        var batchShape: [Int]
        var aBatch: [Int], bBatch: [Int]  // per output batch index, the source batch index
        var m: Int, k: Int, n: Int
        var outShape: [Int]
    }

    func plan(_ a: [Int], _ b: [Int]) throws -> Plan {
        guard !a.isEmpty, !b.isEmpty else { throw OpError("MatMul operands must not be scalars") }
        let a2 = a.count == 1 ? [1] + a : a
        let b2 = b.count == 1 ? b + [1] : b
        let (m, k) = (a2[a2.count - 2], a2[a2.count - 1])
        let (k2, n) = (b2[b2.count - 2], b2[b2.count - 1])
        guard k == k2 else { throw OpError("inner dimensions differ: \(a) · \(b)") }
        let aB = Array(a2.dropLast(2)), bB = Array(b2.dropLast(2))
        let batch = try Broadcast.shape(aB, bB)
        let aIndex = try Broadcast.sourceIndex(from: aB, to: batch)
        let bIndex = try Broadcast.sourceIndex(from: bB, to: batch)
        var out = batch
        if a.count > 1 { out.append(m) }
        if b.count > 1 { out.append(n) }
        return Plan(batchShape: batch, aBatch: aIndex, bBatch: bIndex, m: m, k: k, n: n, outShape: out)
    }

    func infer(_ inputs: [ValueInfo?]) throws -> [ValueInfo] {
        [ValueInfo(shape: try plan(try required(inputs, 0, "A").shape, try required(inputs, 1, "B").shape).outShape)]
    }

    func evaluate(_ inputs: [HostTensor?]) throws -> [HostTensor] {
        let a = try required(inputs, 0, "A"), b = try required(inputs, 1, "B")
        let p = try plan(a.shape, b.shape)
        guard a.count > 0, b.count > 0 else { throw OpError("empty operand") }
        var out = [Float](repeating: 0, count: p.outShape.reduce(1, *))
        let av = a.asFloats, bv = b.asFloats
        av.withUnsafeBufferPointer { ap in
            bv.withUnsafeBufferPointer { bp in
                out.withUnsafeMutableBufferPointer { op in
                    MatMulKernel(plan: p, constantB: nil).multiply(ap.baseAddress!, bp.baseAddress!, op.baseAddress!)
                }
            }
        }
        return [HostTensor(shape: p.outShape, floats: out)]
    }

    func makeKernel(_ inputs: [ValueInfo?], outputs: [ValueInfo]) throws -> Kernel {
        let a = try required(inputs, 0, "A"), b = try required(inputs, 1, "B")
        guard a.constant == nil else { return EvaluateKernel(op: self, inputs: inputs, outputs: outputs) }
        return MatMulKernel(plan: try plan(a.shape, b.shape), constantB: b.constant?.asFloats)
    }
}

final class MatMulKernel: Kernel {
    let p: MatMulOp.Plan
    let constantB: [Float]?

    init(plan: MatMulOp.Plan, constantB: [Float]?) { p = plan; self.constantB = constantB }

    func run(inputs: [UnsafePointer<Float>?], outputs: [UnsafeMutablePointer<Float>], scratch: UnsafeMutablePointer<Float>) {
        guard let a = inputs[0] else { return }
        if let constantB {
            constantB.withUnsafeBufferPointer { multiply(a, $0.baseAddress!, outputs[0]) }
        } else if let b = inputs[1] {
            multiply(a, b, outputs[0])
        }
    }

    /// One sgemm per output batch entry; when B has no batch dims, all of A's rows at once.
    func multiply(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        let (m, k, n) = (p.m, p.k, p.n)
        if p.bBatch.allSatisfy({ $0 == 0 }) && p.aBatch == Array(0..<p.aBatch.count) {
            Parallel.sgemm(m: m * p.aBatch.count, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: y, ldc: n)
            return
        }
        for (index, (ai, bi)) in zip(p.aBatch, p.bBatch).enumerated() {
            Parallel.sgemm(m: m, n: n, k: k, a: a + ai * m * k, lda: k, b: b + bi * k * n, ldb: n, c: y + index * m * n, ldc: n)
        }
    }
}
