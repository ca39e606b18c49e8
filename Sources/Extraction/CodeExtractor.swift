import Foundation
import Imaging
import Inference
import Store
import Tensor

/// A loaded model ready to turn images into CNN codes of one or more layers, with a fixed
/// preprocessing and reduction (ReLU, pooling). Used by the batch pipeline, by `predict` and
/// `search --image`, and by the service — so a query's code is made exactly as the
/// collection's codes were.
///
/// Sessions are compiled lazily per batch size and kept (compiling folds constants and plans
/// buffers, which costs far more than one forward pass). Thread safety: `codes(for:)` is
/// serialized by a lock (sessions own their activation buffers); decoding, which is the
/// parallel part, happens outside.
public final class CodeExtractor: @unchecked Sendable {
    public let modelURL: URL
    /// SHA-256 of the model file: part of every collection's provenance.
    public let modelDigest: String
    public let layers: [String]
    public let preprocessing: Preprocessing
    public let reducer: CodeReducer
    public let threads: Int
    /// The batch size the model forces (a fixed first input dimension), or nil when dynamic.
    public let fixedBatch: Int?
    /// Code length per layer.
    public let codeLengths: [String: Int]
    private let model: ONNXModel
    private let lock = NSLock()
    private var sessions: [Int: InferenceSession] = [:]  // guarded by `lock`

    public init(modelURL: URL, layers: [String], preprocessing: Preprocessing,
                reducer: CodeReducer, threads: Int = 2) throws {
        guard !layers.isEmpty else { throw ExtractionError.invalid("no layer given: pass --layer NAME (see `cnncodes inspect MODEL`)") }
        self.modelURL = modelURL
        self.layers = layers
        self.preprocessing = preprocessing
        self.reducer = reducer
        self.threads = max(1, threads)
        self.model = try ONNXModel(contentsOf: modelURL)
        self.modelDigest = try ContentDigest.of(fileAt: modelURL)

        // The preprocessing must produce what the model takes (symbolic dims accept anything).
        let perImage = preprocessing.inputShape
        let declared = model.inputs.first?.shape ?? []
        let matches = declared.count == perImage.count + 1
            && zip(declared.dropFirst(), perImage).allSatisfy { $0 == nil || $0 == $1 }
        guard matches else {
            throw ExtractionError.inputMismatch(model: modelURL.path, modelInput: declared, preprocessing: perImage)
        }
        fixedBatch = declared.first ?? nil

        // Layer names and code lengths from shape analysis at batch 1 (or the fixed batch).
        let shapes = try model.describe(inputShape: [fixedBatch ?? 1] + perImage)
        var lengths: [String: Int] = [:]
        for layer in layers {
            guard let row = shapes.first(where: { $0.name == layer }) else {
                let needle = layer.lowercased()
                let suggestions = shapes.map(\.name).filter {
                    $0.lowercased().contains(needle) || needle.contains($0.lowercased())
                }.prefix(5)
                throw ExtractionError.unknownLayer(model: modelURL.path, layer: layer, suggestions: Array(suggestions))
            }
            lengths[layer] = reducer.codeLength(forOutputShape: row.shape)
        }
        codeLengths = lengths
    }

    /// The provenance of codes made by this extractor for `layer`.
    public func provenance(layer: String, dtype: CodeDType) -> Provenance {
        Provenance(
            modelDigest: modelDigest, modelPath: modelURL.path, layer: layer,
            preprocessingJSON: preprocessing.canonicalJSON, pooling: reducer.pooling.rawValue,
            relu: reducer.relu, dtype: dtype)
    }

    /// The batch size to use for `requested` images per forward pass.
    public func batchSize(requested: Int) -> Int { fixedBatch ?? max(1, requested) }

    /// Codes for preprocessed images (each of shape `preprocessing.inputShape`), per layer,
    /// one row per image in order. Runs forward passes of `batchSize(requested:)` images,
    /// padding the last one with zeros (padded rows are discarded).
    public func codes(for images: [Tensor], batchSize requested: Int) throws -> [String: [[Float]]] {
        let batch = batchSize(requested: requested)
        var result = Dictionary(uniqueKeysWithValues: layers.map { ($0, [[Float]]()) })
        var start = 0
        while start < images.count {
            let chunk = Array(images[start..<min(start + batch, images.count)])
            let input = Self.stack(chunk, batch: batch, perImage: preprocessing.inputShape)
            let outputs = try forward(input, batch: batch)
            for layer in layers {
                guard let output = outputs[layer] else {
                    throw ExtractionError.invalid("\(modelURL.path): the engine returned no tensor '\(layer)'")
                }
                result[layer]!.append(contentsOf: reducer.codes(from: output).prefix(chunk.count))
            }
            start += batch
        }
        return result
    }

    /// Decodes, preprocesses and extracts one image given as bytes (`name` for messages).
    public func codes(forImageData data: Data, name: String, limits: DecodeLimits = .default) throws -> [String: [Float]] {
        let image = try ImageDecoder.decode(data: data, name: name, limits: limits, sizeHint: preprocessing.decodeSizeHint)
        let tensor = preprocessing.tensor(from: image)
        return try codes(for: [tensor], batchSize: 1).mapValues { $0[0] }
    }

    private func forward(_ input: Tensor, batch: Int) throws -> [String: Tensor] {
        lock.lock()
        defer { lock.unlock() }
        let session: InferenceSession
        if let cached = sessions[batch] {
            session = cached
        } else {
            session = try InferenceSession(model: model, outputs: layers, inputShape: input.shape, threads: threads)
            sessions[batch] = session
        }
        return try session.run(input)
    }

    private static func stack(_ images: [Tensor], batch: Int, perImage: [Int]) -> Tensor {
        let size = perImage.reduce(1, *)
        var data = [Float](repeating: 0, count: batch * size)
        data.withUnsafeMutableBufferPointer { out in
            for (i, image) in images.enumerated() {
                image.data.withUnsafeBufferPointer { src in
                    out.baseAddress!.advanced(by: i * size).update(from: src.baseAddress!, count: size)
                }
            }
        }
        return Tensor(shape: [batch] + perImage, data: data)
    }
}

extension CodeExtractor {
    /// An extractor that makes codes exactly as `collection` was made: same model file (its
    /// digest is checked), layer, preprocessing, pooling and ReLU. `modelOverride` points at
    /// the model when it has moved since extraction.
    public static func matching(_ collection: CollectionRecord, modelOverride: URL? = nil, threads: Int = 2) throws -> CodeExtractor {
        let provenance = collection.provenance
        let url = modelOverride ?? URL(fileURLWithPath: provenance.modelPath)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ExtractionError.modelMissing(path: url.path, collection: collection.name)
        }
        let preprocessing = try Preprocessing.decode(json: Data(provenance.preprocessingJSON.utf8), source: "collection '\(collection.name)'")
        guard let pooling = Pooling(rawValue: provenance.pooling) else {
            throw ExtractionError.invalid("collection '\(collection.name)': unknown pooling '\(provenance.pooling)'")
        }
        let extractor = try CodeExtractor(
            modelURL: url, layers: [provenance.layer], preprocessing: preprocessing,
            reducer: CodeReducer(relu: provenance.relu, pooling: pooling), threads: threads)
        guard extractor.modelDigest == provenance.modelDigest else {
            throw ExtractionError.modelChanged(
                path: url.path, collection: collection.name, expected: provenance.modelDigest, found: extractor.modelDigest)
        }
        return extractor
    }
}
