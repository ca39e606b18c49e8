import CKernels

/// Weight matrices [m × k] packed once at load for the engine's two GEMM kernels, and the one
/// place that chooses between them: the pixel-strip kernel (ck_pointwise_conv: 6-row panels,
/// vectors along the pixels) or, where ck_lanes_fits the product's shape on this CPU, the
/// channel-lanes kernel (ck_lanes_conv: 32-row blocks, vectors along the output channels).
/// The 1×1 and Winograd kernels hold one of these; the product, the packing and the row
/// granularity of a thread split must all agree on the kernel, so they all come from here.
final class PackedGEMMWeights: @unchecked Sendable {
    /// True when the products run on the channel-lanes kernel.
    let lanes: Bool
    let m: Int, k: Int
    /// Floats from one packed matrix to the next.
    let stride: Int
    private let storage: AlignedFloats

    /// `matrices` row-major [m × k] matrices, one after another from `weights`, for products
    /// over `columns` columns (output pixels, or Winograd tiles per band) on an AVX2+FMA CPU.
    init(_ weights: UnsafePointer<Float>, m: Int, k: Int, matrices: Int = 1, columns: Int) {
        let (m32, k32) = (Int32(m), Int32(k))
        let lanes = ck_lanes_fits(m32, k32, Int32(columns)) != 0
        let stride = lanes ? ck_lanes_packed_floats(m32, k32) : ck_pointwise_packed_floats(m32, k32)
        self.lanes = lanes
        self.m = m
        self.k = k
        self.stride = stride
        storage = AlignedFloats(count: matrices * stride) { buffer in
            for i in 0..<matrices {
                let (from, to) = (weights + i * m * k, buffer + i * stride)
                if lanes { ck_lanes_pack(from, m32, k32, to) } else { ck_pointwise_pack(from, m32, k32, to) }
            }
        }
    }

    /// Rows per unit of a thread split by output channels (a packed panel or block is never cut).
    var rowBlock: Int { lanes ? Int(CK_LANES_BLOCK_ROWS) : Int(CK_PW_PANEL_ROWS) }

    /// Rows `rows` and columns `columns` of Y = act(bias + R + W·X) for packed matrix `index`
    /// (X [k × ·] with row stride ldx, Y and R with row stride ldy; see ck_pointwise.h and
    /// ck_lanes.h). `prefetchNext`: the strip kernel fetches matrix index + 1's first k-block
    /// during its last one (the lanes kernel's weight stream runs on into it by itself). False
    /// when the CPU lacks the kernel's ISA (tests that switch ISAs after building).
    func product(
        _ index: Int = 0, bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, x: UnsafePointer<Float>, ldx: Int,
        y: UnsafeMutablePointer<Float>, ldy: Int, rows: Range<Int>, columns: Range<Int>, activation: ck_activation,
        prefetchNext: Bool = false
    ) -> Bool {
        let w = UnsafePointer(storage.base + index * stride)
        let (m32, k32) = (Int32(m), Int32(k))
        let (r0, r1, c0, c1) = (Int32(rows.lowerBound), Int32(rows.upperBound), Int32(columns.lowerBound), Int32(columns.upperBound))
        if lanes {
            return ck_lanes_conv(w, bias, residual, x, y, m32, k32, Int32(ldx), Int32(ldy), r0, r1, c0, c1, activation) != 0
        }
        let then = prefetchNext ? w + stride : nil
        return ck_pointwise_conv_then(
            w, bias, residual, x, y, m32, k32, Int32(ldx), Int32(ldy), r0, r1, c0, c1, activation, then, m32, k32) != 0
    }
}
