/// Guards applied while decoding, before any pixel buffer is allocated.
public struct DecodeLimits: Equatable, Sendable {
    /// The largest width × height accepted, read from the header. The default is PIL's
    /// `Image.MAX_IMAGE_PIXELS` (89,478,485 = 1024 × 1024 × 1024 / 4 / 3, about 256 MiB of
    /// 24-bit pixels). PIL only warns between 1× and 2× this value and raises above 2×;
    /// we refuse above 1×.
    public var maxPixels: Int

    public static let pilMaxImagePixels = 89_478_485

    public init(maxPixels: Int = DecodeLimits.pilMaxImagePixels) {
        self.maxPixels = maxPixels
    }

    public static let `default` = DecodeLimits()
}

/// What the caller will do with the pixels, so the JPEG decoder may decode at 1/2, 1/4 or
/// 1/8 scale in the DCT domain (as PIL's `Image.draft` does) when the reduced image is
/// still at least the resize target in both dimensions (upright frame, after EXIF rotation).
public struct DecodeSizeHint: Equatable, Sendable {
    public var resize: ResizeMode

    public init(resize: ResizeMode) {
        self.resize = resize
    }

    /// The reduction PIL's draft picks for a `width`×`height` image and the target size:
    /// the largest r in {8, 4, 2, 1} with `min(width // tw, height // th) >= r`.
    public func reduction(width: Int, height: Int) -> Int {
        let (tw, th) = resize.outputSize(width: width, height: height)
        guard tw > 0, th > 0 else { return 1 }
        let fits = min(width / tw, height / th)
        return [8, 4, 2].first { fits >= $0 } ?? 1
    }
}
