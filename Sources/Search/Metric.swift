/// How two vectors are compared.
///
/// Scores reported in `SearchHit.score` are the metric's natural value, so they can be
/// compared with FAISS: cosine similarity and inner product (higher is better) and the
/// squared Euclidean distance (lower is better, as FAISS `IndexFlatL2` reports it).
public enum Metric: String, Codable, Sendable, CaseIterable {
    /// Cosine similarity: vectors are L2-normalized when added, queries when searched,
    /// then compared by inner product.
    case cosine
    /// Inner product `x·q` (no normalization).
    case innerProduct = "ip"
    /// Squared Euclidean distance `‖x − q‖²`.
    case l2

    /// Whether a larger score is a better match.
    public var higherIsBetter: Bool { self != .l2 }

    /// Stable code used in on-disk formats (never renumber).
    var fileCode: UInt32 {
        switch self {
        case .cosine: return 0
        case .innerProduct: return 1
        case .l2: return 2
        }
    }

    init?(fileCode: UInt32) {
        switch fileCode {
        case 0: self = .cosine
        case 1: self = .innerProduct
        case 2: self = .l2
        default: return nil
        }
    }
}

/// How an index stores its vectors.
public enum ScalarType: String, Codable, Sendable, CaseIterable {
    /// 4 bytes per element.
    case float32
    /// 2 bytes per element (IEEE half); converted to float32 block by block when searched,
    /// never as a whole. Halves memory and bandwidth; about 3 significant digits per element.
    case float16

    /// Bytes per element.
    public var byteWidth: Int { self == .float32 ? 4 : 2 }

    var fileCode: UInt32 { self == .float32 ? 0 : 1 }
}
