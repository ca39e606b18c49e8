// Max pooling: each plane is copied into a scratch plane padded with −∞ (so no window needs a
// bounds check), then output rows are computed 8 columns at a time (max over the kH·kW taps,
// stride 2 by deinterleaving two loads as in depthwise.c), the last vector stored under a mask.
#include "ck_pool.h"
#include "ck_cpu.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#include "ck_avx2_common.h"
#endif

enum { CK_POOL_SLACK = 32 };

/// Padded extents: the explicit padding, or more when ceil_mode windows reach further.
static int pool_padded_h(const ck_window *g) {
    int need = (g->out_h - 1) * g->stride_h + (g->kernel_h - 1) * g->dilation_h + 1;
    int padded = g->in_h + g->pad_top + g->pad_bottom;
    return need > padded ? need : padded;
}
static int pool_padded_w(const ck_window *g) {
    int need = (g->out_w - 1) * g->stride_w + (g->kernel_w - 1) * g->dilation_w + 1;
    int padded = g->in_w + g->pad_left + g->pad_right;
    return need > padded ? need : padded;
}

size_t ck_max_pool_scratch_floats(const ck_window *g) {
    return (size_t)pool_padded_h(g) * (size_t)pool_padded_w(g) + CK_POOL_SLACK;
}

static void plane_portable(const float *pad, float *out, const ck_window *g) {
    const int pw = pool_padded_w(g);
    for (int oy = 0; oy < g->out_h; oy++)
        for (int ox = 0; ox < g->out_w; ox++) {
            float best = -INFINITY;
            for (int ky = 0; ky < g->kernel_h; ky++) {
                const float *r = pad + (size_t)(oy * g->stride_h + ky * g->dilation_h) * pw + ox * g->stride_w;
                for (int kx = 0; kx < g->kernel_w; kx++) {
                    const float v = r[kx * g->dilation_w];
                    best = v > best ? v : best;
                }
            }
            out[(size_t)oy * g->out_w + ox] = best;
        }
}

#if defined(__x86_64__)

CK_INLINE_AVX2 __m256 load_strided(const float *p, const int S) {
    if (S == 1) return _mm256_loadu_ps(p);
    __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
    __m256 even = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), _MM_SHUFFLE(3, 1, 2, 0)));
}


CK_INLINE_AVX2 void plane_avx2(const float *pad, float *out, const ck_window *g, const int S) {
    const int pw = pool_padded_w(g), ow = g->out_w, kh = g->kernel_h, kw = g->kernel_w;
    const int sh = g->stride_h, dh = g->dilation_h, dw = g->dilation_w;
    for (int oy = 0; oy < g->out_h; oy++) {
        float *o = out + (size_t)oy * ow;
        const float *r0 = pad + (size_t)(oy * sh) * pw;
        for (int ox = 0; ox < ow; ox += 8) {
            __m256 best = _mm256_set1_ps(-INFINITY);
            for (int ky = 0; ky < kh; ky++) {
                const float *r = r0 + (size_t)(ky * dh) * pw + ox * S;
                for (int kx = 0; kx < kw; kx++) best = _mm256_max_ps(best, load_strided(r + kx * dw, S));
            }
            if (ox + 8 <= ow)
                _mm256_storeu_ps(o + ox, best);
            else
                _mm256_maskstore_ps(o + ox, _mm256_loadu_si256((const __m256i *)(tail_masks + 8 - (ow - ox))), best);
        }
    }
}

static __attribute__((target("avx2,fma"))) void plane_avx2_s1(const float *pad, float *out, const ck_window *g) {
    plane_avx2(pad, out, g, 1);
}
static __attribute__((target("avx2,fma"))) void plane_avx2_s2(const float *pad, float *out, const ck_window *g) {
    plane_avx2(pad, out, g, 2);
}
#endif

void ck_max_pool(const float *x, float *y, long plane_begin, long plane_end, const ck_window *g, float *scratch) {
    const int pw = pool_padded_w(g);
    const size_t total = ck_max_pool_scratch_floats(g);
    // The −∞ border stays; only the interior is overwritten per plane.
    for (size_t i = 0; i < total; i++) scratch[i] = -INFINITY;
    float *interior = scratch + (size_t)g->pad_top * pw + g->pad_left;
    const size_t in_plane = (size_t)g->in_h * g->in_w, out_plane = (size_t)g->out_h * g->out_w;
#if defined(__x86_64__)
    const int vector = ck_has_avx2_fma() && (g->stride_w == 1 || g->stride_w == 2);
#endif
    for (long p = plane_begin; p < plane_end; p++) {
        const float *src = x + (size_t)p * in_plane;
        for (int iy = 0; iy < g->in_h; iy++)
            memcpy(interior + (size_t)iy * pw, src + (size_t)iy * g->in_w, (size_t)g->in_w * sizeof(float));
        float *dst = y + (size_t)p * out_plane;
#if defined(__x86_64__)
        if (vector) {
            if (g->stride_w == 1)
                plane_avx2_s1(scratch, dst, g);
            else
                plane_avx2_s2(scratch, dst, g);
            continue;
        }
#endif
        plane_portable(scratch, dst, g);
    }
}
