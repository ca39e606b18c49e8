import Dispatch
import Foundation
import Imaging
import Store
import Tensor

/// What one `cnncodes extract` run does.
public struct ExtractionJob: Sendable {
    /// The images, e.g. from `DatasetScanner`.
    public var images: [SourceImage]
    /// The folder (or manifest folder) they were found under: the store's `source`, so paths
    /// are stored relative to it.
    public var source: String
    /// Collection name per layer of the extractor, in the same order.
    public var collections: [String]
    public var dtype: CodeDType
    /// Images per forward pass (a fixed-batch model overrides it).
    public var batchSize: Int
    /// Threads decoding and preprocessing (they overlap the forward pass).
    public var decodeThreads: Int
    public var limits: DecodeLimits
    /// The command line, recorded with the run.
    public var command: String

    public init(images: [SourceImage], source: String, collections: [String], dtype: CodeDType = .f32,
                batchSize: Int = 16, decodeThreads: Int = 2, limits: DecodeLimits = .default, command: String = "extract") {
        self.images = images
        self.source = source
        self.collections = collections
        self.dtype = dtype
        self.batchSize = batchSize
        self.decodeThreads = decodeThreads
        self.limits = limits
        self.command = command
    }
}

/// The outcome of a run.
public struct ExtractionSummary: Equatable, Sendable {
    public var runID: Int64
    public var total: Int
    public var extracted: Int
    /// Already stored (same path and content) — a resumed or repeated run.
    public var skipped: Int
    public var failed: Int
    public var seconds: Double
    public var failures: [(path: String, reason: String)]

    public static func == (a: ExtractionSummary, b: ExtractionSummary) -> Bool {
        a.runID == b.runID && a.total == b.total && a.extracted == b.extracted && a.skipped == b.skipped
            && a.failed == b.failed
    }
}

/// The batch extraction pipeline: digest → register (pending) → decode/preprocess on worker
/// threads → batched forward → ReLU/pool → one durable write per batch → done marks.
///
/// Overlap: while the forward pass of batch i runs on the calling thread (OpenBLAS and the
/// engine use both cores), batch i+1 is decoded on `decodeThreads` worker threads; decode is
/// typically 20–40% of the forward time, so it hides almost entirely.
///
/// Resumable and idempotent: images whose codes are done in every requested collection are
/// skipped (by path and content digest — a changed file gets a new id and is re-extracted).
/// Crash-safe by the store's write protocol: a kill loses at most the batch in flight.
/// A file that cannot be decoded is recorded as a failure with its reason and skipped.
public enum ExtractionPipeline {
    public static func run(_ job: ExtractionJob, extractor: CodeExtractor, store: FeatureStore,
                           progress: ProgressReporter? = nil) throws -> ExtractionSummary {
        guard job.collections.count == extractor.layers.count else {
            throw ExtractionError.invalid("\(extractor.layers.count) layer(s) but \(job.collections.count) collection name(s)")
        }
        let started = Date()
        for (layer, name) in zip(extractor.layers, job.collections) {
            _ = try store.ensureCollection(
                name, provenance: extractor.provenance(layer: layer, dtype: job.dtype), dim: extractor.codeLengths[layer]!)
        }
        let runID = try store.beginRun(command: job.command, collections: job.collections)

        // 1. Content digests (parallel: I/O and SHA-256), then registration as pending.
        let digests = digestAll(job.images, threads: job.decodeThreads)
        var work: [(image: SourceImage, id: Int64)] = []
        var skipped = 0
        var failures: [(path: String, reason: String)] = []
        var newImages: [NewImage] = []
        var registeredSources: [SourceImage] = []
        for (image, digest) in zip(job.images, digests) {
            switch digest {
            case let .success(hex):
                newImages.append(NewImage(source: job.source, path: image.relativePath, digest: hex, label: image.label, split: image.split))
                registeredSources.append(image)
            case let .failure(error):
                failures.append((image.relativePath, "\(error)"))
            }
        }
        let chunk = 2000
        for start in stride(from: 0, to: newImages.count, by: chunk) {
            let range = start..<min(start + chunk, newImages.count)
            let registered = try store.registerImages(Array(newImages[range]), collections: job.collections)
            for (image, record) in zip(registeredSources[range], registered) {
                if record.pending.isEmpty { skipped += 1 } else { work.append((image, record.id)) }
            }
        }
        for failure in failures {
            try store.recordFailure(source: job.source, path: failure.path, reason: failure.reason, run: runID)
        }
        progress?.advance(failed: failures.count, skipped: skipped)

        // 2. Decode ahead, forward, store — batch by batch.
        let batch = extractor.batchSize(requested: job.batchSize)
        let batches = stride(from: 0, to: work.count, by: batch).map { Array(work[$0..<min($0 + batch, work.count)]) }
        var extracted = 0
        var next = batches.isEmpty ? nil : Prefetch(batches[0], extractor: extractor, job: job)
        for index in batches.indices {
            let decoded = next!.wait()
            next = index + 1 < batches.count ? Prefetch(batches[index + 1], extractor: extractor, job: job) : nil

            var good: [(id: Int64, tensor: Tensor, width: Int, height: Int)] = []
            var batchFailures = 0
            for (item, result) in zip(batches[index], decoded) {
                switch result {
                case let .success(loaded): good.append((item.id, loaded.tensor, loaded.width, loaded.height))
                case let .failure(error):
                    batchFailures += 1
                    failures.append((item.image.relativePath, "\(error)"))
                    try store.recordFailure(source: job.source, path: item.image.relativePath, reason: "\(error)", run: runID)
                }
            }
            if !good.isEmpty {
                let codes = try extractor.codes(for: good.map(\.tensor), batchSize: batch)
                let ids = good.map(\.id)
                try store.setImageSizes(good.map { ($0.id, $0.width, $0.height) })
                try store.putCodes(zip(extractor.layers, job.collections).map { layer, name in
                    CodeBatch(collection: name, ids: ids, matrix: codes[layer]!.flatMap { $0 })
                })
                extracted += good.count
            }
            progress?.advance(done: good.count, failed: batchFailures)
        }
        progress?.finish()

        let summary = ExtractionSummary(
            runID: runID, total: job.images.count, extracted: extracted, skipped: skipped,
            failed: failures.count, seconds: Date().timeIntervalSince(started), failures: failures)
        try store.finishRun(runID, counts: RunCounts(done: extracted, skipped: skipped, failed: failures.count))
        return summary
    }

    private static func digestAll(_ images: [SourceImage], threads: Int) -> [Result<String, Error>] {
        var results = [Result<String, Error>](repeating: .failure(ExtractionError.invalid("not read")), count: images.count)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: max(1, threads)) { worker in
            for i in stride(from: worker, to: images.count, by: max(1, threads)) {
                let result: Result<String, Error>
                do { result = .success(try ContentDigest.of(fileAt: images[i].url)) } catch {
                    result = .failure(ExtractionError.invalid("\(images[i].url.path): cannot read: \(error.localizedDescription)"))
                }
                lock.lock()
                results[i] = result
                lock.unlock()
            }
        }
        return results
    }
}

/// Decoding of one batch on worker threads, started now and awaited later.
///
/// `results` is written by the workers (each to its own index, under `lock`) and read only
/// after `group.wait()` returns, so the reader sees every write.
private final class Prefetch: @unchecked Sendable {
    private let group = DispatchGroup()
    private let lock = NSLock()
    private var results: [Result<(tensor: Tensor, width: Int, height: Int), Error>]

    init(_ items: [(image: SourceImage, id: Int64)], extractor: CodeExtractor, job: ExtractionJob) {
        results = Array(repeating: .failure(ExtractionError.invalid("not decoded")), count: items.count)
        let preprocessing = extractor.preprocessing
        let limits = job.limits
        let threads = max(1, min(job.decodeThreads, items.count))
        group.enter()
        DispatchQueue.global(qos: .userInitiated).async { [self] in
            DispatchQueue.concurrentPerform(iterations: threads) { worker in
                for i in stride(from: worker, to: items.count, by: threads) {
                    let result = Result { try preprocessing.load(items[i].image.url, limits: limits) }
                    lock.lock()
                    results[i] = result
                    lock.unlock()
                }
            }
            group.leave()
        }
    }

    func wait() -> [Result<(tensor: Tensor, width: Int, height: Int), Error>] {
        group.wait()
        lock.lock()
        defer { lock.unlock() }
        return results
    }
}
