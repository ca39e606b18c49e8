// Depthwise convolution, two AVX2 paths and a portable one.
//
// Eight channels at once (whenever 8 consecutive channels of one image are in the call's plane
// range): the 8 planes are transposed to pixel-major order (one vector = one pixel of 8
// channels) with zero padding, so weights are vectors and every stride and dilation is a plain
// address step (no shuffles at stride 2). Small planes are transposed whole and their output
// pixels taken 8 at a time in flattened order whatever the row length (group8_avx2: no lanes
// wasted on 7- or 14-wide rows); larger ones stream through a ring of transposed rows
// (group8_rows_avx2). Measured on EfficientNet-Lite0's depthwise layers (1 thread, Zen 4, kernel
// benchmark) against the per-plane path alone: 3.07 → 1.6 ms in total, e.g. 7×7 planes 5×5
// 0.14 → 0.060 ms, stride 2 112 → 56 0.41 → 0.20 ms. Tried on the same benchmark and rejected:
// per plane at stride 2 with each input row split once into even/odd columns (112 → 56
// 0.20 → 0.34 ms, 56 → 28 0.15 → 0.49 ms); per plane at 3×3 stride 1 from a ring of padded rows,
// two output rows sharing loads (112×112 −8 %, 56×56 +19 %, 14×14 ×2); output rows in segments
// of 7–8 pixels sharing loads across kernel columns (14×14 5×5 0.123 → 0.137 ms); 12 pixels per
// block instead of 8 (no change); software prefetch of the rows ahead (no consistent gain).
//
// One plane at a time (the channels left over after groups of 8; planes of fewer than 8
// pixels; large planes with rows under 8 pixels or more than 16 kernel rows): each plane
// is copied once into a zero-padded scratch plane (so no output column needs a bounds check),
// then every output row is computed in vectors of 8 columns with all kH·kW taps accumulated in
// registers, bias as the initial value and the activation applied on the store.
//
// The portable path skips kernel rows that fall entirely into the top/bottom padding; the
// AVX2 plane path reads those zero rows instead, so that several output rows can share one loop
// (independent accumulators; see block_avx2).
#include "ck_depthwise.h"
#include "ck_cpu.h"

#include <stdint.h>
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

static size_t plane_scratch_floats(const ck_window *g) { return (size_t)padded_h(g) * (size_t)padded_w(g) + CK_DW_SLACK; }

/// Padded pixels up to which the 8-channel path transposes whole planes (group8_avx2; larger
/// ones stream rows, group8_rows_avx2). Measured (EfficientNet-Lite0, 1 thread): 28×28 planes
/// 5×5 pad 2 (1024 padded pixels) 0.175 ms whole vs 0.203 ms by rows (a 28-wide row wastes 4
/// of its 32 lanes; flattened blocks waste none); 56×56 (3364) 0.222 vs 0.194 ms, 112×112
/// stride 2 0.281 vs 0.199 ms (a whole block of 400 KB no longer fits L1 or stays in L2).
enum { CK_DW_BLOCK_MAX_PIXELS = 2048 };

typedef enum { GROUP_NONE, GROUP_BLOCK, GROUP_ROWS } group_mode;

/// Channels per pixel of the widest group path (AVX-512: 16; AVX2: 8).
enum { GROUP_LANES_MAX = 16 };

/// How the 8-channel path runs for this window (GROUP_NONE: one plane at a time). Both group
/// paths need 8 pixels in and out (their last vector overlaps the previous one); the row path
/// needs rows of 8 and at most 16 kernel rows (its row pointer array).
static group_mode group_mode_of(const ck_window *g) {
    if (g->in_h * g->in_w < 8 || g->out_h * g->out_w < 8) return GROUP_NONE;
    if ((long)padded_h(g) * padded_w(g) <= CK_DW_BLOCK_MAX_PIXELS) return GROUP_BLOCK;
    if (g->in_w >= 8 && g->out_w >= 8 && g->kernel_h <= 16) return GROUP_ROWS;
    return GROUP_NONE;
}

/// Input rows one output row reads: the ring of group8_rows_avx2.
static int ring_rows(const ck_window *g) { return (g->kernel_h - 1) * g->dilation_h + 1; }

/// rows[ky] for the output row whose kernel row 0 reads input row `top`: that input row's
/// place in the ring (`row_floats` floats a row), or `zero` in the top/bottom padding. Shared
/// by the 8- and 16-channel row paths.
static inline void ring_row_pointers(const ck_window *g, int top, const float *ring, int ring_rows, size_t row_floats,
                                     const float *zero, const float **rows) {
    for (int ky = 0; ky < g->kernel_h; ky++) {
        const int iy = top + ky * g->dilation_h;
        rows[ky] = iy < 0 || iy >= g->in_h ? zero : ring + (size_t)(iy % ring_rows) * row_floats;
    }
}

/// The 8-channel path's scratch after the plane path's (32-byte aligned: +8 floats), then the
/// weights as tap vectors; GROUP_BLOCK: the transposed padded block (8 floats per padded
/// pixel), the tap offsets and the input and output pixel offset tables (ints, counted as
/// floats); GROUP_ROWS: the ring of padded rows and a zero row.
static size_t group_scratch_floats(const ck_window *g) {
    const size_t taps = (size_t)g->kernel_h * g->kernel_w, pw = (size_t)padded_w(g);
    // Sized for GROUP_LANES_MAX channels per pixel (the AVX-512 path's 16), 64-byte aligned.
    switch (group_mode_of(g)) {
    case GROUP_BLOCK:
        return 16 + taps * GROUP_LANES_MAX + (size_t)padded_h(g) * pw * GROUP_LANES_MAX + taps + (size_t)g->in_h * g->in_w +
               (size_t)g->out_h * g->out_w;
    case GROUP_ROWS: return 16 + taps * GROUP_LANES_MAX + ((size_t)ring_rows(g) + 1) * pw * GROUP_LANES_MAX;
    default: return 0;
    }
}

size_t ck_depthwise_scratch_floats(const ck_window *g) { return plane_scratch_floats(g) + group_scratch_floats(g); }

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

/// 8×8 transpose: on return r[j] lane i holds what r[i] lane j held.
CK_INLINE_AVX2 void transpose8(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)), u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)), u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0)), u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0)), u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/// Weights of 8 channels ([8][taps] from ONNX's [C][1][kH][kW]) to tap vectors w8[taps][8]:
/// 8 taps per transpose, the last block overlapping (scalar gathers cost 10 % of the kernel on
/// 7×7 planes).
CK_INLINE_AVX2 void transpose_weights(const float *w, int taps, float *w8) {
    if (taps >= 8) {
        for (int t = 0; t < taps; t += 8) {
            if (t + 8 > taps) t = taps - 8;
            __m256 r[8];
            for (int j = 0; j < 8; j++) r[j] = _mm256_loadu_ps(w + (size_t)j * taps + t);
            transpose8(r);
            for (int n = 0; n < 8; n++) _mm256_store_ps(w8 + (t + n) * 8, r[n]);
        }
    } else {
        for (int t = 0; t < taps; t++)
            for (int j = 0; j < 8; j++) w8[t * 8 + j] = w[(size_t)j * taps + t];
    }
}

/// All taps of 8 output pixels (tap (0, 0) of pixel n at p[n]) through table offsets.
CK_INLINE_AVX2 void block_taps_any(const float *const p[8], const float *w8, int taps, const int *tap_off, __m256 vb,
                                   __m256 a[8]) {
    __m256 a0 = vb, a1 = vb, a2 = vb, a3 = vb, a4 = vb, a5 = vb, a6 = vb, a7 = vb;
    for (int t = 0; t < taps; t++) {
        const __m256 wv = _mm256_load_ps(w8 + t * 8);
        const int o = tap_off[t];
        a0 = _mm256_fmadd_ps(wv, _mm256_load_ps(p[0] + o), a0);
        a1 = _mm256_fmadd_ps(wv, _mm256_load_ps(p[1] + o), a1);
        a2 = _mm256_fmadd_ps(wv, _mm256_load_ps(p[2] + o), a2);
        a3 = _mm256_fmadd_ps(wv, _mm256_load_ps(p[3] + o), a3);
        a4 = _mm256_fmadd_ps(wv, _mm256_load_ps(p[4] + o), a4);
        a5 = _mm256_fmadd_ps(wv, _mm256_load_ps(p[5] + o), a5);
        a6 = _mm256_fmadd_ps(wv, _mm256_load_ps(p[6] + o), a6);
        a7 = _mm256_fmadd_ps(wv, _mm256_load_ps(p[7] + o), a7);
    }
    a[0] = a0, a[1] = a1, a[2] = a2, a[3] = a3, a[4] = a4, a[5] = a5, a[6] = a6, a[7] = a7;
}

/// block_taps_any for KW kernel columns at dilation 1 known at compile time: the columns are
/// unrolled with immediate offsets, rows `row_floats` apart (no offset table load per tap).
CK_INLINE_AVX2 void block_taps(const float *const p[8], const float *w8, int kh, const int KW, size_t row_floats,
                               __m256 vb, __m256 a[8]) {
    __m256 a0 = vb, a1 = vb, a2 = vb, a3 = vb, a4 = vb, a5 = vb, a6 = vb, a7 = vb;
    for (int ky = 0; ky < kh; ky++) {
        const size_t o = ky * row_floats;
        for (int kx = 0; kx < KW; kx++) {
            const __m256 wv = _mm256_load_ps(w8 + (ky * KW + kx) * 8);
            a0 = _mm256_fmadd_ps(wv, _mm256_load_ps(p[0] + o + kx * 8), a0);
            a1 = _mm256_fmadd_ps(wv, _mm256_load_ps(p[1] + o + kx * 8), a1);
            a2 = _mm256_fmadd_ps(wv, _mm256_load_ps(p[2] + o + kx * 8), a2);
            a3 = _mm256_fmadd_ps(wv, _mm256_load_ps(p[3] + o + kx * 8), a3);
            a4 = _mm256_fmadd_ps(wv, _mm256_load_ps(p[4] + o + kx * 8), a4);
            a5 = _mm256_fmadd_ps(wv, _mm256_load_ps(p[5] + o + kx * 8), a5);
            a6 = _mm256_fmadd_ps(wv, _mm256_load_ps(p[6] + o + kx * 8), a6);
            a7 = _mm256_fmadd_ps(wv, _mm256_load_ps(p[7] + o + kx * 8), a7);
        }
    }
    a[0] = a0, a[1] = a1, a[2] = a2, a[3] = a3, a[4] = a4, a[5] = a5, a[6] = a6, a[7] = a7;
}

/// Eight planes (channels c … c+7 of one image, c = the first) at once, transposed: `xs` is the
/// zero-padded input in pixel-major order (padded_h × padded_w pixels of 8 channels, one vector
/// each), so one vector is one pixel of all 8 channels, weights are vectors (tap-major, `w8`),
/// and any stride or dilation is a plain address step. Output pixels are taken in flattened
/// order (q = oy·out_w + ox) in blocks of 8, whatever the row length, so no lanes are wasted on
/// short rows; each block's 8×8 accumulators are transposed back and stored as 8 consecutive
/// floats of each plane. Offsets (floats into xs) come from tables built once per call:
/// `in_off[q]` = where input pixel q goes, `out_off[q]` = tap (0, 0) of output pixel q,
/// `tap_off[t]` = tap t relative to tap (0, 0). Computing them per pixel with a wrap test at
/// the row end cost 2× on the whole kernel (the wrap branch mispredicts on 28- and 14-wide rows).
static CK_AVX2 void group8_avx2(const float *x, size_t in_plane, const float *w, const float *bias, float *y,
                                size_t out_plane, const ck_window *g, ck_activation act, float *xs, float *w8,
                                const int *tap_off, const int *in_off, const int *out_off) {
    const int n_in = (int)in_plane, n_out = (int)out_plane, kh = g->kernel_h, taps = kh * g->kernel_w;
    const int kw_fixed = g->dilation_w == 1 ? g->kernel_w : 0;
    const size_t row_floats = (size_t)g->dilation_h * padded_w(g) * 8;
    // Transpose the input in, 8 pixels of 8 channels per step. A plane whose size is not a
    // multiple of 8 ends with a block overlapping the previous one (rewriting the same values)
    // instead of a masked or scalar tail. Needs n_in >= 8 (and n_out >= 8 below).
    for (int q = 0; q < n_in; q += 8) {
        if (q + 8 > n_in) q = n_in - 8;
        __m256 r[8];
        for (int j = 0; j < 8; j++) r[j] = _mm256_loadu_ps(x + (size_t)j * in_plane + q);
        transpose8(r);
        for (int n = 0; n < 8; n++) _mm256_store_ps(xs + in_off[q + n], r[n]);
    }
    transpose_weights(w, taps, w8);
    const __m256 vb = _mm256_loadu_ps(bias);
    for (int q = 0; q < n_out; q += 8) {
        if (q + 8 > n_out) q = n_out - 8;  // overlapping last block, as for the input
        const float *p[8];
        for (int n = 0; n < 8; n++) p[n] = xs + out_off[q + n];
        __m256 a[8];
        if (kw_fixed == 3)
            block_taps(p, w8, kh, 3, row_floats, vb, a);
        else if (kw_fixed == 5)
            block_taps(p, w8, kh, 5, row_floats, vb, a);
        else
            block_taps_any(p, w8, taps, tap_off, vb, a);
        const __m256 a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5], a6 = a[6], a7 = a[7];
        __m256 r[8] = {activate8(a0, act), activate8(a1, act), activate8(a2, act), activate8(a3, act),
                       activate8(a4, act), activate8(a5, act), activate8(a6, act), activate8(a7, act)};
        transpose8(r);
        for (int j = 0; j < 8; j++) _mm256_storeu_ps(y + (size_t)j * out_plane + q, r[j]);
    }
}

/// One output row of 8 channels for group8_rows: blocks of 8 output pixels from ox = 0 (the
/// last block overlapping the previous one when out_w is not a multiple of 8), taps row by row
/// from `rows[ky]` (padded transposed input rows, or a zero row), stride S in pixels (0: `sw`).
CK_INLINE_AVX2 void group_row(const float *const *rows, const float *w8, int kh, int kw, int dw, __m256 vb,
                              ck_activation act, float *y, size_t out_plane, int ow, const int S, int sw) {
    const int step = (S ? S : sw) * 8;  // floats between neighbouring output pixels' inputs
    for (int ox = 0; ox < ow; ox += 8) {
        if (ox + 8 > ow) ox = ow - 8;
        __m256 a0 = vb, a1 = vb, a2 = vb, a3 = vb, a4 = vb, a5 = vb, a6 = vb, a7 = vb;
        for (int ky = 0; ky < kh; ky++) {
            const float *r = rows[ky] + (size_t)ox * step;
            const float *wk = w8 + ky * kw * 8;
            for (int kx = 0; kx < kw; kx++) {
                const __m256 wv = _mm256_load_ps(wk + kx * 8);
                const float *p = r + kx * dw * 8;
                a0 = _mm256_fmadd_ps(wv, _mm256_load_ps(p), a0);
                a1 = _mm256_fmadd_ps(wv, _mm256_load_ps(p + step), a1);
                a2 = _mm256_fmadd_ps(wv, _mm256_load_ps(p + 2 * step), a2);
                a3 = _mm256_fmadd_ps(wv, _mm256_load_ps(p + 3 * step), a3);
                a4 = _mm256_fmadd_ps(wv, _mm256_load_ps(p + 4 * step), a4);
                a5 = _mm256_fmadd_ps(wv, _mm256_load_ps(p + 5 * step), a5);
                a6 = _mm256_fmadd_ps(wv, _mm256_load_ps(p + 6 * step), a6);
                a7 = _mm256_fmadd_ps(wv, _mm256_load_ps(p + 7 * step), a7);
            }
        }
        __m256 r[8] = {activate8(a0, act), activate8(a1, act), activate8(a2, act), activate8(a3, act),
                       activate8(a4, act), activate8(a5, act), activate8(a6, act), activate8(a7, act)};
        transpose8(r);
        for (int j = 0; j < 8; j++) _mm256_storeu_ps(y + (size_t)j * out_plane + ox, r[j]);
    }
}

/// Eight planes at once like group8_avx2, but streaming: input rows are transposed into a ring
/// of padded rows just before the first output row that needs them, and each output row is
/// computed as soon as its rows are there, so the transposed data stays in L1 and reading the
/// planes overlaps with the arithmetic. For planes too large for group8_avx2's whole block.
/// `ring` holds `ring_rows` padded rows (padded_w pixels of 8 floats, padding columns zero),
/// `zero` one zero row (for rows in the top/bottom padding). Needs in_w >= 8 and out_w >= 8.
static CK_AVX2 void group8_rows_avx2(const float *x, const float *w, const float *bias, float *y, const ck_window *g,
                                     ck_activation act, float *ring, int ring_rows, const float *zero, float *w8) {
    const int pw = padded_w(g), in_w = g->in_w, in_h = g->in_h, kh = g->kernel_h, kw = g->kernel_w;
    const size_t in_plane = (size_t)in_h * in_w, out_plane = (size_t)g->out_h * g->out_w;
    transpose_weights(w, kh * kw, w8);
    const __m256 vb = _mm256_loadu_ps(bias);
    const float *rows[16];
    int next = 0;  // next input row to transpose
    for (int oy = 0; oy < g->out_h; oy++) {
        const int top = oy * g->stride_h - g->pad_top;
        const int last = top + (kh - 1) * g->dilation_h;
        for (; next <= last && next < in_h; next++) {
            float *d = ring + (size_t)(next % ring_rows) * pw * 8 + (size_t)g->pad_left * 8;
            const float *s = x + (size_t)next * in_w;
            for (int ix = 0; ix < in_w; ix += 8) {
                if (ix + 8 > in_w) ix = in_w - 8;
                __m256 r[8];
                for (int j = 0; j < 8; j++) r[j] = _mm256_loadu_ps(s + (size_t)j * in_plane + ix);
                transpose8(r);
                for (int n = 0; n < 8; n++) _mm256_store_ps(d + (size_t)(ix + n) * 8, r[n]);
            }
        }
        ring_row_pointers(g, top, ring, ring_rows, (size_t)pw * 8, zero, rows);
        float *yo = y + (size_t)oy * g->out_w;
        if (g->stride_w == 1)
            group_row(rows, w8, kh, kw, g->dilation_w, vb, act, yo, out_plane, g->out_w, 1, 1);
        else if (g->stride_w == 2)
            group_row(rows, w8, kh, kw, g->dilation_w, vb, act, yo, out_plane, g->out_w, 2, 2);
        else
            group_row(rows, w8, kh, kw, g->dilation_w, vb, act, yo, out_plane, g->out_w, 0, g->stride_w);
    }
}

// ---- AVX-512: sixteen channels at once ----
//
// The same two group paths with one zmm per pixel (16 channels of it): each FMA does the work
// of two AVX2 ones and the loads stay one per FMA. The pixel-major layout has 16 floats per
// pixel, so the offset tables (built in 8-float units for the AVX2 path) are doubled at use.
// Transposes stay 8×8 (two per block: channels 0–7 and 8–15), one 16×16 transpose costing
// more shuffles than two 8×8 ones plus the 256-bit halves.

/// 8 pixels of 16 channels (x + j·plane + q for channel j) into pixel-major vectors at
/// dst(n) (16 floats each, channels 0–7 then 8–15).
#define CK_DW_TRANSPOSE_IN16(src, plane, q, dst)                                                                       \
    do {                                                                                                               \
        for (int half = 0; half < 2; half++) {                                                                         \
            __m256 r[8];                                                                                               \
            for (int j = 0; j < 8; j++) r[j] = _mm256_loadu_ps((src) + (size_t)(8 * half + j) * (plane) + (q));        \
            transpose8(r);                                                                                             \
            for (int n = 0; n < 8; n++) _mm256_store_ps((dst(n)) + 8 * half, r[n]);                                    \
        }                                                                                                              \
    } while (0)

/// Weights of 16 channels ([16][taps]) to tap vectors w16[taps][16], as transpose_weights does
/// for 8: channels 0–7 into the low half of each tap vector, 8–15 into the high half.
CK_INLINE_AVX512 void transpose_weights16(const float *w, int taps, float *w16) {
    for (int half = 0; half < 2; half++) {
        const float *wh = w + (size_t)8 * half * taps;
        if (taps < 8) {
            for (int t = 0; t < taps; t++)
                for (int j = 0; j < 8; j++) w16[t * 16 + 8 * half + j] = wh[(size_t)j * taps + t];
            continue;
        }
        for (int t = 0; t < taps; t += 8) {
            if (t + 8 > taps) t = taps - 8;
            __m256 r[8];
            for (int j = 0; j < 8; j++) r[j] = _mm256_loadu_ps(wh + (size_t)j * taps + t);
            transpose8(r);
            for (int n = 0; n < 8; n++) _mm256_store_ps(w16 + (t + n) * 16 + 8 * half, r[n]);
        }
    }
}

/// Activation, then 8 pixels × 16 channels back to planes: y + j·plane + q for channel j.
CK_INLINE_AVX512 void store_block16(const __m512 a[8], ck_activation act, float *y, size_t out_plane, int q) {
    __m256 lo[8], hi[8];
    for (int n = 0; n < 8; n++) {
        const __m512 v = activate16(a[n], act);
        lo[n] = _mm512_castps512_ps256(v);
        hi[n] = _mm512_extractf32x8_ps(v, 1);
    }
    transpose8(lo);
    transpose8(hi);
    for (int j = 0; j < 8; j++) {
        _mm256_storeu_ps(y + (size_t)j * out_plane + q, lo[j]);
        _mm256_storeu_ps(y + (size_t)(8 + j) * out_plane + q, hi[j]);
    }
}

/// group8_avx2 for 16 channels (xs: 16 floats per padded pixel; tables in 8-float units).
static CK_AVX512 void group16_avx512(const float *x, size_t in_plane, const float *w, const float *bias, float *y,
                                     size_t out_plane, const ck_window *g, ck_activation act, float *xs, float *w16,
                                     const int *tap_off, const int *in_off, const int *out_off) {
    const int n_in = (int)in_plane, n_out = (int)out_plane, kh = g->kernel_h, kw = g->kernel_w, taps = kh * kw;
    const int fixed = g->dilation_w == 1 && (kw == 3 || kw == 5);
    const size_t row_floats = (size_t)g->dilation_h * padded_w(g) * 16;
    for (int q = 0; q < n_in; q += 8) {
        if (q + 8 > n_in) q = n_in - 8;
#define CK_DST(n) (xs + 2 * (size_t)in_off[q + (n)])
        CK_DW_TRANSPOSE_IN16(x, in_plane, q, CK_DST);
#undef CK_DST
    }
    transpose_weights16(w, taps, w16);
    const __m512 vb = _mm512_loadu_ps(bias);
    for (int q = 0; q < n_out; q += 8) {
        if (q + 8 > n_out) q = n_out - 8;
        const float *p[8];
        for (int n = 0; n < 8; n++) p[n] = xs + 2 * (size_t)out_off[q + n];
        __m512 a[8];
        for (int n = 0; n < 8; n++) a[n] = vb;
        if (fixed) {
            for (int ky = 0; ky < kh; ky++) {
                const size_t o = ky * row_floats;
                for (int kx = 0; kx < kw; kx++) {
                    const __m512 wv = _mm512_load_ps(w16 + (ky * kw + kx) * 16);
                    for (int n = 0; n < 8; n++) a[n] = _mm512_fmadd_ps(wv, _mm512_load_ps(p[n] + o + kx * 16), a[n]);
                }
            }
        } else {
            for (int t = 0; t < taps; t++) {
                const __m512 wv = _mm512_load_ps(w16 + t * 16);
                const size_t o = 2 * (size_t)tap_off[t];
                for (int n = 0; n < 8; n++) a[n] = _mm512_fmadd_ps(wv, _mm512_load_ps(p[n] + o), a[n]);
            }
        }
        store_block16(a, act, y, out_plane, q);
    }
}

/// group8_rows_avx2 for 16 channels: the ring holds 16 floats per padded pixel.
static CK_AVX512 void group16_rows_avx512(const float *x, const float *w, const float *bias, float *y, const ck_window *g,
                                          ck_activation act, float *ring, int ring_rows, const float *zero, float *w16) {
    const int pw = padded_w(g), in_w = g->in_w, in_h = g->in_h, kh = g->kernel_h, kw = g->kernel_w;
    const size_t in_plane = (size_t)in_h * in_w, out_plane = (size_t)g->out_h * g->out_w;
    transpose_weights16(w, kh * kw, w16);
    const __m512 vb = _mm512_loadu_ps(bias);
    const int step = g->stride_w * 16, dw = g->dilation_w * 16;
    const float *rows[16];
    int next = 0;
    for (int oy = 0; oy < g->out_h; oy++) {
        const int top = oy * g->stride_h - g->pad_top;
        const int last = top + (kh - 1) * g->dilation_h;
        for (; next <= last && next < in_h; next++) {
            float *d = ring + (size_t)(next % ring_rows) * pw * 16 + (size_t)g->pad_left * 16;
            const float *s = x + (size_t)next * in_w;
            for (int ix = 0; ix < in_w; ix += 8) {
                if (ix + 8 > in_w) ix = in_w - 8;
#define CK_DST(n) (d + (size_t)(ix + (n)) * 16)
                CK_DW_TRANSPOSE_IN16(s, in_plane, ix, CK_DST);
#undef CK_DST
            }
        }
        ring_row_pointers(g, top, ring, ring_rows, (size_t)pw * 16, zero, rows);
        float *yo = y + (size_t)oy * g->out_w;
        for (int ox = 0; ox < g->out_w; ox += 8) {
            if (ox + 8 > g->out_w) ox = g->out_w - 8;
            __m512 a[8];
            for (int n = 0; n < 8; n++) a[n] = vb;
            for (int ky = 0; ky < kh; ky++) {
                const float *r = rows[ky] + (size_t)ox * step;
                const float *wk = w16 + ky * kw * 16;
                for (int kx = 0; kx < kw; kx++) {
                    const __m512 wv = _mm512_load_ps(wk + kx * 16);
                    const float *pp = r + kx * dw;
                    for (int n = 0; n < 8; n++) a[n] = _mm512_fmadd_ps(wv, _mm512_load_ps(pp + n * step), a[n]);
                }
            }
            store_block16(a, act, yo, out_plane, ox);
        }
    }
}
#undef CK_DW_TRANSPOSE_IN16

static CK_AVX2 void plane_avx2_s1(const float *pad, const float *wc, float bias, float *out, const ck_window *g,
                                  ck_activation act) {
    plane_avx2(pad, wc, bias, out, g, act, 1);
}

static CK_AVX2 void plane_avx2_s2(const float *pad, const float *wc, float bias, float *out, const ck_window *g,
                                  ck_activation act) {
    plane_avx2(pad, wc, bias, out, g, act, 2);
}
#endif

/// Zeroes the padding of the transposed block (rows above and below the interior, columns
/// left and right of it) for `lanes` floats per pixel; the interior is overwritten by every
/// group.
static void zero_group_padding(float *xs, const ck_window *g, int lanes) {
    const size_t pw = (size_t)padded_w(g), ph = (size_t)padded_h(g), l = (size_t)lanes;
    memset(xs, 0, (size_t)g->pad_top * pw * l * sizeof(float));
    memset(xs + (ph - g->pad_bottom) * pw * l, 0, (size_t)g->pad_bottom * pw * l * sizeof(float));
    for (size_t iy = g->pad_top; iy < ph - g->pad_bottom; iy++) {
        float *row = xs + iy * pw * l;
        memset(row, 0, (size_t)g->pad_left * l * sizeof(float));
        memset(row + (pw - g->pad_right) * l, 0, (size_t)g->pad_right * l * sizeof(float));
    }
}

/// Makes the padding of the `lanes`-float layout zero when another layout was in use (its
/// interior writes land on this one's padding): the block's padding rows and columns, or the
/// whole ring and the zero row after it (the ring's padding columns then stay zero).
static void use_layout(group_mode mode, float *xs, const ck_window *g, int lanes, int *zeroed_lanes) {
    if (*zeroed_lanes == lanes) return;
    if (mode == GROUP_BLOCK)
        zero_group_padding(xs, g, lanes);
    else
        memset(xs, 0, ((size_t)ring_rows(g) + 1) * padded_w(g) * lanes * sizeof(float));
    *zeroed_lanes = lanes;
}

void ck_depthwise_conv(const float *x, const float *w, const float *bias, float *y, long plane_begin, long plane_end,
                       int channels, const ck_window *g, ck_activation act, float *scratch) {
    const int pw = padded_w(g);
    const size_t in_plane = (size_t)g->in_h * g->in_w, out_plane = (size_t)g->out_h * g->out_w;
    const int taps = g->kernel_h * g->kernel_w;
    int plane_scratch_zeroed = 0;
    float *interior = scratch + (size_t)g->pad_top * pw + g->pad_left;
#if defined(__x86_64__)
    const int vector = ck_has_avx2_fma() && (g->stride_w == 1 || g->stride_w == 2);
    const group_mode mode = ck_has_avx2_fma() ? group_mode_of(g) : GROUP_NONE;
    float *w8 = NULL, *xs = NULL, *ring = NULL;
    int *tap_off = NULL, *in_off = NULL, *out_off = NULL;
    const int wide = mode != GROUP_NONE && ck_has_avx512();  // groups of 16 channels first
    int zeroed_lanes = 0;  // the layout (8 or 16 floats per pixel) whose padding is zero now
    if (mode != GROUP_NONE) {
        w8 = (float *)(((uintptr_t)(scratch + plane_scratch_floats(g)) + 63) & ~(uintptr_t)63);
        xs = w8 + (size_t)taps * GROUP_LANES_MAX;
    }
    if (mode == GROUP_BLOCK) {
        tap_off = (int *)(xs + (size_t)padded_h(g) * pw * GROUP_LANES_MAX);
        in_off = tap_off + taps;
        out_off = in_off + in_plane;
        for (int ky = 0; ky < g->kernel_h; ky++)
            for (int kx = 0; kx < g->kernel_w; kx++)
                tap_off[ky * g->kernel_w + kx] = (ky * g->dilation_h * pw + kx * g->dilation_w) * 8;
        for (int iy = 0; iy < g->in_h; iy++)
            for (int ix = 0; ix < g->in_w; ix++)
                in_off[iy * g->in_w + ix] = ((iy + g->pad_top) * pw + ix + g->pad_left) * 8;
        for (int oy = 0; oy < g->out_h; oy++)
            for (int ox = 0; ox < g->out_w; ox++)
                out_off[oy * g->out_w + ox] = (oy * g->stride_h * pw + ox * g->stride_w) * 8;
    } else if (mode == GROUP_ROWS) {
        ring = xs;
    }
#endif
    for (long p = plane_begin; p < plane_end; p++) {
        const int c = (int)(p % channels);
        const float *src = x + (size_t)p * in_plane;
        const float *wc = w + (size_t)c * taps;
        float *dst = y + (size_t)p * out_plane;
#if defined(__x86_64__)
        if (wide && p + 16 <= plane_end && c + 16 <= channels) {
            use_layout(mode, xs, g, 16, &zeroed_lanes);
            if (mode == GROUP_BLOCK)
                group16_avx512(src, in_plane, wc, bias + c, dst, out_plane, g, act, xs, w8, tap_off, in_off, out_off);
            else
                group16_rows_avx512(src, wc, bias + c, dst, g, act, ring, ring_rows(g), ring + (size_t)ring_rows(g) * pw * 16, w8);
            p += 15;
            continue;
        }
        if (mode != GROUP_NONE && p + 8 <= plane_end && c + 8 <= channels) {
            use_layout(mode, xs, g, 8, &zeroed_lanes);
            if (mode == GROUP_BLOCK)
                group8_avx2(src, in_plane, wc, bias + c, dst, out_plane, g, act, xs, w8, tap_off, in_off, out_off);
            else
                group8_rows_avx2(src, wc, bias + c, dst, g, act, ring, ring_rows(g), ring + (size_t)ring_rows(g) * pw * 8, w8);
            p += 7;
            continue;
        }
#endif
        if (!plane_scratch_zeroed) {
            // The padding rows and columns stay zero; only the interior is overwritten per plane.
            memset(scratch, 0, plane_scratch_floats(g) * sizeof(float));
            plane_scratch_zeroed = 1;
        }
        for (int iy = 0; iy < g->in_h; iy++)
            memcpy(interior + (size_t)iy * pw, src + (size_t)iy * g->in_w, (size_t)g->in_w * sizeof(float));
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
