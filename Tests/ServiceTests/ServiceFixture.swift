import Foundation
import Hummingbird
import Imaging
import Learning
import Search
@testable import Service
import Store
import TestSupport
import XCTest

/// A real store in a temporary directory for the service tests: collection "colors" of
/// 8-d codes in three clusters (labels red/green/blue, splits train/test), catalog rows
/// pointing at small committed image files, and a softmax classifier trained on the codes.
final class ServiceFixture {
    static let dim = 8
    static let labels = ["red", "green", "blue"]
    /// Images per label.
    static let perLabel = 20

    let directory: URL
    let store: FeatureStore
    /// Ids in registration order; `labelOf[id]`, `splitOf[id]`, `codeOf[id]`.
    var ids: [Int64] = []
    var labelOf: [Int64: String] = [:]
    var splitOf: [Int64: String] = [:]
    var codeOf: [Int64: [Float]] = [:]
    /// An image registered with a file that does not exist.
    var missingFileID: Int64 = 0

    init(testCase: XCTestCase) throws {
        directory = try TestPaths.temporaryDirectory(testCase)
        let images = directory.appendingPathComponent("images", isDirectory: true)
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        let fixtures = TestPaths.committedFixtures.appendingPathComponent("service")
        store = try FeatureStore(at: directory.appendingPathComponent("store"), options: .init(initialMapSize: 64 << 20))
        let provenance = Provenance(modelDigest: "sha256:test", modelPath: "test.onnx", layer: "pool", preprocessingJSON: "{}",
                                    pooling: "avg", relu: true, dtype: .f32)
        try store.ensureCollection("colors", provenance: provenance, dim: ServiceFixture.dim)

        var generator = SplitMix(seed: 7)
        var newImages: [NewImage] = []
        var codes: [[Float]] = []
        for (c, label) in ServiceFixture.labels.enumerated() {
            let file = ["red.png", "green.png", "blue.jpg"][c]
            for i in 0..<ServiceFixture.perLabel {
                // Each image is a copy of its label's committed file (thumbnails show the colour).
                let path = "\(label)-\(i).\((file as NSString).pathExtension)"
                try FileManager.default.copyItem(at: fixtures.appendingPathComponent(file), to: images.appendingPathComponent(path))
                newImages.append(NewImage(source: images.path, path: path, digest: "sha256:\(label)\(i)", label: label,
                                          split: i % 4 == 0 ? "test" : "train"))
                codes.append(ServiceFixture.prototype(c).map { $0 + 0.1 * generator.nextSigned() })
            }
        }
        let registered = try store.registerImages(newImages, collections: ["colors"])
        for (image, (new, code)) in zip(registered, zip(newImages, codes)) {
            ids.append(image.id)
            labelOf[image.id] = new.label
            splitOf[image.id] = new.split
            codeOf[image.id] = code
        }
        try store.putCodes(collection: "colors", ids: ids, matrix: codes.flatMap { $0 })
        // One more image whose file is gone (no code needed).
        let missing = try store.registerImages([NewImage(source: images.path, path: "gone.png", digest: "sha256:gone")],
                                               collections: [])
        missingFileID = missing[0].id

        let model = try SoftmaxRegression.fit(
            x: codes.flatMap { $0 }, rows: codes.count, dimension: ServiceFixture.dim,
            labels: ids.map { ServiceFixture.labels.firstIndex(of: labelOf[$0]!)! }, classNames: ServiceFixture.labels)
        try store.saveClassifier(name: "colors-softmax", collection: "colors", kind: "softmax",
                                 modelJSON: String(decoding: try model.jsonData(), as: UTF8.self))
    }

    /// Cluster centre of label `c`: its colour channel high, the rest low.
    static func prototype(_ c: Int) -> [Float] {
        (0..<dim).map { $0 == c ? 1 : ($0 < 3 ? 0.1 : 0.2) }
    }

    /// Exact top-k by cosine similarity over the fixture's codes, computed here in plain loops.
    func bruteForceCosine(_ query: [Float], k: Int, allowed: (Int64) -> Bool = { _ in true }) -> [(id: Int64, score: Float)] {
        func norm(_ v: [Float]) -> Float { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        let qn = norm(query)
        let scored = ids.filter(allowed).map { id -> (Int64, Float) in
            let code = codeOf[id]!
            let dot = zip(code, query).reduce(0) { $0 + $1.0 * $1.1 }
            return (id, dot / (norm(code) * qn))
        }
        return Array(scored.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.prefix(k)).map { (id: $0.0, score: $0.1) }
    }
}

/// A stand-in for a model (the real `StoreCodeExtractors` is tested on a real network in
/// ServiceModelTests when ../shared is present): the code
/// of an image is its mean colour in the first three entries (0...1) and 0.2 elsewhere —
/// the layout of the fixture's clusters, so a red upload lands among the red codes. It
/// decodes with Imaging, so corrupt uploads fail as they will with the real extractor.
final class MeanColorExtractor: UploadCodeExtractor, @unchecked Sendable {
    func code(for upload: ImageUpload, collection: CollectionRecord) throws -> ExtractedCode {
        let image = try ImageDecoder.decode(data: upload.data, name: upload.name)
        var sums = [Double](repeating: 0, count: 3)
        for (i, value) in image.rgb.enumerated() { sums[i % 3] += Double(value) }
        let pixels = Double(image.width * image.height)
        let code = (0..<collection.dim).map { $0 < 3 ? Float(sums[$0] / pixels / 255) : 0.2 }
        return ExtractedCode(code: code, width: image.width, height: image.height)
    }
}

typealias SplitMix = SeededRandom
