/// The memory layout of an HNSW index, computed once from (dim, M) and never changed:
/// hnswlib's layout, with the vector first so it starts on a cache line.
///
/// Level 0 is one flat buffer of `count × bytesPerElement` bytes (64-byte aligned); element
/// `i` (internal id, insertion order) occupies `[i·bytesPerElement, (i+1)·bytesPerElement)`:
///
///     offset 0                 dim × Float32   the vector (normalized for cosine)
///     labelOffset              Int64           the external id
///     linkCountOffset          UInt32          number of level-0 neighbours (≤ maxM0)
///     linksOffset              maxM0 × UInt32  internal ids of the level-0 neighbours
///     (padding to a multiple of 64 bytes, so every element starts on a cache line)
///
/// Levels ≥ 1 (about 1/M of the elements reach level 1, 1/M² level 2, …) live in one small
/// allocation per element of level L ≥ 1: `L × wordsPerUpperLevel` UInt32 words, level l at
/// word `(l − 1) × wordsPerUpperLevel`: `[count][M neighbour ids]`.
struct HNSWLayout: Equatable {
    let dim: Int
    let m: Int
    let maxM0: Int

    init(dim: Int, m: Int) {
        self.dim = dim
        self.m = m
        maxM0 = 2 * m  // level 0 is the densest graph: hnswlib's and the paper's 2·M
    }

    var vectorBytes: Int { dim * MemoryLayout<Float>.size }
    var labelOffset: Int { (vectorBytes + 7) / 8 * 8 }
    var linkCountOffset: Int { labelOffset + 8 }
    var linksOffset: Int { linkCountOffset + 4 }
    var bytesPerElement: Int { (linksOffset + 4 * maxM0 + 63) / 64 * 64 }
    /// UInt32 words per upper level of one element: the count, then M neighbour ids.
    var wordsPerUpperLevel: Int { 1 + m }
}
