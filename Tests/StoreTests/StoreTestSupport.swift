import Foundation
@testable import Store
import XCTest

/// Helpers shared by the Store tests: deterministic codes and a standard provenance.
enum StoreFixtures {
    static func provenance(_ dtype: CodeDType = .f32, layer: String = "/pool/out") -> Provenance {
        Provenance(modelDigest: "sha256:abc", modelPath: "/models/m.onnx", layer: layer,
                   preprocessingJSON: #"{"resize":256}"#, pooling: "avg", relu: true, dtype: dtype)
    }

    /// A deterministic pseudo-random code for image `id` (values in [0, 4), some exact zeros
    /// as after a ReLU), so any stored code can be checked against its expected value.
    static func code(for id: Int64, dim: Int, salt: UInt64 = 0) -> [Float] {
        var state = UInt64(bitPattern: id) &* 0x9E37_79B9_7F4A_7C15 &+ salt &+ 1
        return (0..<dim).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let value = Float(state >> 40) / Float(1 << 24) * 8 - 4
            return max(0, value)
        }
    }

    static func images(_ count: Int, from start: Int = 0, source: String = "/data") -> [NewImage] {
        (start..<(start + count)).map { index in
            NewImage(source: source, path: "img\(index).jpg", digest: "sha256:\(index)",
                     label: index % 2 == 0 ? "ants" : "bees", split: index % 3 == 0 ? "val" : "train")
        }
    }

    /// Registers `images` in `collection` and stores their deterministic codes.
    @discardableResult
    static func fill(_ store: FeatureStore, collection: String, images: [NewImage], dim: Int) throws -> [Int64] {
        let ids = try store.registerImages(images, collections: [collection]).map(\.id)
        try store.putCodes(collection: collection, ids: ids, matrix: ids.flatMap { code(for: $0, dim: dim) })
        return ids
    }
}
