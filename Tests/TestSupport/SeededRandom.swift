import Tensor

/// Every test's data comes from the package's SplitMix64 (`SeededGenerator`), so it is the
/// same on every machine (tests must not depend on the system RNG).
public typealias SeededRandom = SeededGenerator

extension SeededGenerator {
    /// Uniform in [-1, 1).
    public mutating func nextSigned() -> Float { Float(nextUnit() * 2 - 1) }
}
