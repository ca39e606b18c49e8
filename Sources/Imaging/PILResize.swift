/// A region of a resized image, computed as PIL's two-pass resize computes it.
///
/// PIL resizes horizontally first (rows needed by the vertical pass only), rounds to 8 bit,
/// then vertically. Each output pixel depends only on its own coefficients, so computing
/// just the pixels of a crop gives exactly the crop of the full resize — which is all the
/// preprocessing needs and saves the work on the discarded margins.
enum PILResize {
    /// Resizes `image` (its region `box`, in source pixels, as Pillow's `box` argument) to
    /// `outWidth`×`outHeight`, and returns the RGB bytes of the window
    /// `cropX..<cropX+cropWidth` × `cropY..<cropY+cropHeight` of that result (interleaved,
    /// row-major). Window pixels outside the resized image are 0, as PIL's `crop` pads.
    static func resizeAndCrop(_ image: DecodedImage, box: (Float, Float, Float, Float),
                              outWidth: Int, outHeight: Int,
                              cropX: Int, cropY: Int, cropWidth: Int, cropHeight: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: cropWidth * cropHeight * 3)
        // The part of the window inside the resized image.
        let x0 = max(cropX, 0), x1 = min(cropX + cropWidth, outWidth)
        let y0 = max(cropY, 0), y1 = min(cropY + cropHeight, outHeight)
        guard x0 < x1, y0 < y1, image.width > 0, image.height > 0 else { return result }

        // Pillow skips a pass whose size and box span are unchanged (need_horizontal/vertical).
        let identityX = outWidth == image.width && box.0 == 0 && box.2 == Float(image.width)
        let identityY = outHeight == image.height && box.1 == 0 && box.3 == Float(image.height)
        let horizontal = identityX ? nil : BilinearCoefficients(
            inSize: image.width, in0: box.0, in1: box.2, outSize: outWidth, outputRange: x0..<x1)
        let vertical = identityY ? nil : BilinearCoefficients(
            inSize: image.height, in0: box.1, in1: box.3, outSize: outHeight, outputRange: y0..<y1)

        // Source rows the vertical pass reads.
        let rowStart: Int, rowEnd: Int
        if let v = vertical {
            rowStart = Int(v.first.min() ?? 0)
            rowEnd = zip(v.first, v.count).map { Int($0 + $1) }.max() ?? rowStart
        } else {
            rowStart = y0
            rowEnd = y1
        }
        let columns = x1 - x0
        let rows = rowEnd - rowStart

        // Pass 1: horizontal, source rows rowStart..<rowEnd → `columns` pixels each.
        var temp = [UInt8](repeating: 0, count: max(rows, 0) * columns * 3)
        image.rgb.withUnsafeBufferPointer { src in
            temp.withUnsafeMutableBufferPointer { dst in
                if let h = horizontal {
                    horizontalPass(src: src, srcWidth: image.width, rows: rowStart..<rowEnd,
                                   coefficients: h, dst: dst, columns: columns)
                } else {
                    for r in 0..<rows {
                        let s = ((rowStart + r) * image.width + x0) * 3
                        let d = r * columns * 3
                        for i in 0..<(columns * 3) { dst[d + i] = src[s + i] }
                    }
                }
            }
        }

        // Pass 2: vertical, into the window's rows y0..<y1 at column offset x0 - cropX.
        temp.withUnsafeBufferPointer { src in
            result.withUnsafeMutableBufferPointer { dst in
                let rowBytes = columns * 3
                var accumulator = [Int32](repeating: 0, count: rowBytes)
                accumulator.withUnsafeMutableBufferPointer { acc in
                    for y in y0..<y1 {
                        let d = ((y - cropY) * cropWidth + (x0 - cropX)) * 3
                        guard let v = vertical else {
                            let s = (y - rowStart) * rowBytes
                            for i in 0..<rowBytes { dst[d + i] = src[s + i] }
                            continue
                        }
                        let slot = y - y0
                        let firstRow = Int(v.first[slot]) - rowStart
                        for i in 0..<rowBytes { acc[i] = BilinearCoefficients.half }
                        v.weights.withUnsafeBufferPointer { weights in
                            for tap in 0..<Int(v.count[slot]) {
                                let k = weights[slot * v.taps + tap]
                                let s = (firstRow + tap) * rowBytes
                                for i in 0..<rowBytes { acc[i] &+= Int32(src[s + i]) &* k }
                            }
                        }
                        for i in 0..<rowBytes { dst[d + i] = BilinearCoefficients.clip8(acc[i]) }
                    }
                }
            }
        }
        return result
    }

    private static func horizontalPass(src: UnsafeBufferPointer<UInt8>, srcWidth: Int, rows: Range<Int>,
                                       coefficients h: BilinearCoefficients,
                                       dst: UnsafeMutableBufferPointer<UInt8>, columns: Int) {
        h.weights.withUnsafeBufferPointer { weights in
            h.first.withUnsafeBufferPointer { first in
                h.count.withUnsafeBufferPointer { count in
                    for (r, y) in rows.enumerated() {
                        let rowBase = y * srcWidth * 3
                        var d = r * columns * 3
                        for x in 0..<columns {
                            var s0 = BilinearCoefficients.half, s1 = s0, s2 = s0
                            var s = rowBase + Int(first[x]) * 3
                            let k = x * h.taps
                            for tap in 0..<Int(count[x]) {
                                let w = weights[k + tap]
                                s0 &+= Int32(src[s]) &* w
                                s1 &+= Int32(src[s + 1]) &* w
                                s2 &+= Int32(src[s + 2]) &* w
                                s += 3
                            }
                            dst[d] = BilinearCoefficients.clip8(s0)
                            dst[d + 1] = BilinearCoefficients.clip8(s1)
                            dst[d + 2] = BilinearCoefficients.clip8(s2)
                            d += 3
                        }
                    }
                }
            }
        }
    }
}
