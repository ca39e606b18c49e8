import CPNG

/// PNG through libpng (via the setjmp-guarded C functions in CPNG), producing what PIL's
/// `Image.open(f).convert("RGB")` produces: palette expanded (tRNS ignored), gray
/// replicated, alpha dropped (not composited on a background), 16-bit samples reduced to
/// their high byte, gamma chunks ignored.
///
/// One deliberate difference: PIL opens 16-bit grayscale as mode "I;16" and its
/// conversion to RGB *clips* values to 255 (nearly every pixel turns white); we keep the
/// high byte, as PIL itself does for 16-bit RGB, RGBA and gray+alpha PNGs.
enum PNGDecoder {
    static func decode(_ bytes: UnsafeRawBufferPointer, name: String, limits: DecodeLimits) throws -> DecodedImage {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            throw ImagingError.unrecognizedFormat(file: name, reason: "empty file")
        }
        let source = base.assumingMemoryBound(to: UInt8.self)
        var text = [CChar](repeating: 0, count: 256)
        var header = cpng_header()
        if cpng_read_header(source, bytes.count, &header, &text, text.count) != 0 {
            throw ImagingError.corrupt(file: name, reason: String(cString: text))
        }
        let width = Int(header.width), height = Int(header.height)
        guard width > 0, height > 0 else {
            throw ImagingError.corrupt(file: name, reason: "PNG header declares \(width)x\(height)")
        }
        // Decompression-bomb guard: from IHDR, before any pixel buffer exists.
        guard width * height <= limits.maxPixels else {
            throw ImagingError.tooManyPixels(file: name, width: width, height: height, limit: limits.maxPixels)
        }
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        let status = rgb.withUnsafeMutableBufferPointer { out in
            cpng_decode_rgb8(source, bytes.count, out.baseAddress, out.count, &text, text.count)
        }
        if status != 0 {
            throw ImagingError.corrupt(file: name, reason: String(cString: text))
        }
        return DecodedImage(width: width, height: height, rgb: rgb)
    }
}
