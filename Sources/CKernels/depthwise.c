// Depthwise convolution: each plane is copied once into a zero-padded scratch plane (so no
// output column needs a bounds check), then every output row is computed in vectors of 8
// columns with all kH·kW taps accumulated in registers, bias as the initial value and the
// activation applied on the store: one write per output, no accumulator plane, no second pass.
//
// The portable path skips kernel rows that fall entirely into the top/bottom padding; the
// AVX2 path reads those zero rows instead, so that several output rows can share one loop
// (independent accumulators; see block_avx2).
#include "ck_depthwise.h"
#include "ck_cpu.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#include "ck_avx2_common.h"
#endif

/// Slack floats after the padded plane: the last vector of a row computes up to 7 columns
/// past out_w, which at stride 2 read up to 16 floats past the last valid input.
enum { CK_DW_SLACK = 32 };

static int padded_w(const ck_window *g) { return g->in_w + g->pad_left + g->pad_right; }
static int padded_h(const ck_window *g) { return g->in_h + g->pad_top + g->pad_bottom; }

size_t ck_depthwise_scratch_floats(const ck_window *g) {
    return (size_t)padded_h(g) * (size_t)padded_w(g) + CK_DW_SLACK;
}

/// Kernel rows [*ky0, *ky1) of output row oy that read real input rows (not padding).
static inline void valid_kernel_rows(const ck_window *g, int oy, int *ky0, int *ky1) {
    int top = oy * g->stride_h - g->pad_top;  // input row of ky = 0
    int lo = 0, hi = g->kernel_h;
    if (top < 0) lo = (-top + g->dilation_h - 1) / g->dilation_h;
    int last = g->in_h - 1 - top;  // ky·dh must be <= last
    hi = last < 0 ? 0 : (last / g->dilation_h + 1 < hi ? last / g->dilation_h + 1 : hi);
    *ky0 = lo;
    *ky1 = hi > lo ? hi : lo;
}

static inline float activate(float v, ck_activation a) {
    switch (a.kind) {
    case CK_ACT_RELU: return v > 0 ? v : 0;
    case CK_ACT_CLIP: v = v > a.lo ? v : a.lo; return v < a.hi ? v : a.hi;
    case CK_ACT_LEAKY: return v < 0 ? v * a.lo : v;
    default: return v;
    }
}

/// One plane, plain C (any stride; the stride-1 loops auto-vectorize for the baseline ISA).
static void plane_portable(const float *pad, const float *wc, float bias, float *out, const ck_window *g,
                           ck_activation act) {
    const int pw = padded_w(g), ow = g->out_w, kw = g->kernel_w, sw = g->stride_w;
    for (int oy = 0; oy < g->out_h; oy++) {
        float *o = out + (size_t)oy * ow;
        for (int ox = 0; ox < ow; ox++) o[ox] = bias;
        int ky0, ky1;
        valid_kernel_rows(g, oy, &ky0, &ky1);
        for (int ky = ky0; ky < ky1; ky++) {
            const float *r = pad + (size_t)(oy * g->stride_h + ky * g->dilation_h) * pw;
            for (int kx = 0; kx < kw; kx++) {
                const float wv = wc[ky * kw + kx];
                const float *p = r + kx * g->dilation_w;
                if (sw == 1) {
                    for (int ox = 0; ox < ow; ox++) o[ox] += wv * p[ox];
                } else {
                    for (int ox = 0; ox < ow; ox++) o[ox] += wv * p[ox * sw];
                }
            }
        }
        if (act.kind != CK_ACT_NONE)
            for (int ox = 0; ox < ow; ox++) o[ox] = activate(o[ox], act);
    }
}

#if defined(__x86_64__)

/// 8 input floats at stride S (1 or 2) from p: p[0], p[S], ..., p[7S]. Stride 2 loads 16
/// floats and keeps the even ones (shuffle within lanes, then put the 64-bit halves in order).
CK_INLINE_AVX2 __m256 load_strided(const float *p, const int S) {
    if (S == 1) return _mm256_loadu_ps(p);
    __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
    __m256 even = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));  // a0 a2 b0 b2 | a4 a6 b4 b6
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), _MM_SHUFFLE(3, 1, 2, 0)));
}



/// R output rows × V vectors of 8 columns starting at (oy, ox), at horizontal stride S, all
/// kH·kW taps (rows in the top/bottom padding read zeros). R·V independent accumulators: one
/// chain of dependent FMAs (4-cycle latency) would leave the FMA units idle 7/8 of the time.
/// The last vector may be partial: `last` lanes (1…8) are stored.
CK_INLINE_AVX2 void block_avx2(const float *pad, int pw, const float *wc, __m256 vb, float *out, int ow, int oy, int ox,
                               int sh, int kh, int kw, int dh, int dw, ck_activation act, int last, const int R,
                               const int V, const int S) {
    __m256 acc[8][4];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) acc[r][v] = vb;
    for (int ky = 0; ky < kh; ky++) {
        const float *row = pad + (size_t)(oy * sh + ky * dh) * pw + ox * S;
        for (int kx = 0; kx < kw; kx++) {
            const __m256 wv = _mm256_broadcast_ss(wc + ky * kw + kx);
            const float *p = row + kx * dw;
            for (int r = 0; r < R; r++)
                for (int v = 0; v < V; v++)
                    acc[r][v] = _mm256_fmadd_ps(wv, load_strided(p + (size_t)r * sh * pw + v * 8 * S, S), acc[r][v]);
        }
    }
    for (int r = 0; r < R; r++) {
        float *o = out + (size_t)(oy + r) * ow + ox;
        for (int v = 0; v < V - 1; v++) _mm256_storeu_ps(o + 8 * v, activate8(acc[r][v], act));
        __m256 a = activate8(acc[r][V - 1], act);
        if (last == 8) {
            _mm256_storeu_ps(o + 8 * (V - 1), a);
        } else {
            __m256i mask = _mm256_loadu_si256((const __m256i *)(tail_masks + 8 - last));
            _mm256_maskstore_ps(o + 8 * (V - 1), mask, a);
        }
    }
}

/// One plane at horizontal stride S: columns in blocks of 32 (2 rows at a time, 8
/// accumulators), the rest in vectors of 8 (up to 8 rows at a time: a 7×7 plane is one
/// block), the last one stored under a mask.
CK_INLINE_AVX2 void plane_avx2(const float *pad, const float *wc, float bias, float *out, const ck_window *g,
                               ck_activation act, const int S) {
    const int pw = padded_w(g), ow = g->out_w, oh = g->out_h;
    const int kh = g->kernel_h, kw = g->kernel_w, dh = g->dilation_h, dw = g->dilation_w, sh = g->stride_h;
    const __m256 vb = _mm256_set1_ps(bias);
    const int wide = ow / 32 * 32;  // columns covered by 32-wide blocks
    int oy = 0;
    for (; oy + 2 <= oh; oy += 2)
        for (int ox = 0; ox < wide; ox += 32) block_avx2(pad, pw, wc, vb, out, ow, oy, ox, sh, kh, kw, dh, dw, act, 8, 2, 4, S);
    for (; oy < oh; oy++)
        for (int ox = 0; ox < wide; ox += 32) block_avx2(pad, pw, wc, vb, out, ow, oy, ox, sh, kh, kw, dh, dw, act, 8, 1, 4, S);
    for (int ox = wide; ox < ow; ox += 8) {
        const int last = ow - ox < 8 ? ow - ox : 8;
        for (oy = 0; oy < oh;) {
            const int rows = oh - oy < 8 ? oh - oy : 8;
#define CK_DW_ROWS(R) \
    case R: block_avx2(pad, pw, wc, vb, out, ow, oy, ox, sh, kh, kw, dh, dw, act, last, R, 1, S); break;
            switch (rows) {
                CK_DW_ROWS(1) CK_DW_ROWS(2) CK_DW_ROWS(3) CK_DW_ROWS(4)
                CK_DW_ROWS(5) CK_DW_ROWS(6) CK_DW_ROWS(7) CK_DW_ROWS(8)
            }
#undef CK_DW_ROWS
            oy += rows;
        }
    }
}

static CK_AVX2 void plane_avx2_s1(const float *pad, const float *wc, float bias, float *out, const ck_window *g,
                                  ck_activation act) {
    plane_avx2(pad, wc, bias, out, g, act, 1);
}

static CK_AVX2 void plane_avx2_s2(const float *pad, const float *wc, float bias, float *out, const ck_window *g,
                                  ck_activation act) {
    plane_avx2(pad, wc, bias, out, g, act, 2);
}
#endif

void ck_depthwise_conv(const float *x, const float *w, const float *bias, float *y, long plane_begin, long plane_end,
                       int channels, const ck_window *g, ck_activation act, float *scratch) {
    const int pw = padded_w(g);
    const size_t in_plane = (size_t)g->in_h * g->in_w, out_plane = (size_t)g->out_h * g->out_w;
    const int taps = g->kernel_h * g->kernel_w;
    // The padding columns and rows stay zero; only the interior is overwritten per plane.
    memset(scratch, 0, ck_depthwise_scratch_floats(g) * sizeof(float));
    float *interior = scratch + (size_t)g->pad_top * pw + g->pad_left;
#if defined(__x86_64__)
    const int vector = ck_has_avx2_fma() && (g->stride_w == 1 || g->stride_w == 2);
#endif
    for (long p = plane_begin; p < plane_end; p++) {
        const int c = (int)(p % channels);
        const float *src = x + (size_t)p * in_plane;
        for (int iy = 0; iy < g->in_h; iy++)
            memcpy(interior + (size_t)iy * pw, src + (size_t)iy * g->in_w, (size_t)g->in_w * sizeof(float));
        const float *wc = w + (size_t)c * taps;
        float *dst = y + (size_t)p * out_plane;
#if defined(__x86_64__)
        if (vector) {
            if (g->stride_w == 1)
                plane_avx2_s1(scratch, wc, bias[c], dst, g, act);
            else
                plane_avx2_s2(scratch, wc, bias[c], dst, g, act);
            continue;
        }
#endif
        plane_portable(scratch, wc, bias[c], dst, g, act);
    }
}
