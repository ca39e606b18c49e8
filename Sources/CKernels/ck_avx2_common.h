// Private to the CKernels sources (not in include/, so not part of the Swift module): what
// every AVX2 and AVX-512 kernel file shares. Include it inside `#if defined(__x86_64__)` after
// <immintrin.h>.
#ifndef CK_AVX2_COMMON_H
#define CK_AVX2_COMMON_H

#include "ck_activation.h"

/// Functions compiled for AVX2+FMA whatever the target's baseline; called only after
/// ck_has_avx2_fma() said yes.
#define CK_AVX2 __attribute__((target("avx2,fma")))
#define CK_INLINE_AVX2 static inline __attribute__((always_inline, target("avx2,fma")))

/// The fused epilogue on 8 lanes (see ck_activation.h for the kinds).
CK_INLINE_AVX2 __m256 activate8(__m256 v, ck_activation a) {
    switch (a.kind) {
    case CK_ACT_RELU: return _mm256_max_ps(v, _mm256_setzero_ps());
    case CK_ACT_CLIP: return _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(a.lo)), _mm256_set1_ps(a.hi));
    case CK_ACT_LEAKY: {
        __m256 negative = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
        return _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_set1_ps(a.lo)), negative);
    }
    default: return v;
    }
}

/// Lane masks for the last, partial vector of a row: load at (8 − n) for n valid lanes.
static const int tail_masks[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/// Functions compiled for AVX-512 (F, VL, BW, DQ) plus AVX2+FMA; called only after
/// ck_has_avx512() said yes. Intel since Skylake-SP; the machines since 2026-12-01.
#define CK_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")))
#define CK_INLINE_AVX512 static inline __attribute__((always_inline, target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")))

/// The fused epilogue on 16 lanes (see ck_activation.h for the kinds).
CK_INLINE_AVX512 __m512 activate16(__m512 v, ck_activation a) {
    switch (a.kind) {
    case CK_ACT_RELU: return _mm512_max_ps(v, _mm512_setzero_ps());
    case CK_ACT_CLIP: return _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(a.lo)), _mm512_set1_ps(a.hi));
    case CK_ACT_LEAKY: {
        const __mmask16 negative = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
        return _mm512_mask_mul_ps(v, negative, v, _mm512_set1_ps(a.lo));
    }
    default: return v;
    }
}

/// The lanes of half h (0 or 1: items 16·h … 16·h + 15) of a 32-item pair of vectors that
/// hold one of its first `count` items (a pixel strip's columns, a channel block's rows).
static inline __mmask16 half_mask(int count, int h) {
    const int n = count - 16 * h;
    return n >= 16 ? 0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1u);
}

#endif
