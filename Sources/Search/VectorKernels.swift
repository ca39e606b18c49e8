/// SIMD kernels over contiguous float vectors: dot products, squared distances, norms and
/// the float16 → float32 conversion. Written with `SIMD16<Float>` and two accumulators so the
/// compiler keeps 8 SSE (or 4 AVX) registers of partial sums in flight; the tail is scalar.
/// Loads are unaligned (`loadUnaligned`): rows of odd dimensions are not 64-byte aligned.
enum VectorKernels {
    @inline(__always)
    static func load16(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD16<Float> {
        UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self)
    }

    /// `Σ a[i]·b[i]` over `n` elements.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc0 = SIMD16<Float>()
        var acc1 = SIMD16<Float>()
        var i = 0
        while i + 32 <= n {
            acc0 += load16(a, i) * load16(b, i)
            acc1 += load16(a, i + 16) * load16(b, i + 16)
            i += 32
        }
        if i + 16 <= n {
            acc0 += load16(a, i) * load16(b, i)
            i += 16
        }
        var sum = (acc0 + acc1).sum()
        while i < n {
            sum += a[i] * b[i]
            i += 1
        }
        return sum
    }

    /// `Σ (a[i] − b[i])²` over `n` elements.
    @inline(__always)
    static func squaredDistance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc0 = SIMD16<Float>()
        var acc1 = SIMD16<Float>()
        var i = 0
        while i + 32 <= n {
            let d0 = load16(a, i) - load16(b, i)
            let d1 = load16(a, i + 16) - load16(b, i + 16)
            acc0 += d0 * d0
            acc1 += d1 * d1
            i += 32
        }
        if i + 16 <= n {
            let d0 = load16(a, i) - load16(b, i)
            acc0 += d0 * d0
            i += 16
        }
        var sum = (acc0 + acc1).sum()
        while i < n {
            let d = a[i] - b[i]
            sum += d * d
            i += 1
        }
        return sum
    }

    /// `Σ float(h[i])·q[i]`: a float16 row against a float32 query, converting 16 elements at
    /// a time in registers (the row is never widened in memory).
    @inline(__always)
    static func dot(half h: UnsafePointer<UInt16>, _ q: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc0 = SIMD16<Float>()
        var i = 0
        while i + 16 <= n {
            let bits = UnsafeRawPointer(h + i).loadUnaligned(as: SIMD16<UInt16>.self)
            acc0 += widen(bits) * load16(q, i)
            i += 16
        }
        var sum = acc0.sum()
        while i < n {
            sum += Float(Float16(bitPattern: h[i])) * q[i]
            i += 1
        }
        return sum
    }

    /// float16 bit patterns → float32, exactly (normals, subnormals, zeros, inf, NaN), with
    /// integer SIMD operations only (no F16C needed): shift the exponent and mantissa into
    /// float32 position and multiply by 2^112 to re-bias the exponent (15 → 127); the multiply
    /// also normalizes half subnormals. Inf/NaN (exponent 31) get the float32 all-ones exponent.
    @inline(__always)
    static func widen(_ h: SIMD16<UInt16>) -> SIMD16<Float> {
        let w = SIMD16<UInt32>(truncatingIfNeeded: h)
        let sign = (w & 0x8000) &<< 16
        let magnitude = (w & 0x7FFF) &<< 13
        let scaled = unsafeBitCast(magnitude, to: SIMD16<Float>.self) * SIMD16<Float>(repeating: 0x1p112)
        let isInfOrNaN = (w & 0x7C00) .== SIMD16<UInt32>(repeating: 0x7C00)
        var bits = unsafeBitCast(scaled, to: SIMD16<UInt32>.self)
        bits.replace(with: magnitude | 0x7F80_0000, where: isInfOrNaN)
        return unsafeBitCast(bits | sign, to: SIMD16<Float>.self)
    }

    /// Converts `n` float16 values to float32 (`n` need not be a multiple of 16).
    static func widen(_ source: UnsafePointer<UInt16>, into destination: UnsafeMutablePointer<Float>, count n: Int) {
        var i = 0
        while i + 16 <= n {
            let bits = UnsafeRawPointer(source + i).loadUnaligned(as: SIMD16<UInt16>.self)
            UnsafeMutableRawPointer(destination + i).storeBytes(of: widen(bits), as: SIMD16<Float>.self)
            i += 16
        }
        while i < n {
            destination[i] = Float(Float16(bitPattern: source[i]))
            i += 1
        }
    }

    /// Scales `v` in place to unit L2 norm (a zero vector stays zero).
    static func normalize(_ v: UnsafeMutablePointer<Float>, _ n: Int) {
        let norm = dot(v, v, n).squareRoot()
        guard norm > 0 else { return }
        let scale = 1 / norm
        for i in 0..<n { v[i] *= scale }
    }
}
