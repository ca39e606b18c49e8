// Max pooling (NCHW), two paths.
//
// Row path (AVX2, horizontal stride 1 or 2, no horizontal dilation: every pool of the real
// networks). In general (rows_avx2), per output row the max over its window rows that lie
// inside the input, read in place, goes into a row buffer padded with −∞ (vertical_max), then
// each output takes the max of kW neighbours of that buffer (horizontal8; 3-wide at stride 2
// as pair maxima and one even/odd shuffle per 8 outputs). Two special cases skip the buffer:
// 3×3 stride 2 windows that stay inside the row keep both maxima in registers
// (inplace_k3_s2), and 3×3 stride 1 pad 1 "same" pools run on whole planes flattened
// (plane_k3_s1_same: no per-row loop).
// Measured (1 thread, kernel benchmark, warm L3), plane path → rows_avx2 → special case:
// SqueezeNet's 3×3 s2 64×111² 0.28 → 0.11 → 0.091 ms, 128×55² 0.15 → 0.065 → 0.055,
// 256×27² 0.083 → 0.048 → 0.029; Inception's 480×27² s2 0.16 → 0.091 → 0.054; Inception's
// 3×3 s1 p1 192×27² 0.18 → 0.079 → 0.038, 256×27² 0.24 → 0.105 → 0.050, 480×13² 0.13 →
// 0.065 → 0.028, 832×6² 0.074 → 0.051 → 0.017; ResNet-50's 3×3 s2 p1 64×112² 0.28 → 0.12
// (rows_avx2); VGG's 2×2 s2 64×224² 0.92 → 0.62 (rows_avx2).
// Rejected: in place for 3×3 stride 1 with scalar edge columns (27² and 13² planes 1.6–1.9×
// slower than the row buffer); the in-place 3×3 stride 2 path extended to windows over the
// left/right padding (ResNet-50, open-nsfw) with scalar edge columns (those 4–7 % faster,
// SqueezeNet's and Inception's 3–4 % slower: a wash); one row of lookahead more for the
// buffer (no change); earlier (session 3), horizontal max first, then vertical (worse).
//
// Plane path (portable C, or AVX2 with horizontal dilation or other strides): each plane is
// copied into a scratch plane padded with −∞ (so no window needs a bounds check), then output
// rows are computed 8 columns at a time (max over the kH·kW taps, stride 2 by deinterleaving
// two loads as in depthwise.c), the last vector stored under a mask.
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

/// Whether ck_max_pool takes the row path (see rows_avx2) for this window.
static int uses_rows(const ck_window *g) {
#if defined(__x86_64__)
    return ck_has_avx2_fma() && g->dilation_w == 1 && (g->stride_w == 1 || g->stride_w == 2) && g->kernel_h <= 64;
#else
    (void)g;
    return 0;
#endif
}

/// Floats of one row buffer of the row path: the padded row plus what the last output vector
/// reads past it (at stride 2 up to 17 floats from its first tap, or from column 0 when the
/// row has fewer than 8 outputs).
static size_t row_buffer_floats(const ck_window *g) { return (size_t)pool_padded_w(g) + 2 * 8 + g->kernel_w + 40; }

size_t ck_max_pool_scratch_floats(const ck_window *g) {
    if (uses_rows(g)) {
        // Row buffers, or the horizontal-max plane of plane_k3_s1_same.
        const size_t rows = 2 * row_buffer_floats(g), plane = (size_t)g->in_h * g->in_w;
        return rows > plane ? rows : plane;
    }
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

/// Row path: per output row, the vertical max over its input rows (clamped to the input, read
/// in place) goes into a row buffer padded with −∞, then each output takes the horizontal max
/// of kW neighbours of that buffer. No plane copy, and at stride 2 two shuffles per 8 outputs
/// instead of two per tap.


/// v[0, n) = max over the `rows` input rows at `r[0..rows)` (rows >= 1). Whole vectors, the
/// last one overlapping the previous when n is not a multiple of 8 (max is idempotent); rows
/// shorter than 8 go scalar.
CK_INLINE_AVX2 void vertical_max(const float *const *r, int rows, int n, float *v) {
    if (n < 8) {
        // Masked loads (0 in the lanes past n), then −∞ there: v[n, 8) is padding anyway.
        const __m256i mask = _mm256_loadu_si256((const __m256i *)(tail_masks + 8 - n));
        __m256 m = _mm256_maskload_ps(r[0], mask);
        for (int k = 1; k < rows; k++) m = _mm256_max_ps(m, _mm256_maskload_ps(r[k], mask));
        _mm256_storeu_ps(v, _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), m, _mm256_castsi256_ps(mask)));
        return;
    }
    const float *r0 = r[0], *r1 = r[rows > 1 ? 1 : 0], *r2 = r[rows > 2 ? 2 : 0];
    const int last = n - 8;
    if (rows <= 3) {
        // Rows 1–3 (every 3-row window, and its edges): three loads per vector, repeated
        // pointers standing in for missing rows.
        int j = 0;
        for (; j + 16 <= n; j += 16) {
            __m256 a = _mm256_max_ps(_mm256_loadu_ps(r0 + j), _mm256_max_ps(_mm256_loadu_ps(r1 + j), _mm256_loadu_ps(r2 + j)));
            __m256 b = _mm256_max_ps(_mm256_loadu_ps(r0 + j + 8), _mm256_max_ps(_mm256_loadu_ps(r1 + j + 8), _mm256_loadu_ps(r2 + j + 8)));
            _mm256_storeu_ps(v + j, a);
            _mm256_storeu_ps(v + j + 8, b);
        }
        for (; j < n; j += 8) {
            const int at = j < last ? j : last;  // the last vector overlaps the previous one
            _mm256_storeu_ps(v + at, _mm256_max_ps(_mm256_loadu_ps(r0 + at), _mm256_max_ps(_mm256_loadu_ps(r1 + at), _mm256_loadu_ps(r2 + at))));
        }
        return;
    }
    for (int j0 = 0; j0 < n; j0 += 8) {
        const int j = j0 < last ? j0 : last;
        __m256 m = _mm256_loadu_ps(r0 + j);
        for (int k = 1; k < rows; k++) m = _mm256_max_ps(m, _mm256_loadu_ps(r[k] + j));
        _mm256_storeu_ps(v + j, m);
    }
}

/// 8 outputs from the −∞-padded row buffer at p (= output column 0's first tap + S·ox).
/// K = kernel_w (2 and 3 specialized, any other K by loop), S = stride 1 or 2.
CK_INLINE_AVX2 __m256 horizontal8(const float *p, const int K, const int S) {
    if (S == 2 && (K == 2 || K == 3)) {
        // K = 3: pairs m[i] = max(v[i], v[i+1]), out[k] = max(m[2k], m[2k+1]); K = 2: out[k] =
        // max(v[2k], v[2k+1]). The even/odd split (shuffle) works within 128-bit lanes, so the
        // lane-crossing permute is done once, on the result.
        __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
        if (K == 3) {
            a = _mm256_max_ps(a, _mm256_loadu_ps(p + 1));
            b = _mm256_max_ps(b, _mm256_loadu_ps(p + 9));
        }
        __m256 m = _mm256_max_ps(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)), _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
        return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(m), _MM_SHUFFLE(3, 1, 2, 0)));
    }
    __m256 m = load_strided(p, S);
    for (int kx = 1; kx < K; kx++) m = _mm256_max_ps(m, load_strided(p + kx, S));
    return m;
}

/// Row oy's vertical max into the row buffer `buffer` (input column 0 at buffer + pad_left).
CK_INLINE_AVX2 void vertical_row(const float *src, const ck_window *g, int oy, float *buffer) {
    const float *rows[64];
    int n = 0;
    for (int ky = 0; ky < g->kernel_h; ky++) {
        const int iy = oy * g->stride_h - g->pad_top + ky * g->dilation_h;
        if (iy >= 0 && iy < g->in_h) rows[n++] = src + (size_t)iy * g->in_w;
    }
    float *v = buffer + g->pad_left;
    if (n == 0) {
        for (int j = 0; j < g->in_w; j++) v[j] = -INFINITY;
    } else {
        vertical_max(rows, n, g->in_w, v);
    }
}

/// One plane. Two row buffers: the vertical max of row oy + 1 is computed before the
/// horizontal max of row oy reads its buffer, so those reads do not wait on just-issued stores
/// (short rows: 13×13 planes were ~60 cycles per row with one buffer).
CK_INLINE_AVX2 void rows_avx2(const float *src, float *dst, const ck_window *g, float *buffers, const int K, const int S) {
    const int ow = g->out_w;
    const size_t stride = row_buffer_floats(g);
    vertical_row(src, g, 0, buffers);
    for (int oy = 0; oy < g->out_h; oy++) {
        const float *buffer = buffers + (oy & 1) * stride;
        if (oy + 1 < g->out_h) vertical_row(src, g, oy + 1, buffers + ((oy + 1) & 1) * stride);
        float *o = dst + (size_t)oy * ow;
        if (ow >= 8) {
            for (int ox0 = 0; ox0 < ow; ox0 += 8) {
                const int ox = ox0 + 8 <= ow ? ox0 : ow - 8;  // the last vector overlaps
                _mm256_storeu_ps(o + ox, horizontal8(buffer + ox * S, K, S));
            }
        } else {
            float tail[8];
            _mm256_storeu_ps(tail, horizontal8(buffer, K, S));
            memcpy(o, tail, (size_t)ow * sizeof(float));
        }
    }
}

#define CK_POOL_ROWS(K, S)                                                                                              \
    static __attribute__((target("avx2,fma"))) void rows_k##K##_s##S(const float *x, float *y, const ck_window *g, float *b) { \
        rows_avx2(x, y, g, b, K, S);                                                                                    \
    }
CK_POOL_ROWS(2, 2)
CK_POOL_ROWS(3, 1)
CK_POOL_ROWS(3, 2)
/// 3×3 stride 2 windows that never leave the input horizontally (no left padding, the last
/// window ends inside the row) and rows of at least 8 outputs: vertical and horizontal max in
/// registers, read in place (no row buffer). Rows of the window outside the input are
/// dropped (pointers repeated). Output rows whose windows are wholly inside go in pairs,
/// sharing their common input row (64×111² 0.105 → 0.091 ms, 256×27² 0.030 → 0.029), and
/// take their row pointers without gathering (256×27² 0.035 → 0.030 ms, 480×27² 0.066 →
/// 0.057). Measured against rows_avx2: see the file header.
static __attribute__((target("avx2,fma"))) void inplace_k3_s2(const float *src, float *dst, const ck_window *g, float *unused) {
    (void)unused;
    const int ow = g->out_w, in_w = g->in_w;
    const size_t row_step = (size_t)g->dilation_h * in_w;
    for (int oy = 0; oy < g->out_h; oy++) {
        const int top = oy * g->stride_h - g->pad_top;
        if (g->kernel_h == 3 && g->stride_h == 2 && g->dilation_h == 1 && oy + 1 < g->out_h && top >= 0 && top + 4 < g->in_h) {
            // Two output rows from five input rows, the middle one shared.
            const float *r0 = src + (size_t)top * in_w, *r1 = r0 + in_w, *r2 = r1 + in_w, *r3 = r2 + in_w, *r4 = r3 + in_w;
            float *o = dst + (size_t)oy * ow;
            for (int ox0 = 0; ox0 < ow; ox0 += 8) {
                const int ox = ox0 + 8 <= ow ? ox0 : ow - 8;
                const int j = 2 * ox;
                __m256 a[2], b[2];
#define CK_PAIR(at, out)                                                                                       \
    do {                                                                                                       \
        const __m256 mid = _mm256_loadu_ps(r2 + (at));                                                          \
        out[0] = _mm256_max_ps(_mm256_max_ps(_mm256_loadu_ps(r0 + (at)), _mm256_loadu_ps(r1 + (at))), mid); \
        out[1] = _mm256_max_ps(_mm256_max_ps(_mm256_loadu_ps(r3 + (at)), _mm256_loadu_ps(r4 + (at))), mid); \
    } while (0)
                __m256 t[2];
                CK_PAIR(j, a);
                CK_PAIR(j + 1, t);
                a[0] = _mm256_max_ps(a[0], t[0]);
                a[1] = _mm256_max_ps(a[1], t[1]);
                CK_PAIR(j + 8, b);
                CK_PAIR(j + 9, t);
                b[0] = _mm256_max_ps(b[0], t[0]);
                b[1] = _mm256_max_ps(b[1], t[1]);
#undef CK_PAIR
                for (int k = 0; k < 2; k++) {
                    const __m256 m = _mm256_max_ps(_mm256_shuffle_ps(a[k], b[k], _MM_SHUFFLE(2, 0, 2, 0)), _mm256_shuffle_ps(a[k], b[k], _MM_SHUFFLE(3, 1, 3, 1)));
                    _mm256_storeu_ps(o + (size_t)k * ow + ox, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(m), _MM_SHUFFLE(3, 1, 2, 0))));
                }
            }
            oy++;
            continue;
        }
        const float *r0, *r1, *r2;
        if (g->kernel_h == 3 && top >= 0 && top + 2 * g->dilation_h < g->in_h) {
            r0 = src + (size_t)top * in_w;  // all three rows inside: no gathering
            r1 = r0 + row_step;
            r2 = r1 + row_step;
        } else {
            const float *r[3];
            int n = 0;
            for (int ky = 0; ky < g->kernel_h; ky++) {
                const int iy = top + ky * g->dilation_h;
                if (iy >= 0 && iy < g->in_h) r[n++] = src + (size_t)iy * in_w;
            }
            if (n == 0) {
                for (int ox = 0; ox < ow; ox++) dst[(size_t)oy * ow + ox] = -INFINITY;
                continue;
            }
            r0 = r[0], r1 = r[n > 1 ? 1 : 0], r2 = r[n > 2 ? 2 : 0];
        }
        float *o = dst + (size_t)oy * ow;
        for (int ox0 = 0; ox0 < ow; ox0 += 8) {
            const int ox = ox0 + 8 <= ow ? ox0 : ow - 8;  // the last vector overlaps
            const int j = 2 * ox;
#define CK_V3(at) _mm256_max_ps(_mm256_loadu_ps(r0 + (at)), _mm256_max_ps(_mm256_loadu_ps(r1 + (at)), _mm256_loadu_ps(r2 + (at))))
            const __m256 a = _mm256_max_ps(CK_V3(j), CK_V3(j + 1)), b = _mm256_max_ps(CK_V3(j + 8), CK_V3(j + 9));
#undef CK_V3
            const __m256 m = _mm256_max_ps(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)), _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
            _mm256_storeu_ps(o + ox, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(m), _MM_SHUFFLE(3, 1, 2, 0))));
        }
    }
}

/// inplace_k3_s2 for rows of fewer than 8 outputs (Inception's 13² → 6²): one vector per
/// output row read in place (17 floats from each window row, running into the rows below)
/// and stored whole, its extra lanes landing in the next output row, which is written after.
/// The last output row is stored through a temporary; rows whose reads would pass the
/// plane's end are computed scalar. Inception's 832×13² 0.063 → 0.041 ms (kernel benchmark).
static __attribute__((target("avx2,fma"))) void narrow_k3_s2(const float *src, float *dst, const ck_window *g, float *unused) {
    (void)unused;
    const int ow = g->out_w, in_w = g->in_w;
    const float *end = src + (size_t)g->in_h * in_w;
    for (int oy = 0; oy < g->out_h; oy++) {
        const float *r[3];
        int n = 0;
        const int top = oy * g->stride_h - g->pad_top;
        if (g->kernel_h == 3 && top >= 0 && top + 2 * g->dilation_h < g->in_h) {
            r[0] = src + (size_t)top * in_w;  // all three rows inside: no gathering
            r[1] = r[0] + (size_t)g->dilation_h * in_w;
            r[2] = r[1] + (size_t)g->dilation_h * in_w;
            n = 3;
        } else {
            for (int ky = 0; ky < g->kernel_h; ky++) {
                const int iy = top + ky * g->dilation_h;
                if (iy >= 0 && iy < g->in_h) r[n++] = src + (size_t)iy * in_w;
            }
        }
        float *o = dst + (size_t)oy * ow;
        if (n == 0) {
            for (int ox = 0; ox < ow; ox++) o[ox] = -INFINITY;
            continue;
        }
        const float *r0 = r[0], *r1 = r[n > 1 ? 1 : 0], *r2 = r[n - 1];
        if (r2 + 17 > end) {
            for (int ox = 0; ox < ow; ox++) {
                float m = -INFINITY;
                for (int k = 0; k < n; k++)
                    for (int c = 2 * ox; c < 2 * ox + 3; c++) m = r[k][c] > m ? r[k][c] : m;
                o[ox] = m;
            }
            continue;
        }
#define CK_V3(at) _mm256_max_ps(_mm256_loadu_ps(r0 + (at)), _mm256_max_ps(_mm256_loadu_ps(r1 + (at)), _mm256_loadu_ps(r2 + (at))))
        const __m256 a = _mm256_max_ps(CK_V3(0), CK_V3(1)), b = _mm256_max_ps(CK_V3(8), CK_V3(9));
#undef CK_V3
        const __m256 m = _mm256_max_ps(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)), _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
        const __m256 v = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(m), _MM_SHUFFLE(3, 1, 2, 0)));
        if ((size_t)oy * ow + 8 <= (size_t)g->out_h * ow && oy + 1 < g->out_h) {
            _mm256_storeu_ps(o, v);
        } else {
            float tail[8];
            _mm256_storeu_ps(tail, v);
            memcpy(o, tail, (size_t)ow * sizeof(float));
        }
    }
}

/// 3×3 stride 1 pad 1 ("same") on whole planes, flattened: both passes run over the plane as
/// one contiguous array, so short rows cost no per-row loop. Horizontal first into `h`:
/// h[i] = max(x[i−1], x[i], x[i+1]) over i = 1 … H·W−2 (wrong at the row ends, which read the
/// neighbouring rows), then columns 0 and W−1 of every row recomputed scalar. Vertical into y:
/// the top and bottom rows from two rows of h (vectors that spill into rows 1 and H−2 when
/// rows are short), then rows 1 … H−2 from three rows as one run, overwriting those spills.
/// Needs W >= 2 and (H − 2)·W >= 8. Measured against rows_avx2: see the file header.
static __attribute__((target("avx2,fma"))) void plane_k3_s1_same(const float *x, float *y, int H, int W, float *h) {
    const long n = (long)H * W;
    for (long i0 = 1; i0 < n - 1; i0 += 8) {
        const long i = i0 + 8 <= n - 1 ? i0 : n - 9;  // the last vector overlaps
        _mm256_storeu_ps(h + i, _mm256_max_ps(_mm256_loadu_ps(x + i - 1), _mm256_max_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(x + i + 1))));
    }
    for (int r = 0; r < H; r++) {
        const float *xr = x + (long)r * W;
        h[(long)r * W] = xr[0] > xr[1] ? xr[0] : xr[1];
        h[(long)r * W + W - 1] = xr[W - 2] > xr[W - 1] ? xr[W - 2] : xr[W - 1];
    }
    const long last = n - W;  // first index of the bottom row
    for (long i0 = 0; i0 < W; i0 += 8) {
        const long i = i0 + 8 <= W || W < 8 ? i0 : W - 8;
        _mm256_storeu_ps(y + i, _mm256_max_ps(_mm256_loadu_ps(h + i), _mm256_loadu_ps(h + i + W)));
    }
    for (long i0 = last; i0 < n; i0 += 8) {
        const long i = i0 + 8 <= n ? i0 : n - 8;
        _mm256_storeu_ps(y + i, _mm256_max_ps(_mm256_loadu_ps(h + i - W), _mm256_loadu_ps(h + i)));
    }
    for (long i0 = W; i0 < last; i0 += 8) {
        const long i = i0 + 8 <= last ? i0 : last - 8;
        _mm256_storeu_ps(y + i, _mm256_max_ps(_mm256_loadu_ps(h + i - W), _mm256_max_ps(_mm256_loadu_ps(h + i), _mm256_loadu_ps(h + i + W))));
    }
}

static int uses_same_3x3(const ck_window *g) {
    return g->kernel_h == 3 && g->kernel_w == 3 && g->stride_h == 1 && g->stride_w == 1 && g->dilation_h == 1 &&
           g->dilation_w == 1 && g->pad_top == 1 && g->pad_left == 1 && g->pad_bottom == 1 && g->pad_right == 1 &&
           g->out_h == g->in_h && g->out_w == g->in_w && g->in_w >= 2 && (long)(g->in_h - 2) * g->in_w >= 8;
}

static __attribute__((target("avx2,fma"))) void rows_any_s1(const float *x, float *y, const ck_window *g, float *b) {
    rows_avx2(x, y, g, b, g->kernel_w, 1);
}
static __attribute__((target("avx2,fma"))) void rows_any_s2(const float *x, float *y, const ck_window *g, float *b) {
    rows_avx2(x, y, g, b, g->kernel_w, 2);
}
#endif

void ck_max_pool(const float *x, float *y, long plane_begin, long plane_end, const ck_window *g, float *scratch) {
    const size_t in_plane = (size_t)g->in_h * g->in_w, out_plane = (size_t)g->out_h * g->out_w;
#if defined(__x86_64__)
    if (uses_rows(g)) {
        const size_t total = 2 * row_buffer_floats(g);
        for (size_t i = 0; i < total; i++) scratch[i] = -INFINITY;  // stays outside the input columns
        if (uses_same_3x3(g)) {
            for (long p = plane_begin; p < plane_end; p++)
                plane_k3_s1_same(x + (size_t)p * in_plane, y + (size_t)p * out_plane, g->in_h, g->in_w, scratch);
            return;
        }
        const int inplace = g->kernel_w == 3 && g->stride_w == 2 && g->kernel_h <= 3 && g->pad_left == 0 && g->out_w >= 8 &&
                            2 * (g->out_w - 1) + 3 <= g->in_w;
        const int narrow = g->kernel_w == 3 && g->stride_w == 2 && g->kernel_h <= 3 && g->pad_left == 0 && g->out_w < 8 &&
                           2 * (g->out_w - 1) + 3 <= g->in_w;
        void (*rows)(const float *, float *, const ck_window *, float *) =
            inplace ? inplace_k3_s2
            : narrow ? narrow_k3_s2
            : g->kernel_w == 3 ? (g->stride_w == 1 ? rows_k3_s1 : rows_k3_s2)
            : g->kernel_w == 2 && g->stride_w == 2 ? rows_k2_s2
            : g->stride_w == 1 ? rows_any_s1 : rows_any_s2;
        for (long p = plane_begin; p < plane_end; p++) rows(x + (size_t)p * in_plane, y + (size_t)p * out_plane, g, scratch);
        return;
    }
#endif
    const int pw = pool_padded_w(g);
    const size_t total = ck_max_pool_scratch_floats(g);
    // The −∞ border stays; only the interior is overwritten per plane.
    for (size_t i = 0; i < total; i++) scratch[i] = -INFINITY;
    float *interior = scratch + (size_t)g->pad_top * pw + g->pad_left;
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
