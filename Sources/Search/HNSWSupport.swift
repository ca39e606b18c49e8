import Foundation

/// A (distance, internal id) pair; smaller distance is closer.
struct NodeDistance {
    var distance: Float
    var node: UInt32
}

/// A binary max-heap of `NodeDistance` by distance (the farthest on top). HNSW keeps its
/// result set in one (top = the worst kept) and its candidate queue in another with negated
/// distances (top = the closest), as hnswlib does with `std::priority_queue`.
struct MaxHeap {
    private(set) var items: [NodeDistance] = []

    init(capacity: Int) { items.reserveCapacity(capacity) }

    var count: Int { items.count }
    var isEmpty: Bool { items.isEmpty }
    var top: NodeDistance { items[0] }

    mutating func push(_ distance: Float, _ node: UInt32) {
        items.append(NodeDistance(distance: distance, node: node))
        items.withUnsafeMutableBufferPointer { h in
            var i = h.count - 1
            let item = h[i]
            while i > 0 {
                let parent = (i - 1) >> 1
                guard h[parent].distance < item.distance else { break }
                h[i] = h[parent]
                i = parent
            }
            h[i] = item
        }
    }

    @discardableResult
    mutating func pop() -> NodeDistance {
        let top = items[0]
        let last = items.removeLast()
        if items.isEmpty { return top }
        items.withUnsafeMutableBufferPointer { h in
            var i = 0
            let n = h.count
            while true {
                let left = 2 * i + 1
                if left >= n { break }
                var child = left
                if left + 1 < n && h[left + 1].distance > h[left].distance { child = left + 1 }
                guard h[child].distance > last.distance else { break }
                h[i] = h[child]
                i = child
            }
            h[i] = last
        }
        return top
    }
}

/// "Visited" marks for one graph search: a tag per element, equal to the current generation
/// when visited, so starting a new search is O(1) (bump the generation) instead of clearing
/// `capacity` flags; the array is cleared only when the 16-bit generation wraps.
final class VisitedList {
    let capacity: Int
    private let tags: UnsafeMutablePointer<UInt16>
    private var generation: UInt16 = 0

    init(capacity: Int) {
        self.capacity = capacity
        tags = .allocate(capacity: max(1, capacity))
        tags.initialize(repeating: 0, count: max(1, capacity))
    }

    deinit { tags.deallocate() }

    func reset() {
        generation &+= 1
        if generation == 0 {
            tags.update(repeating: 0, count: max(1, capacity))
            generation = 1
        }
    }

    /// Whether `node` was visited in this search.
    @inline(__always)
    func contains(_ node: UInt32) -> Bool { tags[Int(node)] == generation }

    /// Marks `node` visited; returns false if it already was.
    @inline(__always)
    func insert(_ node: UInt32) -> Bool {
        if tags[Int(node)] == generation { return false }
        tags[Int(node)] = generation
        return true
    }
}

/// Reuses visited lists across searches (one per concurrent search).
/// `lock` guards `free` only; a list handed out is owned by one thread until given back.
final class VisitedListPool {
    private let lock = NSLock()
    private var free: [VisitedList] = []

    func take(capacity: Int) -> VisitedList {
        lock.lock()
        defer { lock.unlock() }
        while let list = free.popLast() {
            if list.capacity >= capacity { return list }
        }
        return VisitedList(capacity: capacity)
    }

    func giveBack(_ list: VisitedList) {
        lock.lock()
        free.append(list)
        lock.unlock()
    }
}

/// One mutex per element (pthread mutexes in one allocation; `NSLock` objects would cost an
/// allocation and a reference each). Element `i`'s mutex guards element `i`'s link lists (all
/// levels) during a parallel build: whoever reads or rewrites them holds it. Vectors, labels
/// and levels are written before the build threads start and are never guarded.
final class NodeLocks {
    private(set) var count: Int
    private var mutexes: UnsafeMutablePointer<pthread_mutex_t>

    init(count: Int) {
        self.count = count
        mutexes = .allocate(capacity: max(1, count))
        for i in 0..<count { pthread_mutex_init(mutexes + i, nil) }
    }

    deinit {
        for i in 0..<count { pthread_mutex_destroy(mutexes + i) }
        mutexes.deallocate()
    }

    /// Grows to `newCount` mutexes; only while no thread holds or waits for any of them.
    func grow(to newCount: Int) {
        guard newCount > count else { return }
        let grown = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: newCount)
        for i in 0..<newCount { pthread_mutex_init(grown + i, nil) }
        for i in 0..<count { pthread_mutex_destroy(mutexes + i) }
        mutexes.deallocate()
        mutexes = grown
        count = newCount
    }

    @inline(__always) func lock(_ i: UInt32) { pthread_mutex_lock(mutexes + Int(i)) }
    @inline(__always) func unlock(_ i: UInt32) { pthread_mutex_unlock(mutexes + Int(i)) }
}

/// SplitMix64: a tiny seeded generator, so level assignment (hence the graph of a sequential
/// build) is reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
