/// A decoded image: 8-bit RGB, interleaved, rows top to bottom, EXIF orientation applied.
///
/// Memory layout: `rgb[(y * width + x) * 3 + c]`, c = 0 (R), 1 (G), 2 (B);
/// `rgb.count == width * height * 3`.
public struct DecodedImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var rgb: [UInt8]
    /// The DCT-domain reduction the JPEG decoder applied: 1 (full size), 2, 4 or 8. The
    /// pixels then cover the full picture of `fullWidth`×`fullHeight` at 1/`reduction` scale
    /// (the last row/column may stand for fewer than `reduction` source pixels).
    public var reduction: Int
    /// Size of the picture at full resolution, orientation applied (== width/height when
    /// `reduction` is 1).
    public var fullWidth: Int
    public var fullHeight: Int

    public init(width: Int, height: Int, rgb: [UInt8], reduction: Int = 1,
                fullWidth: Int? = nil, fullHeight: Int? = nil) {
        precondition(rgb.count == width * height * 3, "rgb holds \(rgb.count) bytes for \(width)x\(height)")
        self.width = width
        self.height = height
        self.rgb = rgb
        self.reduction = reduction
        self.fullWidth = fullWidth ?? width
        self.fullHeight = fullHeight ?? height
    }
}
