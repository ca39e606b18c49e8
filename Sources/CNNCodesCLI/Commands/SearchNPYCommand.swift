import ArgumentParser
import Dispatch
import Foundation
import Search
import Tensor

/// `cnncodes search-npy`: exact and HNSW k-NN over .npy matrices, timed — the entry point of
/// benchmarks/search (hidden from `--help`: it is a measuring tool, not a user workflow).
struct SearchNPYCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search-npy",
        abstract: "Time exact and HNSW k-NN search over vectors in .npy files.",
        discussion: """
            Rows of --base get ids 0, 1, 2, …; prints queries per second (batched and one at a \
            time), the HNSW build time and, for HNSW, recall@k against --truth (an .npy of \
            ids, queries × ≥k) or against exact search when --truth is absent.

            Example:
              cnncodes search-npy --base out/base.npy --queries out/queries.npy -k 10 \\
                --hnsw --m 16 --ef-construction 200 --ef 32,64,128,256 --metric ip --threads 2
            """,
        shouldDisplay: false
    )

    @Option(help: "The vectors to search (.npy, n × d).")
    var base: String

    @Option(help: "The query vectors (.npy, q × d).")
    var queries: String

    @Option(name: .short, help: "Neighbours per query.")
    var k: Int = 10

    @Flag(help: "Run exact search (the default when --hnsw is not given).")
    var exact = false

    @Flag(help: "Build and query an HNSW index.")
    var hnsw = false

    @Option(help: "HNSW links per element.")
    var m: Int = 16

    @Option(help: "HNSW candidate list size while building.")
    var efConstruction: Int = 200

    @Option(help: "HNSW candidate list sizes to query with, comma-separated.")
    var ef: String = "64"

    @Option(help: "cosine, ip or l2.")
    var metric: String = "ip"

    @Option(help: "Storage of the exact index: float32 or float16.")
    var dtype: String = "float32"

    @Option(help: "Threads (search workers, HNSW build, OpenBLAS).")
    var threads: Int = 2

    @Option(help: "Queries timed one at a time.")
    var single: Int = 200

    @Option(help: "Ground-truth neighbour ids (.npy, queries × ≥k) for recall.")
    var truth: String?

    @Option(help: "Save the HNSW index to this file (and check that reloading gives the same results).")
    var save: String?

    func validate() throws {
        guard k > 0 else { throw ValidationError("-k must be positive") }
        guard threads > 0 else { throw ValidationError("--threads must be positive") }
        guard Metric(rawValue: metric) != nil else { throw ValidationError("--metric must be cosine, ip or l2") }
        guard ScalarType(rawValue: dtype) != nil else { throw ValidationError("--dtype must be float32 or float16") }
        guard efValues.count > 0, efValues.allSatisfy({ $0 > 0 }) else { throw ValidationError("--ef takes positive integers, e.g. 32,64,128") }
    }

    var efValues: [Int] { ef.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func run() throws {
        // OpenBLAS (the exact index's sgemm) at --threads for the whole comparison.
        try BLAS.withThreads(threads) { try compareIndexes() }
    }

    private func compareIndexes() throws {
        let metric = Metric(rawValue: metric)!
        let baseTensor = try NPY.read(URL(fileURLWithPath: base))
        let queryTensor = try NPY.read(URL(fileURLWithPath: queries))
        guard baseTensor.rank == 2, queryTensor.rank == 2, baseTensor.shape[1] == queryTensor.shape[1] else {
            throw ValidationError("\(base) and \(queries) must be 2-D with the same number of columns (got \(baseTensor.shape) and \(queryTensor.shape))")
        }
        let (n, dim, queryCount) = (baseTensor.shape[0], baseTensor.shape[1], queryTensor.shape[0])
        let ids = (0..<n).map { Int64($0) }
        let singleCount = min(single, queryCount)
        let singleQueries = Array(queryTensor.data[0..<(singleCount * dim)])
        print("data: base \(n)x\(dim), queries \(queryCount), k \(k), metric \(metric.rawValue), threads \(threads)")

        var exactIDs: [[Int64]]? = nil
        if exact || !hnsw {
            let index = try ExactIndex(dim: dim, metric: metric, scalarType: ScalarType(rawValue: dtype)!, threads: threads)
            try index.add(ids: ids, vectors: baseTensor.data)
            let (hits, seconds) = try timed { try index.search(queries: queryTensor.data, count: queryCount, k: k) }
            print(String(format: "exact batched (%@): %.1f q/s (%.3f s)", dtype, Double(queryCount) / seconds, seconds))
            let (_, singleSeconds) = try timed {
                for i in 0..<singleCount { _ = try index.search(query: Array(singleQueries[(i * dim)..<((i + 1) * dim)]), k: k) }
            }
            print(String(format: "exact one at a time (%@): %.1f q/s", dtype, Double(singleCount) / singleSeconds))
            exactIDs = hits.map { $0.map(\.id) }
        }

        if hnsw {
            let truthIDs = try truth.map { path -> [[Int64]] in
                let t = try NPY.read(URL(fileURLWithPath: path))
                guard t.rank == 2, t.shape[0] == queryCount, t.shape[1] >= k else {
                    throw ValidationError("\(path) must be \(queryCount) × ≥\(k) neighbour ids (got \(t.shape))")
                }
                return (0..<queryCount).map { q in (0..<k).map { Int64(t.data[q * t.shape[1] + $0]) } }
            } ?? exactIDs ?? {
                let index = try ExactIndex(dim: dim, metric: metric, threads: threads)
                try index.add(ids: ids, vectors: baseTensor.data)
                return try index.search(queries: queryTensor.data, count: queryCount, k: k).map { $0.map(\.id) }
            }()
            let index = try HNSWIndex(dim: dim, metric: metric, m: m, efConstruction: efConstruction, threads: threads)
            let (_, buildSeconds) = try timed { try index.add(ids: ids, vectors: baseTensor.data) }
            print(String(format: "hnsw build M=%d efC=%d: %.2f s", m, efConstruction, buildSeconds))
            for efValue in efValues {
                let (hits, seconds) = try timed { try index.search(queries: queryTensor.data, count: queryCount, k: k, ef: efValue) }
                let (_, singleSeconds) = try timed {
                    for i in 0..<singleCount {
                        _ = try index.search(query: Array(singleQueries[(i * dim)..<((i + 1) * dim)]), k: k, ef: efValue)
                    }
                }
                print(String(format: "hnsw ef=%d: recall@%d %.4f  %.1f q/s batched  %.1f q/s one at a time",
                             efValue, k, recall(hits.map { $0.map(\.id) }, truthIDs), Double(queryCount) / seconds,
                             Double(singleCount) / singleSeconds))
            }
            if let save {
                let url = URL(fileURLWithPath: save)
                let (_, saveSeconds) = try timed { try index.save(to: url) }
                let (loaded, loadSeconds) = try timed { try HNSWIndex.load(from: url, threads: threads) }
                let same = try loaded.search(queries: queryTensor.data, count: queryCount, k: k) == index.search(queries: queryTensor.data, count: queryCount, k: k)
                print(String(format: "hnsw save %.2f s, load %.2f s, identical results after reload: %@", saveSeconds, loadSeconds, same ? "yes" : "NO"))
            }
        }
    }

    private func recall(_ got: [[Int64]], _ truth: [[Int64]]) -> Double {
        var found = 0
        for (g, t) in zip(got, truth) { found += Set(g).intersection(t.prefix(k)).count }
        return Double(found) / Double(max(1, truth.count * k))
    }

    private func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
        let start = DispatchTime.now().uptimeNanoseconds
        let value = try body()
        return (value, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
}
