/// One result of a k-NN query: the id given at `add` and its score under the index's metric
/// (see `Metric`). Results are ordered best first; equal scores are ordered by smaller id.
public struct SearchHit: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var id: Int64
    public var score: Float

    public init(id: Int64, score: Float) {
        self.id = id
        self.score = score
    }

    public var description: String { "\(id):\(score)" }
}
