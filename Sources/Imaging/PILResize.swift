/// A region of a resized image, computed as PIL's two-pass resize computes it.
///
/// Pillow (13) runs the horizontal pass first, over only the source rows the vertical pass
/// reads, and rounds to 8 bit in between — unless the height shrinks by more than twice as
/// many pixels as the width does, when it runs the vertical pass first. Each output pixel
/// of a pass depends only on its own coefficients, so computing just the pixels of a crop
/// (in the same pass order) gives exactly the crop of the full resize — which is all the
/// preprocessing needs, and skips the work on the discarded margins.
enum PILResize {
    /// Resizes `image` (its region `box` = (x0, y0, x1, y1) in source pixels, as Pillow's
    /// `box` argument) to `outWidth`×`outHeight`, and returns the RGB bytes of the window
    /// `cropX..<cropX+cropWidth` × `cropY..<cropY+cropHeight` of that result (interleaved,
    /// row-major). Window pixels outside the resized image are 0, as PIL's `crop` pads.
    static func resizeAndCrop(_ image: DecodedImage, box: (Float, Float, Float, Float),
                              outWidth: Int, outHeight: Int,
                              cropX: Int, cropY: Int, cropWidth: Int, cropHeight: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: cropWidth * cropHeight * 3)
        // The part of the window inside the resized image, in resized coordinates.
        let x0 = max(cropX, 0), x1 = min(cropX + cropWidth, outWidth)
        let y0 = max(cropY, 0), y1 = min(cropY + cropHeight, outHeight)
        guard x0 < x1, y0 < y1, image.width > 0, image.height > 0 else { return result }

        // Pillow skips a pass whose size and box span are unchanged (need_horizontal/vertical).
        let needHorizontal = outWidth != image.width || box.0 != 0 || box.2 != Float(image.width)
        let needVertical = outHeight != image.height || box.1 != 0 || box.3 != Float(image.height)
        let horizontal = needHorizontal ? BilinearCoefficients(
            inSize: image.width, in0: box.0, in1: box.2, outSize: outWidth, outputRange: x0..<x1) : nil
        let vertical = needVertical ? BilinearCoefficients(
            inSize: image.height, in0: box.1, in1: box.3, outSize: outHeight, outputRange: y0..<y1) : nil
        // Pillow's rule (Resample.c, ImagingResampleInner), from the image and output sizes.
        let shrinkY = image.height - outHeight, shrinkX = image.width - outWidth
        let horizontalFirst = !(shrinkY > 0 && shrinkY > shrinkX * 2)

        // Source columns / rows the passes read (the identity pass reads the window itself).
        let (colStart, colEnd) = horizontal?.sourceSpan ?? (x0, x1)
        let (rowStart, rowEnd) = vertical?.sourceSpan ?? (y0, y1)
        let columns = x1 - x0, rows = y1 - y0
        let resultOffset = (x0 - cropX) * 3, resultRowBytes = cropWidth * 3
        let resultStart = (y0 - cropY) * resultRowBytes + resultOffset

        image.rgb.withUnsafeBufferPointer { source in
            result.withUnsafeMutableBufferPointer { out in
                // Non-empty by the guard above (sizes > 0), so the base addresses exist.
                guard let sourceBase = source.baseAddress, let outBase = out.baseAddress else { return }
                let sourceRowBytes = image.width * 3
                if horizontalFirst {
                    // Horizontal over source rows rowStart..<rowEnd → temp (rows × columns),
                    // then vertical from temp into the window.
                    var temp = [UInt8](repeating: 0, count: (rowEnd - rowStart) * columns * 3)
                    temp.withUnsafeMutableBufferPointer { t in
                        guard let tempBase = t.baseAddress else { return }
                        horizontalPass(horizontal, src: sourceBase + rowStart * sourceRowBytes + colStart * 3,
                                       srcRowBytes: sourceRowBytes, srcColumnOffset: colStart, rows: rowEnd - rowStart,
                                       columns: columns, dst: tempBase, dstRowBytes: columns * 3)
                        verticalPass(vertical, src: UnsafePointer(tempBase), srcRowBytes: columns * 3,
                                     srcRowOffset: rowStart, rows: rows, rowBytes: columns * 3,
                                     dst: outBase + resultStart, dstRowBytes: resultRowBytes)
                    }
                } else {
                    // Vertical over source columns colStart..<colEnd → temp (rows × those
                    // columns), then horizontal from temp into the window.
                    let tempColumns = colEnd - colStart
                    var temp = [UInt8](repeating: 0, count: rows * tempColumns * 3)
                    temp.withUnsafeMutableBufferPointer { t in
                        guard let tempBase = t.baseAddress else { return }
                        verticalPass(vertical, src: sourceBase + rowStart * sourceRowBytes + colStart * 3,
                                     srcRowBytes: sourceRowBytes, srcRowOffset: rowStart, rows: rows,
                                     rowBytes: tempColumns * 3, dst: tempBase, dstRowBytes: tempColumns * 3)
                        horizontalPass(horizontal, src: UnsafePointer(tempBase), srcRowBytes: tempColumns * 3,
                                       srcColumnOffset: colStart, rows: rows, columns: columns,
                                       dst: outBase + resultStart, dstRowBytes: resultRowBytes)
                    }
                }
            }
        }
        return result
    }

    /// Horizontal pass over `rows` rows. `src` points at the pixel of source column
    /// `srcColumnOffset` of the first row; output pixel `i` (0..<columns) reads source
    /// columns `first[i]..<first[i]+count[i]`. Without coefficients (identity) it copies.
    private static func horizontalPass(_ h: BilinearCoefficients?, src: UnsafePointer<UInt8>, srcRowBytes: Int,
                                       srcColumnOffset: Int, rows: Int, columns: Int,
                                       dst: UnsafeMutablePointer<UInt8>, dstRowBytes: Int) {
        guard let h else {
            for r in 0..<rows { (dst + r * dstRowBytes).update(from: src + r * srcRowBytes, count: columns * 3) }
            return
        }
        h.weights.withUnsafeBufferPointer { weights in
            h.first.withUnsafeBufferPointer { first in
                h.count.withUnsafeBufferPointer { count in
                    for r in 0..<rows {
                        let row = src + r * srcRowBytes
                        var d = dst + r * dstRowBytes
                        for x in 0..<columns {
                            var s0 = BilinearCoefficients.half, s1 = s0, s2 = s0
                            var s = row + (Int(first[x]) - srcColumnOffset) * 3
                            let k = x * h.taps
                            for tap in 0..<Int(count[x]) {
                                let w = weights[k + tap]
                                s0 &+= Int32(s[0]) &* w
                                s1 &+= Int32(s[1]) &* w
                                s2 &+= Int32(s[2]) &* w
                                s += 3
                            }
                            d[0] = BilinearCoefficients.clip8(s0)
                            d[1] = BilinearCoefficients.clip8(s1)
                            d[2] = BilinearCoefficients.clip8(s2)
                            d += 3
                        }
                    }
                }
            }
        }
    }

    /// Vertical pass producing `rows` output rows of `rowBytes` bytes. `src` row 0 is source
    /// row `srcRowOffset`; output row `j` reads rows `first[j]..<first[j]+count[j]`.
    /// Accumulates row by row (integer sums, so the order does not change the result).
    private static func verticalPass(_ v: BilinearCoefficients?, src: UnsafePointer<UInt8>, srcRowBytes: Int,
                                     srcRowOffset: Int, rows: Int, rowBytes: Int,
                                     dst: UnsafeMutablePointer<UInt8>, dstRowBytes: Int) {
        guard let v else {
            for r in 0..<rows { (dst + r * dstRowBytes).update(from: src + r * srcRowBytes, count: rowBytes) }
            return
        }
        let accumulator = UnsafeMutablePointer<Int32>.allocate(capacity: rowBytes)
        defer { accumulator.deallocate() }
        v.weights.withUnsafeBufferPointer { weights in
            for j in 0..<rows {
                accumulator.update(repeating: BilinearCoefficients.half, count: rowBytes)
                let firstRow = Int(v.first[j]) - srcRowOffset
                for tap in 0..<Int(v.count[j]) {
                    let k = weights[j * v.taps + tap]
                    let row = src + (firstRow + tap) * srcRowBytes
                    for i in 0..<rowBytes { accumulator[i] &+= Int32(row[i]) &* k }
                }
                let d = dst + j * dstRowBytes
                for i in 0..<rowBytes { d[i] = BilinearCoefficients.clip8(accumulator[i]) }
            }
        }
    }
}
