import CTurboJPEG

/// JPEG through libjpeg-turbo's TurboJPEG API, producing what PIL's
/// `Image.open(f).convert("RGB")` produces (same library family, same defaults: accurate
/// integer IDCT, fancy upsampling), then the EXIF orientation applied.
///
/// Thread safety: one TurboJPEG handle per call, nothing shared.
enum JPEGDecoder {
    static func decode(_ bytes: UnsafeRawBufferPointer, name: String, limits: DecodeLimits,
                       sizeHint: DecodeSizeHint?) throws -> DecodedImage {
        guard let handle = tjInitDecompress() else {
            throw ImagingError.corrupt(file: name, reason: "cannot create a TurboJPEG decompressor")
        }
        defer { tjDestroy(handle) }
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            throw ImagingError.unrecognizedFormat(file: name, reason: "empty file")
        }
        let source = base.assumingMemoryBound(to: UInt8.self)
        let size = UInt(bytes.count)

        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        if tjDecompressHeader3(handle, source, size, &width, &height, &subsampling, &colorspace) != 0 {
            throw ImagingError.corrupt(file: name, reason: message(handle))
        }
        guard width > 0, height > 0 else {
            throw ImagingError.corrupt(file: name, reason: "JPEG header declares \(width)x\(height)")
        }
        // Decompression-bomb guard: from the header, before any pixel buffer exists.
        guard Int(width) * Int(height) <= limits.maxPixels else {
            throw ImagingError.tooManyPixels(file: name, width: Int(width), height: Int(height), limit: limits.maxPixels)
        }

        let orientation = EXIFOrientation.fromJPEG(bytes)
        let (uprightWidth, uprightHeight) = orientation.swapsAxes ? (Int(height), Int(width)) : (Int(width), Int(height))
        let reduction = sizeHint?.reduction(width: uprightWidth, height: uprightHeight) ?? 1
        // TJSCALED: ceil(dimension / reduction), the same rounding as PIL's draft.
        let outWidth = (Int(width) + reduction - 1) / reduction
        let outHeight = (Int(height) + reduction - 1) / reduction

        let isCMYK = colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue)
        let channels = isCMYK ? 4 : 3
        // TJFLAG_LIMITSCANS: refuse progressive files with > 500 scans (a CPU-time bomb).
        let flags = Int32(TJFLAG_LIMITSCANS)
        var status: Int32 = 0
        // Not zero-filled first: libjpeg writes every pixel (missing data becomes gray,
        // which the warning check below turns into an error).
        var pixels = [UInt8](unsafeUninitializedCapacity: outWidth * outHeight * channels) { out, initialized in
            status = tjDecompress2(handle, source, size, out.baseAddress, Int32(outWidth), 0, Int32(outHeight),
                                   isCMYK ? Int32(TJPF_CMYK.rawValue) : Int32(TJPF_RGB.rawValue), flags)
            initialized = out.count
        }
        if status != 0 {
            let text = message(handle)
            // libjpeg reports data that ends early only as a *warning* and fills the rest
            // with gray; PIL raises "image file is truncated" there. We refuse every
            // warning except the benign "N extraneous bytes before marker" (junk between
            // segments, common in camera files, pixels intact; PIL decodes those too).
            let fatal = tjGetErrorCode(handle) == Int32(TJERR_FATAL.rawValue)
            if fatal || !text.contains("extraneous bytes before marker") {
                throw ImagingError.corrupt(file: name, reason: text)
            }
        }
        if isCMYK { pixels = invertedCMYKToRGB(pixels) }
        let stored = DecodedImage(width: outWidth, height: outHeight, rgb: pixels, reduction: reduction,
                                  fullWidth: Int(width), fullHeight: Int(height))
        return stored.applying(orientation)
    }

    /// CMYK JPEGs (Adobe convention: stored inverted) to RGB exactly as PIL does it: read as
    /// "CMYK;I" (every sample inverted), then Convert.c's cmyk2rgb,
    /// `R = clip(nk - nk * C / 255)` with nk = 255 - K and PIL's rounded /255.
    static func invertedCMYKToRGB(_ cmyk: [UInt8]) -> [UInt8] {
        let count = cmyk.count / 4
        var rgb = [UInt8](repeating: 0, count: count * 3)
        cmyk.withUnsafeBufferPointer { src in
            rgb.withUnsafeMutableBufferPointer { dst in
                for i in 0..<count {
                    let nk = Int(src[i * 4 + 3])  // 255 - (255 - stored K)
                    for c in 0..<3 {
                        let ink = 255 - Int(src[i * 4 + c])
                        let t = ink * nk + 128
                        let product = ((t >> 8) + t) >> 8  // ≈ ink * nk / 255, rounded
                        dst[i * 3 + c] = UInt8(clamping: nk - product)
                    }
                }
            }
        }
        return rgb
    }

    private static func message(_ handle: tjhandle) -> String {
        guard let text = tjGetErrorStr2(handle) else { return "unknown TurboJPEG error" }
        return String(cString: text)
    }
}
