/// A convolution with a fused residual Add on a kernel that has no residual input of its own
/// (Winograd, im2col, depthwise, or pointwise without AVX2): the inner kernel writes
/// bias + W∗X without activation, then one pass does y = act(y + r). Still one pass fewer
/// than separate Add and Relu nodes, and no buffer for the Add's output.
final class ResidualEpilogueKernel: Kernel {
    let inner: Kernel
    let count: Int
    let activation: Activation

    init(inner: Kernel, count: Int, activation: Activation) {
        self.inner = inner; self.count = count; self.activation = activation
    }

    var scratchCount: Int { inner.scratchCount }

    func run(inputs: [UnsafePointer<Float>?], outputs: [UnsafeMutablePointer<Float>], scratch: UnsafeMutablePointer<Float>) {
        inner.run(inputs: inputs, outputs: outputs, scratch: scratch)
        guard inputs.count > 3, let r = inputs[3] else { return }
        let y = outputs[0]
        let activation = self.activation
        Parallel.forEachChunk(count, work: count) { range in
            let (yc, rc) = (y + range.lowerBound, r + range.lowerBound)
            for i in 0..<range.count { yc[i] += rc[i] }
            activation.apply(yc, range.count)
        }
    }
}
