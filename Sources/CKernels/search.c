#include "ck_search.h"
#include "ck_cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CK_X86 1
#endif

// How many vectors ahead `ck_distances_gathered` prefetches. One vector of 128 floats is
// 8 cache lines and ~10 ns of FMAs, a miss to memory ~100 ns: a few vectors in flight hide
// most of it without flooding the core's ~20 outstanding-miss slots.
#define CK_PREFETCH_AHEAD 3

// MARK: portable

static float dot_portable(const float *a, const float *b, size_t n) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

static float l2sq_portable(const float *a, const float *b, size_t n) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float d0 = a[i] - b[i], d1 = a[i + 1] - b[i + 1], d2 = a[i + 2] - b[i + 2], d3 = a[i + 3] - b[i + 3];
        s0 += d0 * d0;
        s1 += d1 * d1;
        s2 += d2 * d2;
        s3 += d3 * d3;
    }
    for (; i < n; i++) {
        float d = a[i] - b[i];
        s0 += d * d;
    }
    return (s0 + s1) + (s2 + s3);
}

static size_t next_at_least_portable(const float *scores, const float *offsets, float scale, size_t start,
                                     size_t n, float threshold) {
    if (offsets == NULL) {
        for (size_t j = start; j < n; j++)
            if (scores[j] >= threshold) return j;
    } else {
        for (size_t j = start; j < n; j++)
            if (scale * scores[j] - offsets[j] >= threshold) return j;
    }
    return n;
}

// MARK: AVX2 + FMA

#ifdef CK_X86
__attribute__((target("avx2,fma"))) static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) static inline float dot_avx2(const float *a, const float *b, size_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

__attribute__((target("avx2,fma"))) static inline float l2sq_avx2(const float *a, const float *b, size_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
        __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
        acc0 = _mm256_fmadd_ps(d0, d0, acc0);
        acc1 = _mm256_fmadd_ps(d1, d1, acc1);
        acc2 = _mm256_fmadd_ps(d2, d2, acc2);
        acc3 = _mm256_fmadd_ps(d3, d3, acc3);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        acc0 = _mm256_fmadd_ps(d, d, acc0);
    }
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; i < n; i++) {
        float d = a[i] - b[i];
        s += d * d;
    }
    return s;
}

static inline void prefetch_vector(const char *p, size_t bytes) {
    for (size_t off = 0; off < bytes; off += 64) _mm_prefetch(p + off, _MM_HINT_T0);
}

__attribute__((target("avx2,fma"))) static void distances_gathered_avx2(
    int squared_l2, const float *query, const char *base, size_t stride, const uint32_t *nodes, size_t count,
    size_t dim, float *out) {
    size_t bytes = dim * sizeof(float);
    for (size_t j = 0; j < count && j < CK_PREFETCH_AHEAD; j++) prefetch_vector(base + (size_t)nodes[j] * stride, bytes);
    for (size_t j = 0; j < count; j++) {
        if (j + CK_PREFETCH_AHEAD < count)
            prefetch_vector(base + (size_t)nodes[j + CK_PREFETCH_AHEAD] * stride, bytes);
        const float *x = (const float *)(base + (size_t)nodes[j] * stride);
        out[j] = squared_l2 ? l2sq_avx2(query, x, dim) : -dot_avx2(query, x, dim);
    }
}

// MARK: AVX-512
//
// The same sums over zmm: four accumulators of 16 floats, 64 floats an iteration, the tail
// (dim mod 16: 0 for the usual 128…4096-d codes) by one masked load: half the instructions
// and loads of the ymm loop. Measured on the AVX-512 EPYC (Zen 4, whose zmm FMA is two ymm
// ones, so the gain is in issue slots, not FLOPs), CNNCODES_ISA=avx2 against the default,
// 100,000 × 1280 codes, two rounds each: HNSW build 75.0 / 69.1 → 65.5 / 66.7 s, queries
// one at a time +5 %, batched +2 % (memory-bound: a random 5 KB code arrives at ~6.5 GB/s
// however it is summed; in a C harness 32 gathered rows hot in L2 took 0.8–0.9 of the time).
// Not bit-identical to the AVX2 sums (another association); the graph it builds may differ in
// ties (recall@10 at ef=24: 0.9505 / 0.9508 → 0.9507 / 0.9507).

#define CK_SEARCH_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx2,fma")))

CK_SEARCH_AVX512 static inline float dot_avx512(const float *a, const float *b, size_t n) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
        acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), acc2);
        acc3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), acc3);
    }
    for (; i + 16 <= n; i += 16) acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

CK_SEARCH_AVX512 static inline float l2sq_avx512(const float *a, const float *b, size_t n) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        __m512 d2 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
        __m512 d3 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));
        acc0 = _mm512_fmadd_ps(d0, d0, acc0);
        acc1 = _mm512_fmadd_ps(d1, d1, acc1);
        acc2 = _mm512_fmadd_ps(d2, d2, acc2);
        acc3 = _mm512_fmadd_ps(d3, d3, acc3);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        acc0 = _mm512_fmadd_ps(d, d, acc0);
    }
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
        acc1 = _mm512_fmadd_ps(d, d, acc1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

CK_SEARCH_AVX512 static void distances_gathered_avx512(
    int squared_l2, const float *query, const char *base, size_t stride, const uint32_t *nodes, size_t count,
    size_t dim, float *out) {
    size_t bytes = dim * sizeof(float);
    for (size_t j = 0; j < count && j < CK_PREFETCH_AHEAD; j++) prefetch_vector(base + (size_t)nodes[j] * stride, bytes);
    for (size_t j = 0; j < count; j++) {
        if (j + CK_PREFETCH_AHEAD < count)
            prefetch_vector(base + (size_t)nodes[j + CK_PREFETCH_AHEAD] * stride, bytes);
        const float *x = (const float *)(base + (size_t)nodes[j] * stride);
        out[j] = squared_l2 ? l2sq_avx512(query, x, dim) : -dot_avx512(query, x, dim);
    }
}

__attribute__((target("avx2,fma"))) static size_t next_at_least_avx2(
    const float *scores, const float *offsets, float scale, size_t start, size_t n, float threshold) {
    const __m256 t = _mm256_set1_ps(threshold);
    size_t j = start;
    if (offsets == NULL) {
        for (; j + 32 <= n; j += 32) {
            __m256 m0 = _mm256_cmp_ps(_mm256_loadu_ps(scores + j), t, _CMP_GE_OQ);
            __m256 m1 = _mm256_cmp_ps(_mm256_loadu_ps(scores + j + 8), t, _CMP_GE_OQ);
            __m256 m2 = _mm256_cmp_ps(_mm256_loadu_ps(scores + j + 16), t, _CMP_GE_OQ);
            __m256 m3 = _mm256_cmp_ps(_mm256_loadu_ps(scores + j + 24), t, _CMP_GE_OQ);
            if (_mm256_movemask_ps(_mm256_or_ps(_mm256_or_ps(m0, m1), _mm256_or_ps(m2, m3))) != 0) break;
        }
    } else {
        const __m256 s = _mm256_set1_ps(scale);
        for (; j + 16 <= n; j += 16) {
            // scale·x − o with one rounding (fmsub); equal to the scalar key since scale ∈ {1, 2}.
            __m256 k0 = _mm256_fmsub_ps(_mm256_loadu_ps(scores + j), s, _mm256_loadu_ps(offsets + j));
            __m256 k1 = _mm256_fmsub_ps(_mm256_loadu_ps(scores + j + 8), s, _mm256_loadu_ps(offsets + j + 8));
            __m256 m = _mm256_or_ps(_mm256_cmp_ps(k0, t, _CMP_GE_OQ), _mm256_cmp_ps(k1, t, _CMP_GE_OQ));
            if (_mm256_movemask_ps(m) != 0) break;
        }
    }
    // The block holding the first hit (or the tail): exact scalar check.
    return next_at_least_portable(scores, offsets, scale, j, n, threshold);
}
#endif

// MARK: dispatch

float ck_dot(const float *a, const float *b, size_t n) {
#ifdef CK_X86
    if (ck_has_avx512()) return dot_avx512(a, b, n);
    if (ck_has_avx2_fma()) return dot_avx2(a, b, n);
#endif
    return dot_portable(a, b, n);
}

float ck_l2sq(const float *a, const float *b, size_t n) {
#ifdef CK_X86
    if (ck_has_avx512()) return l2sq_avx512(a, b, n);
    if (ck_has_avx2_fma()) return l2sq_avx2(a, b, n);
#endif
    return l2sq_portable(a, b, n);
}

void ck_distances_gathered(int squared_l2, const float *query, const void *base, size_t stride,
                           const uint32_t *nodes, size_t count, size_t dim, float *out) {
#ifdef CK_X86
    if (ck_has_avx512()) {
        distances_gathered_avx512(squared_l2, query, (const char *)base, stride, nodes, count, dim, out);
        return;
    }
    if (ck_has_avx2_fma()) {
        distances_gathered_avx2(squared_l2, query, (const char *)base, stride, nodes, count, dim, out);
        return;
    }
#endif
    for (size_t j = 0; j < count; j++) {
        const float *x = (const float *)((const char *)base + (size_t)nodes[j] * stride);
        out[j] = squared_l2 ? l2sq_portable(query, x, dim) : -dot_portable(query, x, dim);
    }
}

size_t ck_next_at_least(const float *scores, const float *offsets, float scale, size_t start, size_t n,
                        float threshold) {
#ifdef CK_X86
    if (ck_has_avx2_fma()) return next_at_least_avx2(scores, offsets, scale, start, n, threshold);
#endif
    return next_at_least_portable(scores, offsets, scale, start, n, threshold);
}
