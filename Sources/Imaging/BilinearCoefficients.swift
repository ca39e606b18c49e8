/// One axis of PIL's antialiased bilinear resize (`Image.resize(size, Image.BILINEAR)`,
/// Pillow's src/libImaging/Resample.c), reimplemented to give bit-identical results.
///
/// For output sample `i`, the source interval `[in0, in1)` is split into `outSize` cells of
/// `scale = (in1 - in0) / outSize` source pixels; the cell centre is
/// `in0 + (i + 0.5) * scale`. The triangle filter has support 1 source pixel, widened to
/// `scale` when downscaling (so every source pixel contributes: antialiasing). The window
/// is `[round(centre - support), round(centre + support))` clipped to the image, the
/// weights are the triangle at `(j - centre + 0.5) / filterScale`, normalised to sum 1,
/// then turned into fixed point with `precisionBits` fractional bits, rounding half away
/// from zero — all in Double, in the same order as Pillow, so the integers match.
struct BilinearCoefficients {
    /// Fixed-point fraction bits: 32 - 8 (pixel) - 2 (headroom), as in Pillow. A weighted
    /// sum of 8-bit pixels stays below 2^31.
    static let precisionBits: Int32 = 22

    /// Taps per output sample (the stride of `weights`); unused taps have weight 0.
    let taps: Int
    /// First source index of each output sample's window.
    let first: [Int32]
    /// Number of source samples in each window (<= taps).
    let count: [Int32]
    /// Fixed-point weights, `taps` per output sample, row-major.
    let weights: [Int32]

    /// Coefficients for output samples `outputRange` (a sub-range of `0..<outSize`: the
    /// values do not depend on which other outputs are computed, so a crop can skip them).
    init(inSize: Int, in0: Float, in1: Float, outSize: Int, outputRange: Range<Int>) {
        // Pillow computes `in1 - in0` in float, then widens to double.
        let scale = Double(in1 - in0) / Double(outSize)
        let filterScale = max(scale, 1.0)
        let support = 1.0 * filterScale  // the bilinear filter's support is 1
        let taps = Int(support.rounded(.up)) * 2 + 1
        self.taps = taps
        var first = [Int32](repeating: 0, count: outputRange.count)
        var count = [Int32](repeating: 0, count: outputRange.count)
        var weights = [Int32](repeating: 0, count: outputRange.count * taps)
        var window = [Double](repeating: 0, count: taps)
        let inverseScale = 1.0 / filterScale
        let unit = Double(1 << BilinearCoefficients.precisionBits)
        for (slot, i) in outputRange.enumerated() {
            let center = Double(in0) + (Double(i) + 0.5) * scale
            // C's (int) cast truncates toward zero; values here are > -1 - support, and
            // truncation of a negative lower bound is then clamped to 0 as in Pillow.
            var lower = Int((center - support + 0.5).rounded(.towardZero))
            if lower < 0 { lower = 0 }
            var upper = Int((center + support + 0.5).rounded(.towardZero))
            if upper > inSize { upper = inSize }
            let n = max(upper - lower, 0)
            var total = 0.0
            for j in 0..<n {
                let w = BilinearCoefficients.triangle((Double(j + lower) - center + 0.5) * inverseScale)
                window[j] = w
                total += w
            }
            for j in 0..<n {
                var w = window[j]
                if total != 0.0 { w /= total }
                let fixed = w < 0 ? Int32((-0.5 + w * unit).rounded(.towardZero))
                                  : Int32((0.5 + w * unit).rounded(.towardZero))
                weights[slot * taps + j] = fixed
            }
            first[slot] = Int32(lower)
            count[slot] = Int32(n)
        }
        self.first = first
        self.count = count
        self.weights = weights
    }

    /// The source samples all computed outputs read: (lowest first, highest end).
    var sourceSpan: (Int, Int) {
        var low = Int.max, high = Int.min
        for (f, n) in zip(first, count) {
            low = min(low, Int(f))
            high = max(high, Int(f + n))
        }
        return low <= high ? (low, high) : (0, 0)
    }

    @inline(__always)
    static func triangle(_ x: Double) -> Double {
        let a = x < 0 ? -x : x
        return a < 1.0 ? 1.0 - a : 0.0
    }

    /// Fixed point back to a byte: `value >> precisionBits` clamped to 0...255 (Pillow's
    /// clip8; the rounding half-unit is added to the accumulator's start value).
    @inline(__always)
    static func clip8(_ value: Int32) -> UInt8 {
        let shifted = value >> precisionBits
        return shifted < 0 ? 0 : (shifted > 255 ? 255 : UInt8(truncatingIfNeeded: shifted))
    }

    /// The accumulator's start value: one half in fixed point (round to nearest).
    static let half: Int32 = 1 << (precisionBits - 1)
}
