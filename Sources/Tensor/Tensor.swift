/// A dense, row-major (C order) float32 tensor: the currency between modules.
///
/// Storage is a Swift array, so a `Tensor` is a value: copies are cheap until written
/// (copy-on-write). Hot code takes `withUnsafeBufferPointer` views and never indexes element
/// by element through `subscript`, which exists for tests and small glue code.
public struct Tensor: Equatable, Sendable {
    /// Extent of each dimension, outermost first. A scalar has shape `[]` and one element.
    public private(set) var shape: [Int]
    /// The elements in row-major order; `data.count == shape.reduce(1, *)`.
    public var data: [Float]

    /// A tensor of the given shape filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative extent in shape \(shape)")
        self.shape = shape
        self.data = [Float](repeating: value, count: shape.reduce(1, *))
    }

    /// A tensor of the given shape over `data`, which must hold exactly `shape.product` elements.
    public init(shape: [Int], data: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative extent in shape \(shape)")
        precondition(
            data.count == shape.reduce(1, *),
            "tensor of shape \(shape) needs \(shape.reduce(1, *)) elements, got \(data.count)")
        self.shape = shape
        self.data = data
    }

    /// Number of elements.
    public var count: Int { data.count }

    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// Row-major strides in elements (not bytes).
    public var strides: [Int] { Tensor.strides(for: shape) }

    /// Row-major strides in elements for `shape`.
    public static func strides(for shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = running
            running *= shape[axis]
        }
        return strides
    }

    /// The same elements under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, data: data)
    }

    /// Element access by multi-index (for tests and glue code, not for kernels).
    public subscript(_ index: Int...) -> Float {
        get { data[offset(of: index)] }
        set { data[offset(of: index)] = newValue }
    }

    private func offset(of index: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) for shape \(shape)")
        var offset = 0
        for (axis, i) in index.enumerated() {
            precondition(i >= 0 && i < shape[axis], "index \(index) out of bounds for shape \(shape)")
            offset = offset * shape[axis] + i
        }
        return offset
    }

    /// Rows `range` of the outermost dimension (e.g. some images of a batch), copied.
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0])
        let rowSize = shape.dropFirst().reduce(1, *)
        var newShape = shape
        newShape[0] = range.count
        return Tensor(shape: newShape, data: Array(data[(range.lowerBound * rowSize)..<(range.upperBound * rowSize)]))
    }

    /// Stacks tensors of identical shape along a new outermost dimension.
    public static func stack(_ tensors: [Tensor]) -> Tensor {
        guard let first = tensors.first else { return Tensor(shape: [0]) }
        precondition(tensors.allSatisfy { $0.shape == first.shape }, "stack needs equal shapes")
        var data = [Float]()
        data.reserveCapacity(first.count * tensors.count)
        for tensor in tensors { data.append(contentsOf: tensor.data) }
        return Tensor(shape: [tensors.count] + first.shape, data: data)
    }
}
