/// How an image becomes a model input: resize, center crop, scale, per-channel mean/std,
/// channel order and layout. A value (Codable, Equatable) so that it can be stored with the
/// codes it produced (`canonicalJSON`) and compared.
///
/// The pixel pipeline, in order (the one the PIL references use):
/// 1. decode to upright 8-bit RGB (`ImageDecoder`);
/// 2. resize with PIL's antialiased bilinear filter to `resize.outputSize(...)`;
/// 3. center crop `crop` (offsets `(w - cw) // 2`, `(h - ch) // 2`, floor division);
/// 4. `value = (pixel / (255 or 1) - mean[c]) / std[c]`, `c` counting output channels;
/// 5. channels in `channelOrder`, laid out as `layout` (one image, no batch axis).
public struct Preprocessing: Codable, Equatable, Sendable {
    public var resize: ResizeMode
    /// Center crop size; nil keeps the whole resized image.
    public var crop: Size?
    public var scale: PixelScale
    /// Per output channel, in output order (so BGR profiles list the blue mean first), in
    /// the units of `scale`. Three values.
    public var mean: [Float]
    /// Per output channel, in output order, in the units of `scale`. Three values.
    public var std: [Float]
    public var channelOrder: ChannelOrder
    public var layout: Layout
    /// Decode JPEGs at 1/2, 1/4 or 1/8 scale in the DCT domain when the result still
    /// covers the resize target (PIL's `draft`), then resize from there. Faster; not
    /// bit-identical to the full decode (README: codes of large images at cosine 0.984). Off by default.
    public var dctDownscale: Bool

    public init(resize: ResizeMode, crop: Size?, scale: PixelScale, mean: [Float], std: [Float],
                channelOrder: ChannelOrder, layout: Layout, dctDownscale: Bool = false) {
        self.resize = resize
        self.crop = crop
        self.scale = scale
        self.mean = mean
        self.std = std
        self.channelOrder = channelOrder
        self.layout = layout
        self.dctDownscale = dctDownscale
    }

    public struct Size: Codable, Equatable, Sendable {
        public var width: Int
        public var height: Int
        public init(width: Int, height: Int) {
            self.width = width
            self.height = height
        }
    }

    /// The pixel range before mean/std: `0..1` divides by 255, `0..255` keeps bytes.
    public enum PixelScale: String, Codable, Equatable, Sendable, CaseIterable {
        case unit = "0..1"
        case byte = "0..255"

    }

    public enum ChannelOrder: String, Codable, Equatable, Sendable, CaseIterable {
        case rgb = "RGB"
        case bgr = "BGR"
    }

    public enum Layout: String, Codable, Equatable, Sendable, CaseIterable {
        case nchw = "NCHW"
        case nhwc = "NHWC"
    }

    /// The per-image input shape: `[3, H, W]` (NCHW) or `[H, W, 3]` (NHWC), where H×W is the
    /// crop, or the resize output when there is no crop and the resize is fixed. With a
    /// shorter-side resize and no crop the size depends on the image: H and W are then -1.
    public var inputShape: [Int] {
        let (w, h): (Int, Int)
        if let crop {
            (w, h) = (crop.width, crop.height)
        } else if case let .exact(width, height) = resize {
            (w, h) = (width, height)
        } else {
            (w, h) = (-1, -1)
        }
        return layout == .nchw ? [3, h, w] : [h, w, 3]
    }
}

/// How the decoded image is resized before the crop.
public enum ResizeMode: Equatable, Sendable {
    /// The shorter side becomes `size`, the other `round(other * size / shorter)` with
    /// Python's round-half-even (as `../shared/bench/tl_reference.py` computes it).
    case shorterSide(Int)
    /// Exactly `width`×`height` (aspect ratio not kept).
    case exact(width: Int, height: Int)

    /// The resized size of a `width`×`height` image.
    public func outputSize(width: Int, height: Int) -> (width: Int, height: Int) {
        switch self {
        case let .shorterSide(size):
            let scale = Double(size) / Double(min(width, height))
            return (Int((Double(width) * scale).rounded(.toNearestOrEven)),
                    Int((Double(height) * scale).rounded(.toNearestOrEven)))
        case let .exact(w, h):
            return (w, h)
        }
    }
}

extension ResizeMode: Codable {
    // JSON: {"shorterSide": 256} or {"width": 256, "height": 256}.
    private enum CodingKeys: String, CodingKey { case shorterSide, width, height }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let size = try container.decodeIfPresent(Int.self, forKey: .shorterSide) {
            self = .shorterSide(size)
        } else {
            self = .exact(width: try container.decode(Int.self, forKey: .width),
                          height: try container.decode(Int.self, forKey: .height))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case let .shorterSide(size):
            try container.encode(size, forKey: .shorterSide)
        case let .exact(width, height):
            try container.encode(width, forKey: .width)
            try container.encode(height, forKey: .height)
        }
    }
}
