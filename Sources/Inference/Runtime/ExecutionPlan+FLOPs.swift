/// Floating-point work of one forward pass, counted on the planned graph (after pruning,
/// folding and fusion): 2 · multiply-accumulates of every Conv, Gemm and MatMul. The count is
/// that of the direct algorithm whatever the kernel (a Winograd convolution does fewer
/// multiplies but is credited the direct count), so GFLOP/s compare across engines the usual
/// way. Elementwise ops, pooling and normalization are left out: they are memory-bound and
/// < 1 % of the work in the networks we run.
enum FLOPCount {
    /// 2 · multiply-accumulates of one step (0 for other ops, and for shapes it cannot read).
    static func of(_ step: Program.Step) -> Int {
        2 * ((try? multiplyAccumulates(step)) ?? 0)
    }

    /// Multiply-accumulates of one step (0 for other ops).
    static func multiplyAccumulates(_ step: Program.Step) throws -> Int {
        let infos = step.inputInfos
        switch step.op {
        case let conv as ConvOp:
            let x = try required(infos, 0, "X"), w = try required(infos, 1, "W")
            let g = try conv.geometry(input: x.shape, weights: w.shape)
            // Every output element sums C/group · kH · kW products.
            return g.outputShape.reduce(1, *) * g.patchSize
        case let gemm as GemmOp:
            let (m, n, k) = try gemm.sizes(try required(infos, 0, "A").shape, try required(infos, 1, "B").shape)
            return m * n * k
        case let matmul as MatMulOp:
            let p = try matmul.plan(try required(infos, 0, "A").shape, try required(infos, 1, "B").shape)
            return max(1, p.aBatch.count) * p.m * p.n * p.k
        default:
            return 0
        }
    }
}
