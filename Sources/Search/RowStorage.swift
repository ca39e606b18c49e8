/// A growable, contiguous, row-major matrix of `dim`-element rows stored as float32 or
/// float16 bit patterns, 64-byte aligned (cache lines; AVX loads).
///
/// Memory: `capacity × dim × scalarType.byteWidth` bytes; grows by doubling so incremental
/// adds are amortized O(1) per row and never re-lay existing rows out differently.
/// Not thread-safe for mutation; concurrent readers are fine between mutations.
final class RowStorage {
    let dim: Int
    let scalarType: ScalarType
    private(set) var count = 0
    private(set) var capacity = 0
    private(set) var base: UnsafeMutableRawPointer

    init(dim: Int, scalarType: ScalarType) {
        self.dim = dim
        self.scalarType = scalarType
        base = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
    }

    deinit { base.deallocate() }

    var rowBytes: Int { dim * scalarType.byteWidth }

    /// Rows as float32 (only when `scalarType == .float32`).
    var floats: UnsafeMutablePointer<Float> { base.assumingMemoryBound(to: Float.self) }
    /// Rows as float16 bit patterns (only when `scalarType == .float16`).
    var halves: UnsafeMutablePointer<UInt16> { base.assumingMemoryBound(to: UInt16.self) }

    func reserve(_ rows: Int) {
        guard rows > capacity else { return }
        let newCapacity = max(rows, capacity * 2, 1024)
        let newBase = UnsafeMutableRawPointer.allocate(byteCount: max(64, newCapacity * rowBytes), alignment: 64)
        newBase.copyMemory(from: base, byteCount: count * rowBytes)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    /// Appends one float32 row (rounded to half when stored as float16).
    func append(_ row: UnsafePointer<Float>) {
        reserve(count + 1)
        switch scalarType {
        case .float32:
            (floats + count * dim).update(from: row, count: dim)
        case .float16:
            let destination = halves + count * dim
            for j in 0..<dim { destination[j] = Float16(row[j]).bitPattern }
        }
        count += 1
    }

    /// Row `row` widened to float32 into `scratch` (or the stored row itself for float32).
    func floatRow(_ row: Int, scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        switch scalarType {
        case .float32: return UnsafePointer(floats + row * dim)
        case .float16:
            VectorKernels.widen(halves + row * dim, into: scratch, count: dim)
            return UnsafePointer(scratch)
        }
    }

    /// Moves the last row into `row` and drops the last row (O(dim)).
    func removeBySwappingLast(_ row: Int) {
        let last = count - 1
        if row != last {
            (base + row * rowBytes).copyMemory(from: base + last * rowBytes, byteCount: rowBytes)
        }
        count -= 1
    }
}
