import Foundation
import TestSupport
@testable import Search

typealias SeededGenerator = SeededRandom

extension SeededRandom {

    /// A standard normal sample (Box–Muller).
    mutating func normal() -> Float {
        let u1 = Double.random(in: Double.ulpOfOne..<1, using: &self)
        let u2 = Double.random(in: 0..<1, using: &self)
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }
}

enum SyntheticData {
    /// `n × dim` Gaussian values.
    static func gaussian(_ n: Int, _ dim: Int, seed: UInt64) -> [Float] {
        var g = SeededGenerator(seed: seed)
        return (0..<(n * dim)).map { _ in g.normal() }
    }

    /// `n × dim` small integers in -3...3: every dot product and distance is exact in float32,
    /// so ties are real ties and any two correct implementations agree bit for bit.
    static func integers(_ n: Int, _ dim: Int, seed: UInt64) -> [Float] {
        var g = SeededGenerator(seed: seed)
        return (0..<(n * dim)).map { _ in Float(Int.random(in: -3...3, using: &g)) }
    }

    /// Clustered, ReLU'd, unit-norm codes like ../shared/bench/search_peers.py makes:
    /// 256 Gaussian centres, each point a centre plus 0.5·N(0,1) noise, ReLU, normalized.
    static func clusteredCodes(_ n: Int, _ dim: Int, seed: UInt64) -> [Float] {
        var g = SeededGenerator(seed: seed)
        let centres = (0..<(256 * dim)).map { _ in g.normal() }
        var x = [Float](repeating: 0, count: n * dim)
        for i in 0..<n {
            let c = Int.random(in: 0..<256, using: &g)
            var norm: Float = 0
            for j in 0..<dim {
                let v = max(0, centres[c * dim + j] + 0.5 * g.normal())
                x[i * dim + j] = v
                norm += v * v
            }
            let scale = 1 / (norm.squareRoot() + 1e-12)
            for j in 0..<dim { x[i * dim + j] *= scale }
        }
        return x
    }
}

/// The obvious O(n·q·d) k-NN in Double: the reference the indexes are checked against.
enum BruteForce {
    static func search(
        base: [Float], ids: [Int64], queries: [Float], dim: Int, metric: Metric, k: Int,
        allowed: ((Int64) -> Bool)? = nil
    ) -> [[SearchHit]] {
        let n = ids.count
        let qn = queries.count / dim
        func normalized(_ v: ArraySlice<Float>) -> [Double] {
            let d = v.map(Double.init)
            let norm = d.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return norm > 0 ? d.map { $0 / norm } : d
        }
        let rows: [[Double]] = (0..<n).map { i in
            let v = base[(i * dim)..<((i + 1) * dim)]
            return metric == .cosine ? normalized(v) : v.map(Double.init)
        }
        return (0..<qn).map { qi in
            let qv = queries[(qi * dim)..<((qi + 1) * dim)]
            let q = metric == .cosine ? normalized(qv) : qv.map(Double.init)
            var scored: [(id: Int64, score: Double)] = []
            for i in 0..<n where allowed?(ids[i]) ?? true {
                var s = 0.0
                for j in 0..<dim {
                    s += metric == .l2 ? (rows[i][j] - q[j]) * (rows[i][j] - q[j]) : rows[i][j] * q[j]
                }
                scored.append((ids[i], s))
            }
            scored.sort { a, b in
                if a.score != b.score { return metric == .l2 ? a.score < b.score : a.score > b.score }
                return a.id < b.id
            }
            return scored.prefix(k).map { SearchHit(id: $0.id, score: Float($0.score)) }
        }
    }
}
