import Foundation
import Tensor

extension Preprocessing {
    /// Where the crop falls in the resized image of a `width`×`height` picture.
    public struct Geometry: Equatable, Sendable {
        public var resizedWidth: Int
        public var resizedHeight: Int
        public var cropX: Int
        public var cropY: Int
        public var cropWidth: Int
        public var cropHeight: Int
    }

    /// The resize size and crop window for a `width`×`height` (upright, full-size) image.
    /// Offsets are `(resized - crop) // 2` with floor division, as in tl_reference.py.
    public func geometry(width: Int, height: Int) -> Geometry {
        let (rw, rh) = resize.outputSize(width: width, height: height)
        guard let crop else {
            return Geometry(resizedWidth: rw, resizedHeight: rh, cropX: 0, cropY: 0, cropWidth: rw, cropHeight: rh)
        }
        func floorHalf(_ v: Int) -> Int { v >= 0 ? v / 2 : -((-v + 1) / 2) }
        return Geometry(resizedWidth: rw, resizedHeight: rh,
                        cropX: floorHalf(rw - crop.width), cropY: floorHalf(rh - crop.height),
                        cropWidth: crop.width, cropHeight: crop.height)
    }

    /// The resized, cropped 8-bit RGB pixels (interleaved, before scale/mean/std) and their
    /// size: what PIL's `im.resize(...).crop(...)` holds.
    public func croppedPixels(from image: DecodedImage) -> (rgb: [UInt8], width: Int, height: Int) {
        let g = geometry(width: image.fullWidth, height: image.fullHeight)
        // A DCT-reduced image covers the full picture at 1/reduction scale: resize its
        // region (0, 0, full/reduction) — fractional when the size is not a multiple —
        // exactly as PIL's draft + resize(box:) does.
        let r = Float(image.reduction)
        let box = (Float(0), Float(0), Float(image.fullWidth) / r, Float(image.fullHeight) / r)
        let rgb = PILResize.resizeAndCrop(image, box: box, outWidth: g.resizedWidth, outHeight: g.resizedHeight,
                                          cropX: g.cropX, cropY: g.cropY,
                                          cropWidth: g.cropWidth, cropHeight: g.cropHeight)
        return (rgb, g.cropWidth, g.cropHeight)
    }

    /// One image's model input, shape `inputShape` (no batch axis).
    public func tensor(from image: DecodedImage) -> Tensor {
        let (rgb, width, height) = croppedPixels(from: image)
        return tensor(fromCroppedRGB: rgb, width: width, height: height)
    }

    /// Scale, mean/std, channel order and layout applied to cropped RGB bytes.
    public func tensor(fromCroppedRGB rgb: [UInt8], width: Int, height: Int) -> Tensor {
        let pixels = width * height
        precondition(rgb.count == pixels * 3, "cropped RGB holds \(rgb.count) bytes for \(width)x\(height)")
        // Per output channel o: value = (byte[source(o)] / divisor - mean[o]) / std[o],
        // written as numpy/torch write it so the float32 results match theirs exactly. A
        // byte has 256 values, so each channel's results are tabulated once (768 floats)
        // and the pixel loop is a table lookup.
        let sourceChannel = channelOrder == .rgb ? [0, 1, 2] : [2, 1, 0]
        let divisor: Float = scale == .unit ? 255 : 1
        var table = [Float](repeating: 0, count: 3 * 256)
        for o in 0..<3 {
            for byte in 0..<256 { table[o * 256 + byte] = (Float(byte) / divisor - mean[o]) / std[o] }
        }
        let data = [Float](unsafeUninitializedCapacity: pixels * 3) { dst, initialized in
            rgb.withUnsafeBufferPointer { src in
                table.withUnsafeBufferPointer { table in
                    for o in 0..<3 {
                        let c = sourceChannel[o]
                        let lookup = UnsafeBufferPointer(rebasing: table[(o * 256)..<(o * 256 + 256)])
                        if layout == .nchw {
                            let plane = o * pixels
                            for p in 0..<pixels { dst[plane + p] = lookup[Int(src[p * 3 + c])] }
                        } else {
                            for p in 0..<pixels { dst[p * 3 + o] = lookup[Int(src[p * 3 + c])] }
                        }
                    }
                }
            }
            initialized = pixels * 3
        }
        let shape = layout == .nchw ? [3, height, width] : [height, width, 3]
        return Tensor(shape: shape, data: data)
    }

    /// The size hint that lets the JPEG decoder reduce in the DCT domain, when enabled.
    public var decodeSizeHint: DecodeSizeHint? {
        dctDownscale ? DecodeSizeHint(resize: resize) : nil
    }

    /// Decodes and preprocesses one file. Returns the model input (shape `inputShape`) and
    /// the upright full-resolution size of the image.
    ///
    /// Thread safety: reads only `self` (a value) and allocates its own buffers and decoder
    /// handle; safe to call concurrently from any number of threads.
    public func load(_ url: URL, limits: DecodeLimits = .default) throws -> (tensor: Tensor, width: Int, height: Int) {
        let image = try ImageDecoder.decode(contentsOf: url, limits: limits, sizeHint: decodeSizeHint)
        return (tensor(from: image), image.fullWidth, image.fullHeight)
    }
}
