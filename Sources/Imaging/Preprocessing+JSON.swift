import Foundation

extension Preprocessing {
    /// Stable text for provenance: keys sorted, no whitespace, every field present (crop as
    /// `null` when absent), numbers in Swift's shortest round-trip form. Two equal values
    /// give the same text, so it can key a collection.
    public var canonicalJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain structs, enums, Ints and finite Floats cannot fail (validate()
        // rejects non-finite mean/std); the fallback keeps this total anyway.
        guard let data = try? encoder.encode(CanonicalForm(self)),
              let text = String(data: data, encoding: .utf8) else { return "{}" }
        return text
    }

    /// A custom preprocessing from a JSON file, e.g.
    /// `{"resize": {"shorterSide": 256}, "crop": {"width": 224, "height": 224},
    ///   "scale": "0..255", "mean": [127, 127, 127], "std": [128, 128, 128],
    ///   "channelOrder": "RGB", "layout": "NCHW", "dctDownscale": false}`.
    /// `crop` may be omitted or null (no crop); `dctDownscale` defaults to false; `mean` and
    /// `std` may be a single number used for all three channels.
    public static func load(json url: URL) throws -> Preprocessing {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ImagingError.unreadable(file: url.path, reason: (error as NSError).localizedDescription)
        }
        return try decode(json: data, source: url.path)
    }

    /// Parses and validates the JSON text of a preprocessing; `source` names it in errors.
    public static func decode(json data: Data, source: String) throws -> Preprocessing {
        let value: Preprocessing
        do {
            value = try JSONDecoder().decode(Preprocessing.self, from: data)
        } catch let error as DecodingError {
            throw ImagingError.invalidPreprocessing(source: source, reason: describe(error))
        } catch {
            throw ImagingError.invalidPreprocessing(source: source, reason: "\(error)")
        }
        try value.validate(source: source)
        return value
    }

    /// Checks the values make sense: positive sizes, a fixed output size, three finite
    /// means and three finite non-zero stds.
    public func validate(source: String = "preprocessing") throws {
        func fail(_ reason: String) -> ImagingError { .invalidPreprocessing(source: source, reason: reason) }
        switch resize {
        case let .shorterSide(size) where size <= 0:
            throw fail("resize shorterSide must be positive, got \(size)")
        case let .exact(w, h) where w <= 0 || h <= 0:
            throw fail("resize size must be positive, got \(w)x\(h)")
        default: break
        }
        if let crop, crop.width <= 0 || crop.height <= 0 {
            throw fail("crop size must be positive, got \(crop.width)x\(crop.height)")
        }
        if crop == nil, case .shorterSide = resize {
            throw fail("a shorter-side resize needs a crop (the model input must have a fixed size)")
        }
        guard mean.count == 3, std.count == 3 else {
            throw fail("mean and std need 3 values each, got \(mean.count) and \(std.count)")
        }
        guard mean.allSatisfy(\.isFinite), std.allSatisfy({ $0.isFinite && $0 != 0 }) else {
            throw fail("mean must be finite and std finite and non-zero, got mean \(mean) std \(std)")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case let .keyNotFound(key, context):
            return "missing key '\(path(context.codingPath + [key]))'"
        case let .typeMismatch(_, context), let .valueNotFound(_, context), let .dataCorrupted(context):
            let at = context.codingPath.isEmpty ? "" : " at '\(path(context.codingPath))'"
            return "\(context.debugDescription)\(at)"
        @unknown default:
            return "\(error)"
        }
    }

    private static func path(_ keys: [CodingKey]) -> String {
        keys.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }

    // Codable with explicit keys so the JSON format is documented in one place.
    private enum CodingKeys: String, CodingKey {
        case resize, crop, scale, mean, std, channelOrder, layout, dctDownscale
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func channels(_ key: CodingKeys) throws -> [Float] {
            if let single = try? c.decode(Float.self, forKey: key) { return [single, single, single] }
            return try c.decode([Float].self, forKey: key)
        }
        self.init(resize: try c.decode(ResizeMode.self, forKey: .resize),
                  crop: try c.decodeIfPresent(Size.self, forKey: .crop),
                  scale: try c.decode(PixelScale.self, forKey: .scale),
                  mean: try channels(.mean), std: try channels(.std),
                  channelOrder: try c.decode(ChannelOrder.self, forKey: .channelOrder),
                  layout: try c.decode(Layout.self, forKey: .layout),
                  dctDownscale: try c.decodeIfPresent(Bool.self, forKey: .dctDownscale) ?? false)
    }

    public func encode(to encoder: Encoder) throws {
        try CanonicalForm(self).encode(to: encoder)
    }

    /// Every key always written (crop as null), so the canonical text has one shape.
    private struct CanonicalForm: Encodable {
        let value: Preprocessing
        init(_ value: Preprocessing) { self.value = value }

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(value.resize, forKey: .resize)
            if let crop = value.crop { try c.encode(crop, forKey: .crop) } else { try c.encodeNil(forKey: .crop) }
            try c.encode(value.scale, forKey: .scale)
            try c.encode(value.mean, forKey: .mean)
            try c.encode(value.std, forKey: .std)
            try c.encode(value.channelOrder, forKey: .channelOrder)
            try c.encode(value.layout, forKey: .layout)
            try c.encode(value.dctDownscale, forKey: .dctDownscale)
        }
    }
}
