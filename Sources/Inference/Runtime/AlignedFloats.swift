/// Floats on 64-byte cache lines, owned: packed weights whose kernels load whole zmm vectors
/// of them (a Swift array's elements start 32 bytes into its heap object, so every 64-byte
/// load of an array would straddle two lines). Written once at load time, read-only after.
final class AlignedFloats: @unchecked Sendable {
    let base: UnsafeMutablePointer<Float>
    let count: Int

    /// `count` floats filled by `fill` (which must write all of them).
    init(count: Int, fill: (UnsafeMutablePointer<Float>) -> Void) {
        self.count = count
        base = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: max(1, count))
        fill(base)
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }
}
