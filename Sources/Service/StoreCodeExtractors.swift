import Extraction
import Foundation
import Imaging
import Logging
import Store
import Tensor

/// The real `UploadCodeExtractor`: for each collection, Extraction's `CodeExtractor` made by
/// `CodeExtractor.matching` (same model file — its digest is checked —, layer,
/// preprocessing, pooling, ReLU), loaded once on first use and shared by every request.
///
/// Concurrent uploads for one collection are batched into one forward pass (`ForwardBatcher`);
/// decoding and preprocessing run on each request's own thread, in parallel.
public final class StoreCodeExtractors: UploadCodeExtractor, @unchecked Sendable {
    /// Threads of each model's forward pass.
    public let threads: Int
    /// Where the model is when it moved since extraction (nil: the path in the provenance).
    public let modelOverride: URL?
    private let logger: Logger
    /// Guards `batchers`. Loading a model happens under it (a second request for the same
    /// collection waits for the first load rather than loading the model twice).
    private let lock = NSLock()
    /// By collection name, with the provenance it was made for (a collection recreated under
    /// the same name with another model gets a new extractor).
    private var batchers: [String: (provenance: Provenance, batcher: ForwardBatcher)] = [:]

    public init(threads: Int = 2, modelOverride: URL? = nil, logger: Logger = Logger(label: "cnncodes.service")) {
        self.threads = threads
        self.modelOverride = modelOverride
        self.logger = logger
    }

    public func code(for upload: ImageUpload, collection: CollectionRecord) throws -> ExtractedCode {
        let batcher = try self.batcher(for: collection)
        let extractor = batcher.extractor
        let image = try ImageDecoder.decode(data: upload.data, name: upload.name,
                                            sizeHint: extractor.preprocessing.decodeSizeHint)
        let tensor = extractor.preprocessing.tensor(from: image)
        let code = try batcher.code(for: tensor, layer: collection.provenance.layer)
        return ExtractedCode(code: code, width: image.fullWidth, height: image.fullHeight)
    }

    private func batcher(for collection: CollectionRecord) throws -> ForwardBatcher {
        lock.lock()
        defer { lock.unlock() }
        if let entry = batchers[collection.name], entry.provenance == collection.provenance { return entry.batcher }
        let started = Date()
        let extractor = try CodeExtractor.matching(collection, modelOverride: modelOverride, threads: threads)
        logger.info("loaded \(extractor.modelURL.path) for collection '\(collection.name)' in \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
        let batcher = ForwardBatcher(extractor: extractor)
        batchers[collection.name] = (collection.provenance, batcher)
        return batcher
    }
}

/// Batches concurrent single-image requests into forward passes, without timers: a request
/// queues its tensor; if no pass is running it becomes the leader, runs one pass over
/// everything queued (up to `maxBatch`), hands out the codes and repeats while more
/// arrived. Requests arriving during a pass wait and ride the next one, so under load a
/// pass serves several requests, and an idle server adds no delay.
///
/// Batch sizes are rounded up to a power of two (the extractor pads with zeros) so only a
/// few sessions (1, 2, 4, 8) are ever compiled.
final class ForwardBatcher: @unchecked Sendable {
    let extractor: CodeExtractor
    /// Largest pass: 8 images of 224² keep a pass well under a second on 2 cores.
    let maxBatch = 8

    private final class Pending {
        let tensor: Tensor
        var result: Result<[String: [Float]], Error>?
        let done = DispatchSemaphore(value: 0)
        init(tensor: Tensor) { self.tensor = tensor }
    }

    /// Guards `queue` and `running`.
    private let lock = NSLock()
    private var queue: [Pending] = []
    private var running = false

    init(extractor: CodeExtractor) {
        self.extractor = extractor
    }

    /// The code of one preprocessed image for `layer`.
    func code(for tensor: Tensor, layer: String) throws -> [Float] {
        let mine = Pending(tensor: tensor)
        lock.lock()
        queue.append(mine)
        let lead = !running
        if lead { running = true }
        lock.unlock()
        if lead { drain() } else { mine.done.wait() }
        guard let result = mine.result else { throw ServiceError.internalError("forward pass ended without a result") }
        guard let code = try result.get()[layer] else {
            throw ServiceError.internalError("the extractor returned no code for layer '\(layer)'")
        }
        return code
    }

    /// Runs passes until the queue is empty. Only the leader calls it; it finishes its own
    /// request in the first pass (it queued before anyone could take the queue).
    private func drain() {
        while true {
            lock.lock()
            guard !queue.isEmpty else {
                running = false
                lock.unlock()
                return
            }
            let batch = Array(queue.prefix(maxBatch))
            queue.removeFirst(batch.count)
            lock.unlock()

            var padded = 1
            while padded < batch.count { padded *= 2 }
            let outcome = Result { try extractor.codes(for: batch.map(\.tensor), batchSize: padded) }
            for (i, pending) in batch.enumerated() {
                pending.result = outcome.map { codes in codes.mapValues { $0[i] } }
                pending.done.signal()
            }
        }
    }
}
