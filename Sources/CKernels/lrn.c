// LRN across channels, beta = 0.75, column by column: a column is up to 256 positions of one
// image, walked through all channels while the squares of the window's channels stay in a
// ring, so every input is loaded and squared once and every output written once. The
// Swift loop it replaces (Normalization.swift, still used for other betas) summed the window's
// squares plane by plane into the output (size passes over each plane).
// t^−0.75 = 1 / (√t · √√t): two square roots and a division, exact to float rounding.
#include "ck_lrn.h"
#include "ck_cpu.h"

#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>
#include "ck_avx2_common.h"
#endif

/// Positions per column. Columns of 16 (two vectors, the squares in registers) ran at 0.39 ms
/// on Inception's 192×55² LRN with a warm cache but 0.82 ms in the network (1.0 ms with the
/// input evicted): 192 strided streams of 64 bytes defeat the prefetchers. 256 (1 KB runs per
/// plane, the ring of squares on the stack, 16 KB) measured 0.58 ms evicted, 128: 0.63,
/// 512: 0.64, 1024: 0.66.
enum { CK_LRN_COLUMN = 256, CK_LRN_RING = 16 };

long ck_lrn_columns(long images, long inner) { return images * ((inner + CK_LRN_COLUMN - 1) / CK_LRN_COLUMN); }

/// Positions [i0, i0 + n) of one image (x, y at the image's first plane), any n.
static void column_portable(const float *x, float *y, int channels, long inner, long i0, int n, int size, float scale,
                            float bias) {
    const int before = (size - 1) / 2, after = size - 1 - before;
    for (int c = 0; c < channels; c++) {
        const int lo = c - before < 0 ? 0 : c - before, hi = c + after < channels ? c + after : channels - 1;
        for (int i = 0; i < n; i++) {
            float sum = 0;
            for (int k = lo; k <= hi; k++) {
                const float v = x[(size_t)k * inner + i0 + i];
                sum += v * v;
            }
            const float t = bias + scale * sum, r = sqrtf(t);
            y[(size_t)c * inner + i0 + i] = x[(size_t)c * inner + i0 + i] / (r * sqrtf(r));
        }
    }
}

#if defined(__x86_64__)
/// Positions [i0, i0 + 8·V) of one image, V <= CK_LRN_COLUMN / 8.
static CK_AVX2 void column_avx2(const float *x, float *y, int channels, long inner, long i0, int V, int size, float scale,
                                float bias) {
    const int before = (size - 1) / 2, after = size - 1 - before;
    __m256 ring[CK_LRN_RING][CK_LRN_COLUMN / 8];  // squares of channel k at k % CK_LRN_RING
    const __m256 vscale = _mm256_set1_ps(scale), vbias = _mm256_set1_ps(bias);
    x += i0;
    y += i0;
    for (int k = 0; k < after && k < channels; k++)
        for (int j = 0; j < V; j++) {
            const __m256 a = _mm256_loadu_ps(x + (size_t)k * inner + 8 * j);
            ring[k % CK_LRN_RING][j] = _mm256_mul_ps(a, a);
        }
    for (int c = 0; c < channels; c++) {
        const int next = c + after;
        if (next < channels)
            for (int j = 0; j < V; j++) {
                const __m256 a = _mm256_loadu_ps(x + (size_t)next * inner + 8 * j);
                ring[next % CK_LRN_RING][j] = _mm256_mul_ps(a, a);
            }
        const int lo = c - before < 0 ? 0 : c - before, hi = next < channels ? next : channels - 1;
        const float *xc = x + (size_t)c * inner;
        float *yc = y + (size_t)c * inner;
        for (int j = 0; j < V; j++) {
            __m256 s = ring[lo % CK_LRN_RING][j];
            for (int k = lo + 1; k <= hi; k++) s = _mm256_add_ps(s, ring[k % CK_LRN_RING][j]);
            const __m256 r = _mm256_sqrt_ps(_mm256_add_ps(vbias, _mm256_mul_ps(vscale, s)));
            _mm256_storeu_ps(yc + 8 * j, _mm256_div_ps(_mm256_loadu_ps(xc + 8 * j), _mm256_mul_ps(r, _mm256_sqrt_ps(r))));
        }
    }
}
#endif

void ck_lrn_075(const float *x, float *y, int channels, long inner, int size, float alpha, float bias, long column_begin,
                long column_end) {
    const long per_image = (inner + CK_LRN_COLUMN - 1) / CK_LRN_COLUMN;
    const float scale = alpha / (float)size;
#if defined(__x86_64__)
    const int vector = ck_has_avx2_fma() && inner >= 8;
#endif
    for (long u = column_begin; u < column_end; u++) {
        const long image = u / per_image;
        long i0 = (u % per_image) * CK_LRN_COLUMN;
        const float *xi = x + (size_t)image * channels * inner;
        float *yi = y + (size_t)image * channels * inner;
#if defined(__x86_64__)
        if (vector) {
            // Whole vectors; a plane's last column may start earlier to end at the plane's
            // end, overlapping the one before (same values written twice).
            const long left = inner - i0;
            const int v = left >= CK_LRN_COLUMN ? CK_LRN_COLUMN / 8 : (int)((left + 7) / 8);
            if (i0 + 8 * v > inner && 8 * v > inner) {
                // A plane narrower than the column's vectors (i0 = 0, v >= 2): all but the
                // last vector, then one ending at the plane's end.
                column_avx2(xi, yi, channels, inner, 0, v - 1, size, scale, bias);
                column_avx2(xi, yi, channels, inner, inner - 8, 1, size, scale, bias);
                continue;
            }
            if (i0 + 8 * v > inner) i0 = inner - 8 * v;
            column_avx2(xi, yi, channels, inner, i0, v, size, scale, bias);
            continue;
        }
#endif
        const long n = inner - i0 < CK_LRN_COLUMN ? inner - i0 : CK_LRN_COLUMN;
        column_portable(xi, yi, channels, inner, i0, (int)n, size, scale, bias);
    }
}
