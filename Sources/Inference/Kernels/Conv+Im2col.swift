import CKernels

/// How `ConvKernel` cuts one image's im2col matrix [patchSize × outH·outW] into bands of
/// output pixels, each written to a column buffer and multiplied before the next band.
///
/// Measured single-threaded on the EPYC (CPU time, im2col + packed GEMM, benchmarks/im2col):
/// - Bands of ~512 pixels, not whole images: the GEMM then reads a column buffer that is still
///   in L2 (ResNet-50 stem 7×7 s2, K = 147, N = 12544: 4.0 → 3.2 ms; AlexNet 11×11 s4:
///   3.0 → 2.75 ms; EfficientNet-Lite0 stem 0.44 → 0.36 ms). Flat from ~320 to ~2048 pixels.
/// - Bands of whole 16-column strips (a band may start and end inside an output row), so
///   only an image's last band has a partial strip (the kernel's masked tail tiles are slow):
///   a band of one 28-pixel row ran ResNet-50's 3×3 s2 128-channel layer at 4.3 ms against
///   3.2 ms for bands of 16 strips.
/// - Column-buffer rows an odd number of 64-byte lines apart and the buffer 64-byte aligned:
///   the kernel reads one 16-float strip from each of up to 128 rows, and a stride of an even
///   number of lines maps those rows onto a fraction of the 64 L1 sets (K = 2304, N = 196:
///   3.46 → 3.19 ms; K = 4608, N = 49: 4.4 → 3.8 ms).
struct ColumnBands: Equatable {
    /// Output pixels (outH·outW) of one image.
    let pixels: Int
    /// Pixels per band; the last band may be shorter.
    let bandPixels: Int
    /// Rows of the column matrix.
    let patchSize: Int
    /// Row stride of a column buffer in floats (≥ bandPixels + 7, see `stride`).
    let ld: Int

    /// Pixels per band the default cut aims at (see the type's comment).
    static let targetPixels = 512

    /// - Parameter forcedPixels: pixels per band (tests), else the default cut: about
    ///   `targetPixels`, whole 16-pixel strips, bands of equal size, the buffer under
    ///   `maxColumnFloats`.
    init(pixels: Int, patchSize: Int, maxColumnFloats: Int, forcedPixels: Int? = nil) {
        self.pixels = pixels
        self.patchSize = patchSize
        var band: Int
        if let forcedPixels {
            band = max(1, min(pixels, forcedPixels))
        } else {
            let bands = max(1, Int((Double(pixels) / Double(ColumnBands.targetPixels)).rounded()))
            band = ((pixels + bands - 1) / bands + 15) & ~15
            band = min(band, max(16, maxColumnFloats / max(1, patchSize) & ~15))
            band = max(1, min(pixels, band))
        }
        bandPixels = band
        ld = ColumnBands.stride(band)
    }

    /// A column-buffer row stride for rows of `count` floats: at least 7 floats of gap (so
    /// ck_im2col stores whole vectors), in whole 64-byte lines, an odd number of them.
    static func stride(_ count: Int) -> Int {
        let lines = (count + 7 + 15) / 16
        return (lines % 2 == 0 ? lines + 1 : lines) * 16
    }

    var count: Int { (pixels + bandPixels - 1) / bandPixels }

    /// Output pixels of band `index`.
    func band(_ index: Int) -> Range<Int> { (index * bandPixels)..<min(pixels, (index + 1) * bandPixels) }

    /// Floats one column buffer takes in scratch: the matrix plus slack for 64-byte alignment.
    var bufferFloats: Int { patchSize * ld + 16 }

    /// Column buffer `index` inside `scratch` (which holds `bufferFloats` per buffer), 64-byte
    /// aligned.
    func buffer(_ scratch: UnsafeMutablePointer<Float>, _ index: Int) -> UnsafeMutablePointer<Float> {
        let start = scratch + index * bufferFloats
        let misalignment = Int(bitPattern: UnsafeRawPointer(start)) & 63
        return misalignment == 0 ? start : start + (64 - misalignment) / MemoryLayout<Float>.stride
    }
}

extension ConvKernel {
    /// Writes the im2col matrix of output pixels `pixels` (p = oy·outW + ox) for one image and
    /// group, row r at col + r·ld:
    /// col[(c·kH + ky)·kW + kx][p − pixels.lower] = x[c][oy·sH − padTop + ky·dH][ox·sW − padLeft + kx·dW],
    /// zero outside the input (ck_im2col, Sources/CKernels/im2col.c). Patch rows are split
    /// across threads when `parallel`.
    static func im2col(
        _ x: UnsafePointer<Float>, channels: Int, window w: Window, pixels: Range<Int>, into col: UnsafeMutablePointer<Float>,
        ld: Int, parallel: Bool = true
    ) {
        let patchRows = channels * w.kernelH * w.kernelW
        let window = w.ck
        Parallel.forEachChunk(patchRows, work: parallel ? patchRows * pixels.count : 0) { range in
            var window = window
            ck_im2col(
                x, Int32(channels), &window, pixels.lowerBound, pixels.upperBound, Int32(range.lowerBound),
                Int32(range.upperBound), col, ld)
        }
    }
}
