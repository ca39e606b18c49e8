/// The EXIF orientation tag (0x0112): how the stored pixels must be turned to be upright.
/// Values as in the TIFF/EXIF specification; PIL's `ImageOps.exif_transpose` applies the
/// same transforms (2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE,
/// 6 ROTATE_270, 7 TRANSVERSE, 8 ROTATE_90).
public enum EXIFOrientation: Int, Sendable {
    case up = 1, mirrored = 2, upsideDown = 3, upsideDownMirrored = 4
    case transposed = 5, rotatedClockwise = 6, transverse = 7, rotatedCounterClockwise = 8

    /// True when the upright image has width and height swapped relative to the stored one.
    public var swapsAxes: Bool { rawValue >= 5 }

    /// The orientation recorded in a JPEG's EXIF APP1 segment; `.up` when there is none or
    /// it is malformed (a bad EXIF block must not make a decodable image fail, as in PIL).
    /// Walks the marker segments up to the first SOS; reads only what it bounds-checks.
    static func fromJPEG(_ bytes: UnsafeRawBufferPointer) -> EXIFOrientation {
        var offset = 2  // after SOI
        while offset + 4 <= bytes.count {
            guard bytes[offset] == 0xFF else { return .up }
            let marker = bytes[offset + 1]
            if marker == 0xFF { offset += 1; continue }  // fill byte
            if marker == 0xDA || marker == 0xD9 { return .up }  // SOS / EOI: no more headers
            if (0xD0...0xD7).contains(marker) || marker == 0x01 { offset += 2; continue }  // no length
            let length = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            guard length >= 2, offset + 2 + length <= bytes.count else { return .up }
            let payload = offset + 4
            if marker == 0xE1, length >= 8,
               bytes[payload] == 0x45, bytes[payload + 1] == 0x78, bytes[payload + 2] == 0x69,
               bytes[payload + 3] == 0x66, bytes[payload + 4] == 0, bytes[payload + 5] == 0 {
                let tiff = UnsafeRawBufferPointer(rebasing: bytes[(payload + 6)..<(offset + 2 + length)])
                return fromTIFF(tiff) ?? .up
            }
            offset += 2 + length
        }
        return .up
    }

    /// Tag 0x0112 of IFD0 in a TIFF-structured EXIF block.
    private static func fromTIFF(_ tiff: UnsafeRawBufferPointer) -> EXIFOrientation? {
        guard tiff.count >= 8 else { return nil }
        let littleEndian: Bool
        switch (tiff[0], tiff[1]) {
        case (0x49, 0x49): littleEndian = true
        case (0x4D, 0x4D): littleEndian = false
        default: return nil
        }
        func u16(_ at: Int) -> Int? {
            guard at >= 0, at + 2 <= tiff.count else { return nil }
            return littleEndian ? Int(tiff[at]) | Int(tiff[at + 1]) << 8 : Int(tiff[at]) << 8 | Int(tiff[at + 1])
        }
        func u32(_ at: Int) -> Int? {
            guard let a = u16(at), let b = u16(at + 2) else { return nil }
            return littleEndian ? a | b << 16 : a << 16 | b
        }
        guard u16(2) == 42, let ifd = u32(4), let entries = u16(ifd) else { return nil }
        for index in 0..<entries {
            let entry = ifd + 2 + index * 12
            guard let tag = u16(entry) else { return nil }
            if tag == 0x0112 {
                guard let type = u16(entry + 2), type == 3, let value = u16(entry + 8) else { return nil }
                return EXIFOrientation(rawValue: value)
            }
        }
        return nil
    }
}

extension DecodedImage {
    /// The upright image: `self` (as stored) turned as `orientation` says.
    func applying(_ orientation: EXIFOrientation) -> DecodedImage {
        if orientation == .up { return self }
        let (w, h) = (width, height)
        let (outW, outH) = orientation.swapsAxes ? (h, w) : (w, h)
        // Source pixel of output (x, y) = base + x * stepX + y * stepY, in pixels of the
        // stored image (index = sy * w + sx).
        let base: Int, stepX: Int, stepY: Int
        switch orientation {
        case .up: (base, stepX, stepY) = (0, 1, w)
        case .mirrored: (base, stepX, stepY) = (w - 1, -1, w)
        case .upsideDown: (base, stepX, stepY) = ((h - 1) * w + w - 1, -1, -w)
        case .upsideDownMirrored: (base, stepX, stepY) = ((h - 1) * w, 1, -w)
        case .transposed: (base, stepX, stepY) = (0, w, 1)  // out(x,y) = in(y, x)
        case .rotatedClockwise: (base, stepX, stepY) = ((h - 1) * w, -w, 1)  // in(y, h-1-x)
        case .transverse: (base, stepX, stepY) = ((h - 1) * w + w - 1, -w, -1)  // in(w-1-y, h-1-x)
        case .rotatedCounterClockwise: (base, stepX, stepY) = (w - 1, w, -1)  // in(w-1-y, x)
        }
        var out = [UInt8](repeating: 0, count: rgb.count)
        rgb.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<outH {
                    var s = base + y * stepY
                    var d = y * outW * 3
                    for _ in 0..<outW {
                        dst[d] = src[s * 3]
                        dst[d + 1] = src[s * 3 + 1]
                        dst[d + 2] = src[s * 3 + 2]
                        s += stepX
                        d += 3
                    }
                }
            }
        }
        let (fullW, fullH) = orientation.swapsAxes ? (fullHeight, fullWidth) : (fullWidth, fullHeight)
        return DecodedImage(width: outW, height: outH, rgb: out, reduction: reduction,
                            fullWidth: fullW, fullHeight: fullH)
    }
}
