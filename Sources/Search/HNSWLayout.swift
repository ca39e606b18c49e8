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
    /// Level-0 links per element: 2·M, the paper's and hnswlib's choice (level 0 holds every
    /// element and needs the denser graph).
    let maxM0: Int
    // Byte offsets inside a level-0 element, and its size (stored, not computed: they are
    // read on every distance computation).
    let vectorBytes: Int
    let labelOffset: Int
    let linkCountOffset: Int
    let linksOffset: Int
    let bytesPerElement: Int
    /// UInt32 words per upper level of one element: the count, then M neighbour ids.
    let wordsPerUpperLevel: Int

    init(dim: Int, m: Int) {
        self.dim = dim
        self.m = m
        maxM0 = 2 * m
        vectorBytes = dim * MemoryLayout<Float>.size
        labelOffset = (vectorBytes + 7) / 8 * 8
        linkCountOffset = labelOffset + 8
        linksOffset = linkCountOffset + 4
        bytesPerElement = (linksOffset + 4 * maxM0 + 63) / 64 * 64
        wordsPerUpperLevel = 1 + m
    }
}
