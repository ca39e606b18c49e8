/// A bounded selection of the `capacity` best (key, id) pairs seen so far, where a larger key
/// is better and, between equal keys, a smaller id is better (so results are deterministic
/// and match a brute-force sort).
///
/// A binary min-heap whose root is the worst kept pair: a new pair is rejected with one
/// comparison against the root in the common case (most candidates are worse than the k-th
/// best). It works on caller-owned storage (`keys`, `ids`, each `capacity` long) so the
/// batched search can keep one heap per query in one preallocated buffer, without per-query
/// allocations.
struct TopK {
    let keys: UnsafeMutablePointer<Float>
    let ids: UnsafeMutablePointer<Int64>
    let capacity: Int
    private(set) var count = 0

    init(keys: UnsafeMutablePointer<Float>, ids: UnsafeMutablePointer<Int64>, capacity: Int) {
        self.keys = keys
        self.ids = ids
        self.capacity = capacity
    }

    /// Whether `capacity` pairs are kept: from then on a pair must beat `worstKey` (or equal
    /// it with a smaller id) to enter.
    var isFull: Bool { count == capacity }

    /// The key of the worst kept pair (the root); only meaningful when `isFull`.
    var worstKey: Float { keys[0] }

    /// Whether (ka, ia) is worse than (kb, ib).
    @inline(__always)
    static func worse(_ ka: Float, _ ia: Int64, _ kb: Float, _ ib: Int64) -> Bool {
        ka < kb || (ka == kb && ia > ib)
    }

    /// Offers a pair; keeps it if it is among the `capacity` best so far.
    @inline(__always)
    mutating func push(_ key: Float, _ id: Int64) {
        if count < capacity {
            // Sift up from the new leaf.
            var i = count
            count += 1
            while i > 0 {
                let parent = (i - 1) >> 1
                guard TopK.worse(key, id, keys[parent], ids[parent]) else { break }
                keys[i] = keys[parent]
                ids[i] = ids[parent]
                i = parent
            }
            keys[i] = key
            ids[i] = id
            return
        }
        guard capacity > 0, TopK.worse(keys[0], ids[0], key, id) else { return }
        siftDownFromRoot(key, id)
    }

    /// Replaces the root by (key, id) and restores the heap order.
    @inline(__always)
    private mutating func siftDownFromRoot(_ key: Float, _ id: Int64) {
        var i = 0
        while true {
            let left = 2 * i + 1
            if left >= count { break }
            var child = left
            let right = left + 1
            if right < count && TopK.worse(keys[right], ids[right], keys[left], ids[left]) { child = right }
            guard TopK.worse(keys[child], ids[child], key, id) else { break }
            keys[i] = keys[child]
            ids[i] = ids[child]
            i = child
        }
        keys[i] = key
        ids[i] = id
    }

    /// The kept pairs, best first (empties nothing; the storage is left in an unspecified order).
    func sortedBestFirst() -> [(key: Float, id: Int64)] {
        var pairs = (0..<count).map { (key: keys[$0], id: ids[$0]) }
        pairs.sort { TopK.worse($1.key, $1.id, $0.key, $0.id) }
        return pairs
    }
}
