import Foundation

/// JSON form of a classifier: `{"format": "cnncodes.linear-classifier", "version": 1, ...fields}`.
/// Decoding checks the tag, the version and that every array has the length the shape implies,
/// so a truncated or foreign blob fails with a message instead of predicting garbage.
extension LinearClassifier: Codable {
    private enum CodingKeys: String, CodingKey {
        case format, version, kind, classes, dimension, weights, bias, scaler, C, loss, classWeighting, training
        case evaluation, collection
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.format, forKey: .format)
        try c.encode(Self.formatVersion, forKey: .version)
        try c.encode(kind, forKey: .kind)
        try c.encode(classes, forKey: .classes)
        try c.encode(dimension, forKey: .dimension)
        try c.encode(weights, forKey: .weights)
        try c.encode(bias, forKey: .bias)
        try c.encode(scaler, forKey: .scaler)
        try c.encode(C, forKey: .C)
        try c.encodeIfPresent(loss, forKey: .loss)
        try c.encode(classWeighting, forKey: .classWeighting)
        try c.encode(training, forKey: .training)
        try c.encodeIfPresent(evaluation, forKey: .evaluation)
        try c.encodeIfPresent(collection, forKey: .collection)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let format = try c.decode(String.self, forKey: .format)
        guard format == Self.format else {
            throw DecodingError.dataCorruptedError(
                forKey: .format, in: c, debugDescription: "not a cnncodes classifier (format '\(format)')")
        }
        let version = try c.decode(Int.self, forKey: .version)
        guard version == Self.formatVersion else {
            throw DecodingError.dataCorruptedError(
                forKey: .version, in: c,
                debugDescription: "classifier format version \(version); this build reads version \(Self.formatVersion)")
        }
        self.init(
            kind: try c.decode(ClassifierKind.self, forKey: .kind),
            classes: try c.decode([String].self, forKey: .classes),
            dimension: try c.decode(Int.self, forKey: .dimension),
            weights: try c.decode([Float].self, forKey: .weights),
            bias: try c.decode([Float].self, forKey: .bias),
            scaler: try c.decode(FeatureScaler.self, forKey: .scaler),
            C: try c.decode(Double.self, forKey: .C),
            loss: try c.decodeIfPresent(SVMLoss.self, forKey: .loss),
            classWeighting: try c.decode(ClassWeighting.self, forKey: .classWeighting),
            training: try c.decode(TrainingInfo.self, forKey: .training),
            evaluation: try c.decodeIfPresent(ClassificationMetrics.self, forKey: .evaluation),
            collection: try c.decodeIfPresent(String.self, forKey: .collection))
        guard classes.count >= 2, dimension > 0 else {
            throw DecodingError.dataCorruptedError(
                forKey: .classes, in: c, debugDescription: "\(classes.count) classes, dimension \(dimension)")
        }
        guard weights.count == weightRows * dimension, bias.count == weightRows else {
            throw DecodingError.dataCorruptedError(
                forKey: .weights, in: c,
                debugDescription: "\(weights.count) weights and \(bias.count) biases for \(weightRows) rows × \(dimension)")
        }
        let scalerLength = scaler.method == .standard ? dimension : 0
        guard scaler.mean.count == scalerLength, scaler.scale.count == scalerLength else {
            throw DecodingError.dataCorruptedError(
                forKey: .scaler, in: c, debugDescription: "scaler statistics do not match dimension \(dimension)")
        }
    }

    /// The model as JSON bytes (sorted keys, so equal models give equal bytes).
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self)
    }

    /// A model from `jsonData()` bytes.
    public static func fromJSON(_ data: Data) throws -> LinearClassifier {
        try JSONDecoder().decode(LinearClassifier.self, from: data)
    }
}
