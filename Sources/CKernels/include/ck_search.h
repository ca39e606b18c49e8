// CKernels, search family: the distance and selection loops of Sources/Search (exact k-NN
// and HNSW), AVX2+FMA or AVX-512 when the CPU has it (ck_cpu.h), portable C otherwise.
//
// Why C: at 128 dims a distance is ~16 FMAs, so the cost of reaching it matters as much as
// the arithmetic. OpenBLAS `sdot` pays a wrapper and argument checks per call; Swift SIMD
// compiles to SSE only for baseline x86-64. These kernels are AVX2 / AVX-512 and take a whole
// neighbour list per call (one call per expanded HNSW node, with the next vector prefetched).
#ifndef CK_SEARCH_H
#define CK_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Σ a[i]·b[i] over n floats.
float ck_dot(const float *a, const float *b, size_t n);

/// Σ (a[i] − b[i])² over n floats.
float ck_l2sq(const float *a, const float *b, size_t n);

/// Distances from `query` to `count` vectors gathered by index: vector j starts at
/// `base + nodes[j] · stride` bytes and has `dim` floats. out[j] = −query·x (squared_l2 == 0)
/// or ‖query − x‖² (squared_l2 != 0), so smaller is always closer. While one vector is
/// scored the next one's cache lines are prefetched (HNSW neighbours are random rows: every
/// vector is a cache miss, and overlapping them is most of the speed-up).
void ck_distances_gathered(int squared_l2, const float *query, const void *base, size_t stride,
                           const uint32_t *nodes, size_t count, size_t dim, float *out);

/// The first index j in [start, n) with `scale · scores[j] − offsets[j] >= threshold`
/// (offsets may be NULL: read as 0), or n when there is none. A vectorized threshold scan for
/// top-k selection: once a heap holds k items almost every score is below its worst key, so
/// the caller only visits the rare candidates. `scale` must be 1 or 2, so that the key is
/// computed with a single rounding (2·s is exact) and equals the caller's own `2 * s − o`
/// bit for bit whether or not the compiler fuses the multiply-add.
size_t ck_next_at_least(const float *scores, const float *offsets, float scale, size_t start,
                        size_t n, float threshold);

#ifdef __cplusplus
}
#endif
#endif
