/// Element types the engine distinguishes. Runtime activations are always `.float`;
/// `.int64` exists for shape arithmetic during constant folding (Shape, Gather, Slice,
/// Concat, Cast feeding Reshape/Pad), where every ONNX integer and bool type is widened to it.
public enum DType: String, Sendable {
    case float
    case int64
}

/// A constant tensor held on the host during loading: float32 or int64 elements, row-major.
/// Exactly one of `floats` / `ints` holds `count` elements, according to `dtype`.
struct HostTensor {
    var shape: [Int]
    var dtype: DType
    var floats: [Float]
    var ints: [Int64]

    init(shape: [Int], floats: [Float]) {
        self.shape = shape; self.dtype = .float; self.floats = floats; self.ints = []
    }

    init(shape: [Int], ints: [Int64]) {
        self.shape = shape; self.dtype = .int64; self.floats = []; self.ints = ints
    }

    var count: Int { shape.reduce(1, *) }

    /// The elements as int64 (floats truncated toward zero, as ONNX Cast does).
    var asInts: [Int64] {
        dtype == .int64 ? ints : floats.map { $0.isFinite ? Int64(max(min($0, 9.2e18), -9.2e18)) : 0 }
    }

    /// The elements as Int (for shapes, axes, pads).
    var asInt: [Int] { asInts.map { Int(clamping: $0) } }

    /// The elements as float32.
    var asFloats: [Float] { dtype == .float ? floats : ints.map { Float($0) } }

    /// A float tensor of the same shape.
    func castFloat() -> HostTensor { HostTensor(shape: shape, floats: asFloats) }

    /// A tensor of `newShape` whose element i is this tensor's element `source[i]`: every
    /// data-movement op (Transpose, Slice, Gather, Concat pieces, Pad) on constants, for both dtypes.
    func gathered(shape newShape: [Int], source: [Int]) -> HostTensor {
        switch dtype {
        case .float: return HostTensor(shape: newShape, floats: source.map { floats[$0] })
        case .int64: return HostTensor(shape: newShape, ints: source.map { ints[$0] })
        }
    }

    /// The same elements under another shape.
    func reshaped(_ newShape: [Int]) -> HostTensor {
        var copy = self
        copy.shape = newShape
        return copy
    }
}
