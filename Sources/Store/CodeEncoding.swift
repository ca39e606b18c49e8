import Foundation

/// The bytes of one stored code (the LMDB value under an image id), in one of two formats
/// told apart by their length alone:
///
/// **dense** — exactly `dim × width` bytes: the `dim` elements, little-endian, f32 (IEEE
/// binary32) or f16 (binary16, round-to-nearest-even from f32; beyond ±65504 → ±inf). The only
/// format before packing existed, so older stores read unchanged.
///
/// **zero-bitmap packed** — any other length; written only when strictly shorter than dense:
///
///     offset 0                  format tag, 1 byte = `packedTag` (1)
///     offset 1                  3 bytes, zero (reserved)
///     offset 4                  bitmap, ceil(dim / 8) bytes: bit (i % 8) of byte (i / 8), least
///                               significant first, is set ⇔ element i is nonzero; bits past
///                               `dim` are zero
///     offset 4 + ceil(dim / 8)  the nonzero elements in index order, `width` bytes each,
///                               little-endian (unaligned)
///
/// "Zero" is the all-zero bit pattern of the stored dtype (+0.0): -0.0, NaN and subnormals
/// are nonzeros, so the round trip is bit-exact in the stored dtype. ReLU'd codes are mostly
/// exact zeros (half of random ReLU'd normals; ~75% of AlexNet fc7), which is what makes
/// packing pay: a 1280-d f32 code half zeros takes 4 + 160 + 640 × 4 = 2,724 B instead of
/// 5,120 B — one 4 KB LMDB overflow page instead of two.
///
/// Both supported hosts (x86-64, arm64) are little-endian, so an f32 element is a plain copy.
struct CodeEncoding {
    let dim: Int
    let dtype: CodeDType

    static let packedTag: UInt8 = 1
    /// Tag byte + 3 reserved bytes: keeps the bitmap 4-byte aligned relative to the value.
    static let headerBytes = 4

    /// Bytes per element of the stored dtype.
    var width: Int { dtype.byteWidth }
    /// Length of the dense format (also the most an encoded code ever takes).
    var denseBytes: Int { dim * width }
    var bitmapBytes: Int { (dim + 7) / 8 }

    /// Length of a packed code with `nonzeros` nonzero elements.
    func packedBytes(nonzeros: Int) -> Int { CodeEncoding.headerBytes + bitmapBytes + nonzeros * width }

    // MARK: Encoding

    /// Bytes `encode` needs in its output: dense, plus room for the packer's unconditional
    /// stores of one 8-element group past the point where it gives up on packing.
    var scratchBytes: Int { denseBytes + 8 * width }

    /// Writes the shorter format of `code` (`dim` floats) into `output` (at least
    /// `scratchBytes` bytes) and returns the bytes used: `denseBytes` for dense, fewer for packed.
    func encode(_ code: UnsafeBufferPointer<Float>, into output: UnsafeMutableRawBufferPointer) -> Int {
        precondition(code.count == dim && output.count >= scratchBytes, "caller sizes the buffers")
        switch dtype {
        case .f32:
            if let used = pack(UInt32.self, { code[$0].bitPattern }, into: output) { return used }
            UnsafeMutableRawBufferPointer(rebasing: output[0..<denseBytes]).copyMemory(from: UnsafeRawBufferPointer(code))
        case .f16:
            if let used = pack(UInt16.self, { Float16(code[$0]).bitPattern }, into: output) { return used }
            for index in 0..<dim {
                output.storeBytes(of: Float16(code[index]).bitPattern.littleEndian, toByteOffset: index * 2, as: UInt16.self)
            }
        }
        return denseBytes
    }

    /// Packs the elements' bit patterns (`element(i)`, i < dim) into `output`; nil as soon as
    /// the packed value would not be shorter than dense (the caller then writes dense).
    ///
    /// Branch-free per element: ReLU'd codes are zero or not at random, so a branch on each
    /// element mispredicts half the time (that made packing cost ~3 µs per 1280-d code).
    /// Every element is stored at `end`, which advances only past nonzeros; a zero's store
    /// is overwritten by the next element. The length check runs once per 8 elements, so
    /// the stores may run up to 8 elements past `denseBytes` (`scratchBytes`).
    @inline(__always)
    private func pack<Bits: FixedWidthInteger & UnsignedInteger>(
        _: Bits.Type, _ element: (Int) -> Bits, into output: UnsafeMutableRawBufferPointer
    ) -> Int? {
        let limit = denseBytes  // packed must end strictly before this
        let width = MemoryLayout<Bits>.size
        var end = CodeEncoding.headerBytes + bitmapBytes
        output.storeBytes(of: UInt32(CodeEncoding.packedTag).littleEndian, toByteOffset: 0, as: UInt32.self)
        var index = 0
        for byteIndex in 0..<bitmapBytes {
            guard end < limit else { return nil }
            var mask: UInt8 = 0
            let count = min(8, dim - index)
            for bit in 0..<count {
                let bits = element(index + bit)
                output.storeBytes(of: bits.littleEndian, toByteOffset: end, as: Bits.self)
                let nonzero = bits != 0 ? 1 : 0
                mask |= UInt8(truncatingIfNeeded: nonzero << bit)
                end += nonzero * width
            }
            index += count
            output.storeBytes(of: mask, toByteOffset: CodeEncoding.headerBytes + byteIndex, as: UInt8.self)
        }
        return end < limit ? end : nil
    }

    // MARK: Decoding

    /// Why `bytes` is not a valid value of this encoding, or nil when it is. Checks the
    /// length, the header, the bitmap's padding bits and that the bitmap's popcount matches
    /// the number of stored elements.
    func problem(with bytes: UnsafeRawBufferPointer) -> String? {
        if bytes.count == denseBytes { return nil }
        let prefix = CodeEncoding.headerBytes + bitmapBytes
        guard bytes.count >= prefix, bytes.count < denseBytes else {
            return "\(bytes.count) bytes: neither dense (\(denseBytes) B) nor zero-bitmap packed (\(prefix)–\(denseBytes - 1) B)"
        }
        let header = UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self))
        guard header == UInt32(CodeEncoding.packedTag) else {
            return "\(bytes.count) bytes with header 0x\(String(header, radix: 16)) (packed codes start with tag \(CodeEncoding.packedTag), then 3 zero bytes)"
        }
        guard (bytes.count - prefix) % width == 0 else {
            return "\(bytes.count) bytes: the packed elements are not a whole number of \(width)-byte values"
        }
        let stored = (bytes.count - prefix) / width
        let ones = bitmapPopulation(bytes)
        let padding = bitmapBytes * 8 - dim
        if padding > 0, bytes[prefix - 1] >> (8 - padding) != 0 {
            return "bitmap has bits set past dimension \(dim)"
        }
        guard ones == stored else {
            return "bitmap marks \(ones) nonzeros but \(stored) are stored"
        }
        return nil
    }

    /// Number of set bits in the bitmap of `bytes` (at least `headerBytes + bitmapBytes` long),
    /// 64 bits at a time.
    @inline(__always)
    private func bitmapPopulation(_ bytes: UnsafeRawBufferPointer) -> Int {
        var ones = 0
        var byteIndex = 0
        while byteIndex + 8 <= bitmapBytes {
            ones += bytes.loadUnaligned(fromByteOffset: CodeEncoding.headerBytes + byteIndex, as: UInt64.self).nonzeroBitCount
            byteIndex += 8
        }
        while byteIndex < bitmapBytes {
            ones += bytes[CodeEncoding.headerBytes + byteIndex].nonzeroBitCount
            byteIndex += 1
        }
        return ones
    }

    /// Decodes `bytes` (either format; may be unaligned — LMDB values follow an 8-byte key)
    /// into `output` (`dim` floats, every one written). Returns false, leaving `output`
    /// unspecified, when `bytes` is malformed (`problem(with:)` says why).
    func decode(_ bytes: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<Float>) -> Bool {
        precondition(output.count == dim, "caller sizes the output")
        if bytes.count == denseBytes {
            switch dtype {
            case .f32:
                UnsafeMutableRawBufferPointer(output).copyMemory(from: bytes)
            case .f16:
                for index in 0..<dim {
                    output[index] = Float(Float16(bitPattern: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))))
                }
            }
            return true
        }
        guard problem(with: bytes) == nil, let base = bytes.baseAddress, let out = output.baseAddress else { return false }
        switch dtype {
        case .f32:
            unpack(base, UInt32.self, into: out) { Float(bitPattern: UInt32(littleEndian: $0)) }
        case .f16:
            unpack(base, UInt16.self, into: out) { Float(Float16(bitPattern: UInt16(littleEndian: $0))) }
        }
        return true
    }

    /// Expands a validated packed value into all `dim` elements of `output`: zero-fills it
    /// (vector stores), then walks the bitmap 64 bits at a time and jumps from set bit to set
    /// bit (trailing-zero count), storing each nonzero — so a zero costs only its share of
    /// the fill. Measured against a branch-free expansion (every element selects "next
    /// stored value or 0" from its bit): that does ~3× the instructions for half-zero codes
    /// and took 0.26 s of CPU for the benchmark's 100,000 half-zero 1280-d codes against 0.15 s for this
    /// (perf samples of `cnncodes export`).
    @inline(__always)
    private func unpack<Bits: FixedWidthInteger & UnsignedInteger>(
        _ base: UnsafeRawPointer, _: Bits.Type, into out: UnsafeMutablePointer<Float>, _ convert: (Bits) -> Float
    ) {
        out.update(repeating: 0, count: dim)
        let bitmap = base + CodeEncoding.headerBytes
        let values = bitmap + bitmapBytes
        let width = MemoryLayout<Bits>.size
        var offset = 0
        var byteIndex = 0
        while byteIndex < bitmapBytes {
            let take = min(8, bitmapBytes - byteIndex)
            var word: UInt64
            if take == 8 {
                word = UInt64(littleEndian: bitmap.loadUnaligned(fromByteOffset: byteIndex, as: UInt64.self))
            } else {
                word = 0
                for k in 0..<take {
                    word |= UInt64(bitmap.load(fromByteOffset: byteIndex + k, as: UInt8.self)) << (8 * k)
                }
            }
            let element = out + byteIndex * 8
            while word != 0 {
                element[word.trailingZeroBitCount] = convert(values.loadUnaligned(fromByteOffset: offset, as: Bits.self))
                offset &+= width
                word &= word &- 1
            }
            byteIndex += take
        }
    }
}
