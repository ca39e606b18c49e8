import ArgumentParser
import Extraction
import Foundation
import Search
import Store
import Tensor
import Workflows

/// `cnncodes search`: the images whose codes are nearest a query.
struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Find the stored images most like an image, a stored image or a vector.",
        discussion: """
            The query's code is compared with every code of the collection (exact search) or \
            through the collection's HNSW index when `cnncodes index` built one (use --exact to \
            bypass it). An --image query is extracted exactly as the collection was made.

            Examples:
              cnncodes search --collection lite0 --image bee.jpg -k 5
              cnncodes search --collection lite0 --id 17 --filter split=train --json
            """
    )

    @Option(help: "The collection to search.")
    var collection: String

    @Option(help: ArgumentHelp("An image file to use as the query.", valueName: "path"))
    var image: String?

    @Option(help: "A stored image id to use as the query (it is left out of the results).")
    var id: Int64?

    @Option(help: ArgumentHelp("A query vector (.npy, one row of the collection's dimension).", valueName: "q.npy"))
    var vector: String?

    @Option(name: .short, help: "How many results.")
    var k: Int = 10

    @Option(help: "cosine, ip (inner product) or l2 (squared Euclidean distance).")
    var metric: Metric = .cosine

    @Option(help: ArgumentHelp("Only images with label=X or split=Y (repeatable).", valueName: "key=value"))
    var filter: [String] = []

    @Flag(help: "Exact search even when an HNSW index exists.")
    var exact = false

    @Option(help: "HNSW beam width: larger is slower and more accurate.")
    var ef: Int?

    @Option(help: ArgumentHelp("The model file, if it moved since extraction (for --image).", valueName: "model.onnx"))
    var model: String?

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var storeOptions: StoreOptions

    func validate() throws {
        if [image != nil, id != nil, vector != nil].filter({ $0 }).count != 1 {
            throw ValidationError("give exactly one query: --image PATH, --id N or --vector Q.npy")
        }
        if k < 1 { throw ValidationError("-k must be at least 1") }
        _ = try parsedFilter()
    }

    func parsedFilter() throws -> ImageFilter {
        var result = ImageFilter.all
        for item in filter {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ValidationError("--filter takes label=X or split=Y, got '\(item)'") }
            switch parts[0] {
            case "label": result.label = parts[1]
            case "split": result.split = parts[1]
            default: throw ValidationError("--filter key must be label or split, got '\(parts[0])'")
            }
        }
        return result
    }

    func run() throws {
        let store = try storeOptions.open(.readOnly)
        let record = try store.requireCollection(collection)
        let query: SearchQuery
        if let id {
            query = .id(id)
        } else if let vector {
            query = .vector(try NPY.read(URL(fileURLWithPath: vector)).data)
        } else {
            let extractor = try CodeExtractor.matching(record, modelOverride: model.map { URL(fileURLWithPath: $0) })
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: image!)) } catch {
                throw ValidationError("\(image!): cannot read: \(error.localizedDescription)")
            }
            query = .vector(try extractor.codes(forImageData: data, name: image!)[record.provenance.layer]!)
        }
        let options = SearchOptions(k: k, metric: metric, filter: try parsedFilter(), exact: exact, ef: ef, excludeQuery: id != nil)
        let answer = try CollectionSearch(store: store).search(collection: collection, query: query, options: options)
        let results = answer.results
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(results), as: UTF8.self))
            return
        }
        let how = answer.method == .hnsw ? "HNSW" : "exact"
        print("top \(results.count) in '\(collection)' by \(metric.rawValue) (\(how)):")
        print("rank\tid\tscore\tlabel\tpath")
        for r in results {
            print("\(r.rank)\t\(r.id)\t\(String(format: "%.4f", r.score))\t\(r.label ?? "-")\t\(r.path)")
        }
    }
}

/// `cnncodes index`: build the HNSW index of a collection.
struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Build the HNSW index of a collection for fast approximate search.",
        discussion: """
            M is the number of links per node (memory and recall grow with it); \
            efConstruction the beam width while building (build time and quality grow with \
            it). The index is saved in the store and used by `search` and the service; codes \
            added later are added to it when it is loaded.

            Example:
              cnncodes index --collection lite0 --m 16 --ef-construction 200
            """
    )

    @Option(help: "The collection to index.")
    var collection: String

    @Option(help: "cosine, ip or l2 — the metric searches will use.")
    var metric: Metric = .cosine

    @Option(help: "Links per node.")
    var m: Int = 16

    @Option(name: .customLong("ef-construction"), help: "Beam width while building.")
    var efConstruction: Int = 200

    @Option(help: "Build threads.")
    var threads: Int = 2

    @OptionGroup var storeOptions: StoreOptions

    func run() throws {
        let store = try storeOptions.open(.readOnly)
        let started = Date()
        let (index, url) = try CollectionSearch.buildIndex(
            store: store, collection: collection, metric: metric, m: m, efConstruction: efConstruction, threads: threads)
        print("indexed \(index.count) codes of '\(collection)' (M=\(m), efConstruction=\(efConstruction), \(metric.rawValue)) "
              + "in \(String(format: "%.1f", Date().timeIntervalSince(started))) s → \(url.path)")
    }
}

extension Metric: ExpressibleByArgument {}
