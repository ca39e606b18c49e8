// The stem of a network: a convolution over an RGB image (few input channels) and the max
// pooling right after it, row by row with the output channels in the vector lanes.
//
// Why not the implicit GEMM (ck_implicit_conv) that ConvMaxPoolKernel otherwise runs: with 3
// input channels its patch rows are few (27 for 3×3, 147 for 7×7) and each 32-pixel strip of
// them must be gathered from the image (strided loads and permutes, or gathers) before 11
// panels of 6 output channels use it. On SqueezeNet's stem (64 × 27 × 12321, one thread) the
// gathers took 30 % of the convolution (perf), which ran at ~50 % of the FMA peak. Here the
// taps' weights are the vectors (64 output channels = 4 vectors, all in L1) and each input
// value is one broadcast straight from the image, the way ONNX Runtime's NCHW-input kernel
// does it: a tile of 6 pixels × 4 vectors does 24 FMAs per tap for 6 broadcasts and 4 weight
// loads, and nothing is gathered. The price is the layout: a row comes out pixel-major
// ([row][x][channel]), which is what max pooling wants anyway (a window's maximum is a vector
// maximum over its pixels), and only the pooled rows, a quarter of the pixels, are turned
// back into planes.
//
// Each output value is bias + Σ over taps in (channel, ky, kx) order, one FMA each — the same
// chain as the implicit GEMM's single k-block — whatever the tile or thread: outputs do
// not depend on how the rows are split.
#include "ck_stem.h"
#include "ck_cpu.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#include "ck_avx2_common.h"
#endif

/// A tile: up to TILE_PIXELS consecutive output pixels of one row × TILE_VECTORS vectors of
/// 16 output channels (24 accumulators of the 32 registers).
enum { TILE_PIXELS = 6, TILE_VECTORS = 4 };

/// Rows of taps (channels · kernel_h) a tile walks at most, and pooled rows whose windows
/// share one convolution row (kernel_h / stride_h, rounded up) at most.
enum { MAX_TAP_ROWS = 640, MAX_OPEN_POOLED_ROWS = 4 };

/// The packed weights are read once per tap per tile: they must stay in L1 (48 KB here).
/// ResNet-50's 7×7 stem is 147 taps × 64 channels = 37.6 KB.
#define CK_STEM_MAX_WEIGHT_BYTES (40u << 10)

static int conv_padded(const ck_window *c) { return c->pad_top || c->pad_left || c->pad_bottom || c->pad_right; }

/// Input rows (and the padded copy's row count) that convolution rows [first, last) read.
static int input_rows(const ck_window *c, int first, int last) {
    return (last - 1 - first) * c->stride_h + (c->kernel_h - 1) * c->dilation_h + 1;
}
/// Pooled rows whose windows overlap one convolution row at most: the vertical-maximum rows
/// kept at once.
static int open_pooled_rows(const ck_window *p) { return (p->kernel_h + p->stride_h - 1) / p->stride_h; }
static int padded_width(const ck_window *c) { return c->in_w + c->pad_left + c->pad_right; }

/// Columns of the row of vertical maxima pool_row works in: the pooling's left padding, the
/// convolution's columns, and −∞ columns up to the last window's end.
static int vertical_columns(const ck_stem *s) {
    const ck_window *p = &s->pool;
    const int windows = (p->out_w - 1) * p->stride_w + p->kernel_w, row = p->pad_left + p->in_w;
    return windows > row ? windows : row;
}

int ck_stem_applies(int channels, int m, const ck_window *conv, const ck_window *pool) {
#if defined(__x86_64__)
    const size_t weight_bytes = (size_t)channels * conv->kernel_h * conv->kernel_w * (size_t)m * sizeof(float);
    return ck_has_avx512() && m > 0 && m % 16 == 0 && weight_bytes <= CK_STEM_MAX_WEIGHT_BYTES && pool->dilation_h == 1 &&
           pool->dilation_w == 1 && pool->in_h == conv->out_h && pool->in_w == conv->out_w && pool->stride_h >= 1 &&
           pool->stride_w >= 1 && channels * conv->kernel_h <= MAX_TAP_ROWS &&
           open_pooled_rows(pool) <= MAX_OPEN_POOLED_ROWS;
#else
    (void)channels, (void)m, (void)conv, (void)pool;
    return 0;
#endif
}

size_t ck_stem_packed_floats(int m, int taps) { return (size_t)m * (size_t)taps; }

void ck_stem_pack(const float *w, int m, int taps, float *packed) {
    for (int t = 0; t < taps; t++)
        for (int o = 0; o < m; o++) packed[(size_t)t * m + o] = w[(size_t)o * taps + t];
}

size_t ck_stem_scratch_floats(const ck_stem *s) {
    const ck_window *c = &s->conv;
    const size_t padded = conv_padded(c) ? (size_t)s->channels * input_rows(c, 0, c->out_h) * padded_width(c) : 0;
    const size_t vertical = (size_t)open_pooled_rows(&s->pool) * vertical_columns(s) * s->m;
    return padded + vertical + 32;
}

#if defined(__x86_64__)

/// Where a convolution row's taps read: `row[c · kernel_h + ky]` is input channel c's row for
/// tap row ky (a row of the image, or of the zero-padded copy, whose column 0 is input column
/// −pad_left), before the pixel offset ox · stride_w.
typedef struct {
    const float *row[MAX_TAP_ROWS];  // channels · kernel_h
} tap_rows;

/// Where a convolution row goes: into the vertical maxima of each pooled row whose window
/// holds it (pixel-major rows), stored there if it is the window's first row, else folded in.
typedef struct {
    float *row[MAX_OPEN_POOLED_ROWS];
    int first[MAX_OPEN_POOLED_ROWS];
    int count;
} fold_targets;

/// P pixels × V vectors of one row: bias, then every tap in (channel, ky, kx) order, then the
/// activation; stored in `out` (vector v of pixel j at 16 · (TILE_VECTORS · j + v)).
CK_INLINE_AVX512 void stem_tile(const tap_rows *rows, int row_count, size_t offset, const float *w, const float *bias,
                                float *out, int kernel_w, int stride_w, int dilation_w, int m, ck_activation act, const int P,
                                const int V) {
    __m512 acc[TILE_PIXELS][TILE_VECTORS];
    for (int v = 0; v < V; v++) {
        const __m512 b = bias ? _mm512_loadu_ps(bias + 16 * v) : _mm512_setzero_ps();
        for (int j = 0; j < P; j++) acc[j][v] = b;
    }
    for (int r = 0; r < row_count; r++) {
        const float *q = rows->row[r] + offset;
        const float *wt = w + (size_t)r * kernel_w * m;
        for (int kx = 0; kx < kernel_w; kx++, q += dilation_w, wt += m) {
            __m512 wv[TILE_VECTORS];
            for (int v = 0; v < V; v++) wv[v] = _mm512_loadu_ps(wt + 16 * v);
            for (int j = 0; j < P; j++) {
                const __m512 x = _mm512_set1_ps(q[(size_t)j * stride_w]);
                for (int v = 0; v < V; v++) acc[j][v] = _mm512_fmadd_ps(x, wv[v], acc[j][v]);
            }
        }
    }
    for (int j = 0; j < P; j++)
        for (int v = 0; v < V; v++) _mm512_storeu_ps(out + 16 * (TILE_VECTORS * j + v), activate16(acc[j][v], act));
}

/// stem_tile for each P and V, each its own function: inlined into the row loop (a switch over
/// all 24), clang kept the accumulators of the largest tile on the stack, a store after every
/// FMA, and it ran at a third of the speed.
typedef void (*tile_kernel)(const tap_rows *, int, size_t, const float *, const float *, float *, int, int, int, int, ck_activation);
#define CK_STEM_TILE(P, V)                                                                                                       \
    static CK_AVX512 void tile_##P##_##V(const tap_rows *rows, int row_count, size_t offset, const float *w, const float *bias, \
                                         float *out, int kernel_w, int stride_w, int dilation_w, int m, ck_activation act) {      \
        stem_tile(rows, row_count, offset, w, bias, out, kernel_w, stride_w, dilation_w, m, act, P, V);                         \
    }
#define CK_STEM_TILES(P) CK_STEM_TILE(P, 1) CK_STEM_TILE(P, 2) CK_STEM_TILE(P, 3) CK_STEM_TILE(P, 4)
CK_STEM_TILES(1) CK_STEM_TILES(2) CK_STEM_TILES(3) CK_STEM_TILES(4) CK_STEM_TILES(5) CK_STEM_TILES(6)
#undef CK_STEM_TILES
#undef CK_STEM_TILE
#define CK_STEM_ROW(P) {tile_##P##_1, tile_##P##_2, tile_##P##_3, tile_##P##_4}
static const tile_kernel tile_kernels[TILE_PIXELS][TILE_VECTORS] = {CK_STEM_ROW(1), CK_STEM_ROW(2), CK_STEM_ROW(3),
                                                                   CK_STEM_ROW(4), CK_STEM_ROW(5), CK_STEM_ROW(6)};
#undef CK_STEM_ROW

/// The input a call's convolution rows read: the image itself, or (when the window pads) a
/// zero-padded copy of the input rows they need, whose column 0 is input column −pad_left.
typedef struct {
    const float *base;
    size_t plane, stride;
    int origin;  // the input row at base's row 0
} conv_source;

static conv_source source_rows(const ck_stem *s, const float *x, int first, int last, float *padded) {
    const ck_window *c = &s->conv;
    if (!conv_padded(c)) return (conv_source){x, (size_t)c->in_h * c->in_w, (size_t)c->in_w, 0};
    const int top = first * c->stride_h - c->pad_top, rows = input_rows(c, first, last), width = padded_width(c);
    for (int ch = 0; ch < s->channels; ch++)
        for (int r = 0; r < rows; r++) {
            float *dst = padded + ((size_t)ch * rows + r) * width;
            const int iy = top + r;
            if (iy < 0 || iy >= c->in_h) {
                memset(dst, 0, (size_t)width * sizeof(float));
                continue;
            }
            memset(dst, 0, (size_t)c->pad_left * sizeof(float));
            memcpy(dst + c->pad_left, x + ((size_t)ch * c->in_h + iy) * c->in_w, (size_t)c->in_w * sizeof(float));
            memset(dst + c->pad_left + c->in_w, 0, (size_t)c->pad_right * sizeof(float));
        }
    return (conv_source){padded, (size_t)rows * width, (size_t)width, top};
}

/// A tile (stem_tile's `out`: P pixels × V vectors) into each target row at float `at`: stored
/// where the row is its window's first, else folded in by maximum.
static inline CK_AVX512 void fold_tile(const fold_targets *to, size_t at, const float *tile, int m, int P, int V) {
    for (int t = 0; t < to->count; t++) {
        float *out = to->row[t] + at;
        for (int j = 0; j < P; j++)
            for (int v = 0; v < V; v++) {
                const __m512 x = _mm512_load_ps(tile + 16 * (TILE_VECTORS * j + v));
                float *q = out + (size_t)j * m + 16 * v;
                _mm512_storeu_ps(q, to->first[t] ? x : _mm512_max_ps(_mm512_loadu_ps(q), x));
            }
    }
}

/// Convolution row oy, into the targets' rows (pixel-major: out_w · m floats each).
static CK_AVX512 void conv_row(const ck_stem *s, const conv_source *src, int oy, const fold_targets *to) {
    const ck_window *c = &s->conv;
    const int m = s->m, row_count = s->channels * c->kernel_h;
    tap_rows rows;
    float tile[TILE_PIXELS * TILE_VECTORS * 16] __attribute__((aligned(64)));
    for (int ch = 0; ch < s->channels; ch++)
        for (int ky = 0; ky < c->kernel_h; ky++)
            rows.row[ch * c->kernel_h + ky] =
                src->base + ch * src->plane + (size_t)(oy * c->stride_h - c->pad_top + ky * c->dilation_h - src->origin) * src->stride;
    for (int ox = 0; ox < c->out_w; ox += TILE_PIXELS) {
        const int P = c->out_w - ox < TILE_PIXELS ? c->out_w - ox : TILE_PIXELS;
        for (int g = 0; g < m; g += 16 * TILE_VECTORS) {
            const int V = (m - g) / 16 < TILE_VECTORS ? (m - g) / 16 : TILE_VECTORS;
            const size_t offset = (size_t)ox * c->stride_w;
            const float *w = s->packed + g, *b = s->bias ? s->bias + g : 0;
            const size_t at = (size_t)ox * m + g;
            tile_kernels[P - 1][V - 1](&rows, row_count, offset, w, b, tile, c->kernel_w, c->stride_w, c->dilation_w, m, s->act);
            fold_tile(to, at, tile, m, P, V);
        }
    }
}

/// A 16 × 16 block transposed in registers: r[i] (item i's 16 values) → r[c] (value c of the 16
/// items). Three rounds: pairs of floats, then of 2, then of 128-bit lanes.
CK_INLINE_AVX512 void transpose16(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    // u[4g + j], lane L: value 4L + j of items 4g … 4g + 3.
    for (int g = 0; g < 4; g++) {
        u[4 * g] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
        u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
        u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
        u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
    }
    for (int j = 0; j < 4; j++) {
        const __m512 v0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x44), v1 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xEE);
        const __m512 v2 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x44), v3 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xEE);
        r[j] = _mm512_shuffle_f32x4(v0, v2, 0x88);
        r[4 + j] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
        r[8 + j] = _mm512_shuffle_f32x4(v1, v3, 0x88);
        r[12 + j] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
    }
}

/// Pooled row a from its row of vertical maxima (`vertical`: the pooling's left padding,
/// then the convolution's columns, −∞ past them; pixel-major) into y's planes: for 16 pooled
/// pixels × 16 channels at a time the maximum over the window's columns (16 independent
/// chains), then the block transposed so that each channel's 16 pixels are one store into its
/// plane.
static CK_AVX512 void finish_pooled_row(const ck_stem *s, const float *vertical, int a, float *y) {
    const ck_window *p = &s->pool;
    const int m = s->m;
    const size_t out_plane = (size_t)p->out_h * p->out_w;
    for (int p0 = 0; p0 < p->out_w; p0 += 16) {
        const int n = p->out_w - p0 < 16 ? p->out_w - p0 : 16;
        const __mmask16 live = (__mmask16)((1u << n) - 1u);
        for (int v = 0; v < m; v += 16) {
            __m512 r[16];
#pragma clang loop unroll(full)
            for (int i = 0; i < 16; i++) {
                // (Past the row's last pixel, lanes repeat its first one; the store masks them.)
                const float *q = vertical + (size_t)(p0 + (i < n ? i : 0)) * p->stride_w * m + v;
                r[i] = _mm512_loadu_ps(q);
                for (int kx = 1; kx < p->kernel_w; kx++) r[i] = _mm512_max_ps(r[i], _mm512_loadu_ps(q + (size_t)kx * m));
            }
            transpose16(r);
            for (int c = 0; c < 16; c++) _mm512_mask_storeu_ps(y + (size_t)(v + c) * out_plane + (size_t)a * p->out_w + p0, live, r[c]);
        }
    }
}

/// Pooled rows [a_begin, a_end): the convolution rows their windows cover are computed one at
/// a time into `row` (28 KB for SqueezeNet's stem: it stays in L1 while it is used) and folded
/// at once into the vertical maxima of every pooled row whose window holds it (one for most
/// rows, two where windows overlap); a pooled row is finished after its window's last row. No
/// convolution row is computed twice, and none waits in a buffer larger than L1 (a band of
/// them, pooled afterwards, spent as long reading the band back from L2 as convolving it).
static CK_AVX512 void run_avx512(const ck_stem *s, const float *x, float *y, int a_begin, int a_end, float *scratch) {
    const ck_window *p = &s->pool, *c = &s->conv;
    const int m = s->m, columns = vertical_columns(s), open = open_pooled_rows(p);
    const int top = a_begin * p->stride_h - p->pad_top, bottom = (a_end - 1) * p->stride_h - p->pad_top + p->kernel_h;
    const int c0 = top > 0 ? top : 0, c1 = bottom < c->out_h ? bottom : c->out_h;
    float *padded = scratch;
    // `open` rows of `columns` pixels; pooled row a in slot a % open.
    float *vertical = padded + (conv_padded(c) ? (size_t)s->channels * input_rows(c, 0, c->out_h) * padded_width(c) : 0) + 16;
    const size_t vertical_floats = (size_t)columns * m, inside = (size_t)p->pad_left * m;
    const __m512 lowest = _mm512_set1_ps(-INFINITY);
    for (size_t i = 0; i < (size_t)open * vertical_floats; i += 16) _mm512_storeu_ps(vertical + i, lowest);
    // Pooled rows whose windows hold no convolution row (only with padding past the plane): −∞.
    for (int a = a_begin; a < a_end; a++) {
        const int t = a * p->stride_h - p->pad_top;
        if (t + p->kernel_h <= 0 || t >= c->out_h) finish_pooled_row(s, vertical + (size_t)(a % open) * vertical_floats, a, y);
    }
    if (c0 >= c1) return;
    const conv_source src = source_rows(s, x, c0, c1, padded);
    for (int oy = c0; oy < c1; oy++) {
        // Pooled rows of this call whose windows hold row oy: a·stride − pad_top ≤ oy < … + kernel.
        const int before = oy + p->pad_top - p->kernel_h, a_lo = before < 0 ? 0 : before / p->stride_h + 1;
        const int a_hi = (oy + p->pad_top) / p->stride_h;
        fold_targets to = {.count = 0};
        for (int a = a_lo > a_begin ? a_lo : a_begin; a <= a_hi && a < a_end; a++) {
            const int t = a * p->stride_h - p->pad_top;
            to.row[to.count] = vertical + (size_t)(a % open) * vertical_floats + inside;
            to.first[to.count++] = oy == (t > 0 ? t : 0);
        }
        conv_row(s, &src, oy, &to);
        // Pooled rows whose window ends here are complete.
        for (int i = 0; i < to.count; i++) {
            const int a = (a_lo > a_begin ? a_lo : a_begin) + i, t = a * p->stride_h - p->pad_top;
            if (oy == (t + p->kernel_h < c->out_h ? t + p->kernel_h : c->out_h) - 1) finish_pooled_row(s, to.row[i] - inside, a, y);
        }
    }
}

#endif

int ck_stem_run(const ck_stem *s, const float *x, float *y, int pooled_begin, int pooled_end, float *scratch) {
#if defined(__x86_64__)
    if (ck_stem_applies(s->channels, s->m, &s->conv, &s->pool)) {
        run_avx512(s, x, y, pooled_begin, pooled_end, scratch);
        return 1;
    }
#endif
    (void)s, (void)x, (void)y, (void)pooled_begin, (void)pooled_end, (void)scratch;
    return 0;
}
