import Foundation

/// Element type of stored codes. Values are little-endian; the code of one image is `dim`
/// consecutive elements (4 bytes each for f32, 2 for f16) with no header.
public enum CodeDType: String, Codable, Sendable, CaseIterable {
    case f32
    case f16

    /// Bytes per element.
    public var byteWidth: Int { self == .f32 ? 4 : 2 }
}

/// How the codes of a collection were made. Every code of a collection shares one
/// provenance; writing into a collection with a different one is refused
/// (`StoreError.provenanceMismatch`), so a query never mixes codes of different origin.
public struct Provenance: Codable, Equatable, Sendable {
    /// Content digest of the model file (e.g. "sha256:…"): the model's identity.
    public var modelDigest: String
    /// Where the model was read from when the collection was made. Informational only:
    /// moving the file does not change the provenance, so it is not compared.
    public var modelPath: String
    /// The ONNX tensor name the codes were read from.
    public var layer: String
    /// The preprocessing as canonical JSON (Imaging's `Preprocessing.canonicalJSON`).
    public var preprocessingJSON: String
    /// Pooling of 4-D maps: "avg", "max" or "none" (flattened).
    public var pooling: String
    /// Whether max(0, x) was applied.
    public var relu: Bool
    public var dtype: CodeDType

    public init(modelDigest: String, modelPath: String = "", layer: String, preprocessingJSON: String,
                pooling: String, relu: Bool, dtype: CodeDType) {
        self.modelDigest = modelDigest
        self.modelPath = modelPath
        self.layer = layer
        self.preprocessingJSON = preprocessingJSON
        self.pooling = pooling
        self.relu = relu
        self.dtype = dtype
    }

    /// The first field in which `other` differs from `self` (model path excluded), as
    /// (field name, self's value, other's value), or nil when they match.
    public func firstDifference(from other: Provenance) -> (field: String, stored: String, requested: String)? {
        let fields: [(String, String, String)] = [
            ("model digest", modelDigest, other.modelDigest),
            ("layer", layer, other.layer),
            ("preprocessing", preprocessingJSON, other.preprocessingJSON),
            ("pooling", pooling, other.pooling),
            ("relu", String(relu), String(other.relu)),
            ("dtype", dtype.rawValue, other.dtype.rawValue),
        ]
        for (name, stored, requested) in fields where stored != requested {
            return (name, stored, requested)
        }
        return nil
    }
}
