import ArgumentParser
import Extraction
import Foundation
import Store

/// `cnncodes extract`: a folder (or manifest) of images → CNN codes in a store.
struct ExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Extract the CNN codes of a folder of images into a collection of a store.",
        discussion: """
            Runs the model over every image and keeps the activations of each --layer, ReLU'd \
            (unless --no-relu) and, for 4-D maps, pooled (--pool). Each layer fills its own \
            collection; a collection records the model file's digest, the layer, the \
            preprocessing, pooling, ReLU and dtype, and refuses codes of another provenance.

            Folder layouts: DIR/{train,val,test}/CLASS/* (label and split), DIR/CLASS/* \
            (label), or DIR/* (unlabeled). A CSV manifest lists path,label[,split] instead.

            Re-running the same command resumes: stored images are skipped (by path and \
            content digest), changed files re-extracted. Files that cannot be decoded are \
            recorded with their reason (`cnncodes failures`) and skipped.

            Example:
              cnncodes extract --model efficientnet_lite0.onnx \\
                --layer /_avg_pooling/GlobalAveragePool_output_0 \\
                --profile efficientnet-lite --images data/hymenoptera --collection lite0
            """
    )

    @Option(help: ArgumentHelp("The ONNX model file.", valueName: "model.onnx"))
    var model: String

    @Option(name: .customLong("layer"), help: ArgumentHelp(
        "A tensor to keep (repeatable); `cnncodes inspect MODEL` lists them.", valueName: "name"))
    var layers: [String] = []

    @Option(help: ArgumentHelp("A folder of images (see the layouts above).", valueName: "dir"))
    var images: String?

    @Option(help: ArgumentHelp("A CSV manifest: path,label[,split] per line.", valueName: "file.csv"))
    var manifest: String?

    @OptionGroup var storeOptions: StoreOptions

    @Option(name: .customLong("collection"), help: ArgumentHelp(
        "Collection name per --layer, in order (default: MODEL-LAYER).", valueName: "name"))
    var collections: [String] = []

    @OptionGroup var preprocessingOptions: PreprocessingOptions

    @Option(help: "How 4-D maps become vectors: avg, max (over H×W) or none (flatten).")
    var pool: Pooling = .avg

    @Flag(help: "Keep raw activations instead of thresholding at zero.")
    var noRelu = false

    @Option(help: "How codes are stored: f32, or f16 (half the space; ~3 significant digits).")
    var dtype: CodeDType = .f32

    @Option(help: "Images per forward pass.")
    var batch: Int = 16

    @Option(help: "Threads for the forward pass and for decoding.")
    var threads: Int = 2

    @Flag(help: "No progress output.")
    var quiet = false

    func validate() throws {
        if layers.isEmpty { throw ValidationError("give at least one --layer (see `cnncodes inspect \(model)`)") }
        if (images == nil) == (manifest == nil) { throw ValidationError("give exactly one of --images DIR or --manifest FILE.csv") }
        if !collections.isEmpty && collections.count != layers.count {
            throw ValidationError("give one --collection per --layer (\(layers.count) layers, \(collections.count) collections)")
        }
        if batch < 1 || batch > 4096 { throw ValidationError("--batch must be between 1 and 4096") }
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let scanned: [SourceImage]
        let source: String
        if let images {
            let root = URL(fileURLWithPath: images).standardizedFileURL
            scanned = try DatasetScanner.scan(folder: root)
            source = root.path
        } else {
            let file = URL(fileURLWithPath: manifest!).standardizedFileURL
            scanned = try DatasetScanner.scan(manifest: file)
            source = file.deletingLastPathComponent().path
        }
        let extractor = try CodeExtractor(
            modelURL: URL(fileURLWithPath: model).standardizedFileURL, layers: layers,
            preprocessing: try preprocessingOptions.preprocessing(),
            reducer: CodeReducer(relu: !noRelu, pooling: pool), threads: threads)
        let names = collections.isEmpty ? layers.map { Self.defaultCollectionName(model: model, layer: $0) } : collections
        let store = try storeOptions.open(.readWrite)
        let progress = ProgressReporter(total: scanned.count, label: "extract", quiet: quiet)
        let job = ExtractionJob(
            images: scanned, source: source, collections: names, dtype: dtype, batchSize: batch,
            decodeThreads: threads, limits: preprocessingOptions.limits,
            command: CommandLine.arguments.joined(separator: " "))
        let summary = try ExtractionPipeline.run(job, extractor: extractor, store: store, progress: progress)

        let rate = summary.seconds > 0 ? Double(summary.extracted) / summary.seconds : 0
        print("extracted \(summary.extracted), skipped \(summary.skipped) (already stored), failed \(summary.failed) "
              + "of \(summary.total) images in \(String(format: "%.1f", summary.seconds)) s (\(String(format: "%.1f", rate)) images/s)")
        for (layer, name) in zip(layers, names) {
            print("collection \(name): layer \(layer), \(extractor.codeLengths[layer]!)-d \(dtype.rawValue) codes, store \(storeOptions.store)")
        }
        for failure in summary.failures.prefix(10) { print("  failed: \(failure.path): \(failure.reason)") }
        if summary.failures.count > 10 { print("  … \(summary.failures.count - 10) more: `cnncodes failures --store \(storeOptions.store)`") }
        if summary.extracted == 0 && summary.skipped == 0 && summary.failed > 0 {
            throw ExtractionError.nothingExtracted(failed: summary.failed, firstReason: summary.failures.first?.reason)
        }
    }

    /// `efficientnet_lite0-GlobalAveragePool_output_0`: the model file's stem and the layer's
    /// last path component, characters outside [A-Za-z0-9._-] replaced.
    static func defaultCollectionName(model: String, layer: String) -> String {
        let stem = URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent
        let leaf = layer.split(separator: "/").last.map(String.init) ?? layer
        let raw = "\(stem)-\(leaf)"
        return String(raw.map { $0.isLetter || $0.isNumber || "._-".contains($0) ? $0 : "_" })
    }
}

extension Pooling: ExpressibleByArgument {}
extension CodeDType: ExpressibleByArgument {}
