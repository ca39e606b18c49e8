// Pointwise and direct (windowed) convolution with the output channels in the vector lanes
// (see ck_lanes.h). Both run lanes_chunk over tiles described by their X and Y offsets; a 1×1
// tile is a run of X's columns, a window tile a piece of an output row (or two rows of a
// narrow plane) whose X row at each k comes from a table of offsets into padded planes.
//
// Loop order: pixel chunks (up to CHUNK_TILES tiles of ≤ 14 pixels) outside, then blocks of 32
// output channels, then k-blocks of ~BLOCK_K, then the chunk's tiles: a k-block's W (BLOCK_K ×
// 32 floats, 12–24 KB) stays in L1 while every tile of the chunk passes over it, and a tile's
// partial sums wait between k-blocks in a small buffer in the lane layout (two aligned zmm per
// pixel), so only the last k-block transposes and writes Y. X is read in place: a tile's
// pixels at one k are one or two lines.
//
// At batch 1 the weights come from memory on every pass (ResNet-50's 7×7 layers hold 1–4 MB
// each): the chunk's tiles fetch the next k-block's weights into L2 while they compute, as
// ck_pointwise_conv does (spread over all tiles rather than the first one's: 2 % in
// open-nsfw's 7×7 layers; fetching two blocks ahead was no better). Measured with the
// weights flushed from cache (one thread, CPU time, against ck_pointwise_conv): without the
// fetch the kernel lost 1–11 % (1024×256×49 0.235 → 0.257 ms), with it it wins 10–20 %
// (256×1024×49 0.237 → 0.188, 512×2048×49 0.933 → 0.807, 192×1152×49 0.189 → 0.158,
// 128×512×196 0.191 → 0.163).
#include "ck_lanes.h"
#include "ck_cpu.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#include "ck_avx2_common.h"
#endif

/// K runs in floor(K / BLOCK_K) balanced blocks (96 … 191 values; one block below 192): a
/// block's weights (12–24 KB) and the chunk's X rows share L1. Hot, one thread, over 10
/// shapes: blocks of ~64 ran 0–6 % faster than ~128, ~96 0–6 % faster than ~64, ~32 slower.
enum { OB = CK_LANES_BLOCK_ROWS, PMAX = 14, BLOCK_K = 96, CHUNK_TILES = 16 };

int ck_lanes_fits(int m, int k, int n) {
    // Measured (see ck_lanes.h): every 49-pixel shape with k ≥ 64 wins (1.02 … 1.49×); at
    // 169 … 256 pixels only deep products (64×512×169 1.27×, 128×512×196 1.19×; 512×1024×196
    // 0.99, 1000×512×169 0.98 — in SqueezeNet at two threads 0.90 of the strips, session 14)
    // whose rows fill whole 16-row halves of the 32-row blocks (until session 21 whole blocks:
    // a block's empty half still ran, 80×480×196 0.92×; with the half-block tile 1.15×,
    // 112×672×196 1.10×, 48×384×169 1.16×); wider planes lose. "Deep" was k ≥ 3m and k ≥ 256
    // until session 21; k ≥ 2m and k ≥ 128 (C harness, hot: 80×160×196 1.07×, 112×224×196
    // 1.11×, 128×256×196 1.03–1.07×, 48×128×169 1.09×) measured in the models, A/B pass by
    // pass in one process: DenseNet-121 (its 56×56 Winograd products 32×128×196 and its
    // 14×14 128×256…352 layers) 0.983 and 0.997 of the time at one thread, 0.984 and 0.996 at
    // two; Inception v1 0.995 at both; EfficientNet-Lite0 1.000; ResNet-50 (512×1024×196)
    // 0.998–1.005.
    if (!ck_has_avx512()) return 0;
    return (n <= 64 && k >= 64) || (n <= 256 && k >= 2 * m && k >= 128 && m % 16 == 0);
}

size_t ck_lanes_packed_floats(int m, int k) { return (size_t)((m + OB - 1) / OB) * OB * (size_t)k; }

void ck_lanes_pack(const float *w, int m, int k, float *packed) {
    for (int b = 0; b < (m + OB - 1) / OB; b++)
        for (int kk = 0; kk < k; kk++)
            for (int o = 0; o < OB; o++) {
                const int r = b * OB + o;
                packed[((size_t)b * k + kk) * OB + o] = r < m ? w[(size_t)r * k + kk] : 0.f;
            }
}

/// One tile: p pixels whose outputs are contiguous from y offset yo (row stride ldy) and whose
/// inputs start at x offset xo; pixels from a on (a < p: two output rows of a narrow plane)
/// read `gap` floats further on (past the padding between the rows).
typedef struct {
    long xo, yo;
    int p, a;
} lanes_tile;

/// The next tile of a window convolution from output pixel *q (of all images' pixels) before
/// `end`: two whole output rows when rows have 5 … 7 pixels, else a balanced piece (≤ 14) of
/// the rest of q's row. Output (oy, ox) reads the padded planes from oy·sh·pad_w + ox·sw.
static inline lanes_tile window_tile(long *q, long end, const ck_window *w, int pad_w, long x_image, long y_image) {
    const int out_h = w->out_h, out_w = w->out_w;
    const long plane = (long)out_h * out_w, image = *q / plane, in_image = *q % plane;
    const long r = in_image / out_w, col = in_image % out_w;
    const long row_end = *q - col + out_w < end ? *q - col + out_w : end, len = row_end - *q;
    lanes_tile t = {.xo = image * x_image + r * w->stride_h * pad_w + col * w->stride_w, .yo = image * y_image + in_image};
    if (col == 0 && len == out_w && out_w >= 5 && out_w <= PMAX / 2 && r + 1 < out_h && *q + 2 * out_w <= end) {
        t.p = 2 * out_w, t.a = out_w;
    } else {
        const long pieces = (len + PMAX - 1) / PMAX;
        t.p = t.a = (int)((len + pieces - 1) / pieces);
    }
    *q += t.p;
    return t;
}

#if defined(__x86_64__)

/// r[i] (row i, 16 lanes) becomes column i: the classic 4-stage unpack/shuffle transpose.
CK_INLINE_AVX512 void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        const __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    // r[4i + j]'s 128-bit lane L holds rows 4i … 4i + 3 of column 4L + j.
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            t[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0x88);
            t[8 * i + 4 + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0xDD);
        }
    for (int j = 0; j < 4; j++) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xDD);
        r[4 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0x88);
        r[12 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0xDD);
    }
}

/// P pixels × 16·H channels (H halves of the 32-row block: 1 where the block has ≤ 16 rows)
/// over k values: from the bias (first k-block) or the tile's partial sums in buf (pixel p's
/// channels at buf + 32·p), back into buf. Pixel p at value kk reads x[p] of the row xr = x +
/// kk·ldx, or, with a window's offsets (KOFF), xr[S·p] of xr = x + koff[kk] (S: the horizontal
/// stride); pixels from A on are the next output row's and read xr[gap + S·p]. Its first
/// next_rows k values also fetch a row of the next k-block's weights into L2 each (two lines:
/// next + k·next_step·32).
/// A last block of ≤ 16 rows (M = 80, 112, 48: the half of M mod 32) ran both halves until
/// session 21, FMAs on zero weights for half its time: with H = 1 (C harness, one thread, hot,
/// time against the 6-row packed kernel) 80×480×196 1.06 → 0.87, 112×672×196 1.02 → 0.91,
/// 48×384×169 1.19 → 0.86, 112×672×49 0.98 → 0.83.
CK_INLINE_AVX512 void tile_part(const float *wp, const float *x, int ldx, const int *koff, long gap, int k, const float *bias,
                                int rows, int first, float *buf, const float *next, int next_rows, int next_step, const int P,
                                const int A, const int KOFF, const int S, const int H) {
    __m512 acc[PMAX][2];
    if (first) {
        const __m512 b0 = bias ? _mm512_maskz_loadu_ps(half_mask(rows, 0), bias) : _mm512_setzero_ps();
        const __m512 b1 = bias && H == 2 ? _mm512_maskz_loadu_ps(half_mask(rows, 1), bias + 16) : _mm512_setzero_ps();
        for (int p = 0; p < P; p++) acc[p][0] = b0, acc[p][1] = b1;
    } else
        for (int p = 0; p < P; p++)
            acc[p][0] = _mm512_load_ps(buf + OB * p), acc[p][1] = H == 2 ? _mm512_load_ps(buf + OB * p + 16) : _mm512_setzero_ps();
    for (int kk = 0; kk < k; kk++) {
        const __m512 w0 = _mm512_loadu_ps(wp + (size_t)kk * OB), w1 = H == 2 ? _mm512_loadu_ps(wp + (size_t)kk * OB + 16) : w0;
        const float *xr = KOFF ? x + koff[kk] : x + (size_t)kk * ldx;
        const float *xb = xr + gap;
        if (kk < next_rows) {
            _mm_prefetch((const char *)(next + (size_t)kk * next_step * OB), _MM_HINT_T1);
            _mm_prefetch((const char *)(next + (size_t)kk * next_step * OB + 16), _MM_HINT_T1);
        }
        for (int p = 0; p < P; p++) {
            const __m512 xp = _mm512_set1_ps(p < A ? xr[S * p] : xb[S * p]);
            acc[p][0] = _mm512_fmadd_ps(xp, w0, acc[p][0]);
            if (H == 2) acc[p][1] = _mm512_fmadd_ps(xp, w1, acc[p][1]);
        }
    }
    for (int p = 0; p < P; p++) {
        _mm512_store_ps(buf + OB * p, acc[p][0]);
        if (H == 2) _mm512_store_ps(buf + OB * p + 16, acc[p][1]);
    }
}

/// A finished tile (P ≤ 14 pixels in buf) into Y: each 16-channel half transposed into 16
/// rows of P pixels, plus the residual's row, activated, stored under a P-lane mask.
CK_INLINE_AVX512 void tile_out(const float *buf, const float *res, float *y, int ldy, int rows, ck_activation act, int P) {
    const __mmask16 pixels = (__mmask16)((1u << P) - 1u);
    for (int h = 0; h < 2 && 16 * h < rows; h++) {
        __m512 r[16];
        for (int p = 0; p < 16; p++) r[p] = p < P ? _mm512_load_ps(buf + OB * p + 16 * h) : _mm512_setzero_ps();
        transpose16(r);
        for (int i = 0; i < 16 && 16 * h + i < rows; i++) {
            const size_t at = (size_t)(16 * h + i) * ldy;
            __m512 out = r[i];
            if (res) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(pixels, res + at));
            _mm512_mask_storeu_ps(y + at, pixels, activate16(out, act));
        }
    }
}

/// The product over the tiles in `tiles` (at most CHUNK_TILES), rows [row_begin, row_end).
/// koff NULL: X's rows are ldx apart; else a window's offsets with horizontal stride (1 or 2).
static CK_AVX512 void lanes_chunk(const float *packed, const float *bias, const float *residual, const float *x, int ldx,
                                  const int *koff, int stride, long gap, float *y, int k, int ldy, int row_begin, int row_end,
                                  const lanes_tile *tiles, int count, ck_activation act) {
    const int blocks = k / BLOCK_K > 1 ? k / BLOCK_K : 1;
    float buf[CHUNK_TILES * PMAX * OB] __attribute__((aligned(64)));
    for (int row = row_begin; row < row_end; row += OB) {
        const int rows = row_end - row < OB ? row_end - row : OB;
        const float *b = bias ? bias + row : 0;
        for (int blk = 0; blk < blocks; blk++) {
            const int k0 = (int)((long)k * blk / blocks), k1 = (int)((long)k * (blk + 1) / blocks);
            const float *wp = packed + ((size_t)(row / OB) * k + k0) * OB;
            for (int i = 0; i < count; i++) {
                const lanes_tile t = tiles[i];
                float *tb = buf + i * PMAX * OB;
                const float *xs = koff ? x + t.xo : x + (size_t)k0 * ldx + t.xo;
                const int *ko = koff ? koff + k0 : 0;
                // The weights are one stream in the order the blocks use them: the next
                // block's (or the next 32 rows' first) start right after this one. The
                // chunk's tiles share its rows (tile i fetches rows i, i + count, …).
                const float *next = wp + ((size_t)(k1 - k0) + i) * OB;
                const int next_rows = (k1 - k0 - i + count - 1) / count;
#define PART(P, A, KOFF, S) tile_part(wp, xs, ldx, ko, gap, k1 - k0, b, rows, blk == 0, tb, next, next_rows, count, P, A, KOFF, S, H)
#define PIECES(KOFF, S)                                                                                                            \
    switch (t.p) {                                                                                                                 \
    case 14: PART(14, 14, KOFF, S); break;                                                                                        \
    case 13: PART(13, 13, KOFF, S); break;                                                                                        \
    case 12: PART(12, 12, KOFF, S); break;                                                                                        \
    case 11: PART(11, 11, KOFF, S); break;                                                                                        \
    case 10: PART(10, 10, KOFF, S); break;                                                                                        \
    case 9: PART(9, 9, KOFF, S); break;                                                                                           \
    case 8: PART(8, 8, KOFF, S); break;                                                                                           \
    case 7: PART(7, 7, KOFF, S); break;                                                                                           \
    case 6: PART(6, 6, KOFF, S); break;                                                                                           \
    case 5: PART(5, 5, KOFF, S); break;                                                                                           \
    case 4: PART(4, 4, KOFF, S); break;                                                                                           \
    case 3: PART(3, 3, KOFF, S); break;                                                                                           \
    case 2: PART(2, 2, KOFF, S); break;                                                                                           \
    case 1: PART(1, 1, KOFF, S); break;                                                                                           \
    }
#define ROW_PAIRS(S)                                                                                                               \
    switch (t.p) {                                                                                                                 \
    case 14: PART(14, 7, 1, S); break;                                                                                            \
    case 12: PART(12, 6, 1, S); break;                                                                                            \
    case 10: PART(10, 5, 1, S); break;                                                                                            \
    }
#define KERNELS                                                                                                                    \
    if (!koff) {                                                                                                                   \
        PIECES(0, 1)                                                                                                               \
    } else if (stride == 1) {                                                                                                      \
        if (t.a < t.p) ROW_PAIRS(1) else PIECES(1, 1)                                                                              \
    } else {                                                                                                                       \
        if (t.a < t.p) ROW_PAIRS(2) else PIECES(1, 2)                                                                              \
    }
                // H, the zmm halves a tile runs (PART passes it on): one for a block of ≤ 16 rows.
                if (rows > 16) {
                    const int H = 2;
                    KERNELS
                } else {
                    const int H = 1;
                    KERNELS
                }
#undef KERNELS
#undef ROW_PAIRS
#undef PIECES
#undef PART
            }
        }
        for (int i = 0; i < count; i++) {
            const size_t at = (size_t)row * ldy + tiles[i].yo;
            tile_out(buf + i * PMAX * OB, residual ? residual + at : 0, y + at, ldy, rows, act, tiles[i].p);
        }
    }
}

/// Columns [col_begin, col_end) in balanced tiles of ≤ 14 (a tile's pixels are one run of X's
/// rows), CHUNK_TILES at a time.
static CK_AVX512 void lanes_avx512(const float *packed, const float *bias, const float *residual, const float *x, float *y, int k,
                                   int ldx, int ldy, int row_begin, int row_end, int col_begin, int col_end, ck_activation act) {
    const int n = col_end - col_begin, tiles = (n + PMAX - 1) / PMAX;
    lanes_tile chunk[CHUNK_TILES];
    // Tile t covers pixels [col_begin + n·t/tiles, col_begin + n·(t+1)/tiles): balanced, ≤ 14.
#define TILE_BEGIN(t) (col_begin + (int)((long)n * (t) / tiles))
    for (int t0 = 0; t0 < tiles; t0 += CHUNK_TILES) {
        const int t1 = t0 + CHUNK_TILES < tiles ? t0 + CHUNK_TILES : tiles;
        for (int t = t0; t < t1; t++) {
            const int p0 = TILE_BEGIN(t), p = TILE_BEGIN(t + 1) - p0;
            chunk[t - t0] = (lanes_tile){.xo = p0, .yo = p0, .p = p, .a = p};
        }
        lanes_chunk(packed, bias, residual, x, ldx, 0, 1, 0, y, k, ldy, row_begin, row_end, chunk, t1 - t0, act);
    }
#undef TILE_BEGIN
}

static CK_AVX512 void window_avx512(const float *packed, const float *bias, const float *residual, const float *xpad,
                                    const int *koff, float *y, int k, const ck_window *w, int pad_w, long x_image, long y_image,
                                    int row_begin, int row_end, long col_begin, long col_end, ck_activation act) {
    lanes_tile chunk[CHUNK_TILES];
    // A two-row tile's second row starts one padded row per vertical stride after its first.
    const long gap = (long)w->stride_h * pad_w - (long)w->stride_w * w->out_w;
    long q = col_begin;
    while (q < col_end) {
        int count = 0;
        while (count < CHUNK_TILES && q < col_end) chunk[count++] = window_tile(&q, col_end, w, pad_w, x_image, y_image);
        lanes_chunk(packed, bias, residual, xpad, 0, koff, w->stride_w, gap, y, k, w->out_h * w->out_w, row_begin, row_end, chunk,
                    count, act);
    }
}

#endif

static int padded_h(const ck_window *w) { return w->in_h + w->pad_top + w->pad_bottom; }
static int padded_w(const ck_window *w) { return w->in_w + w->pad_left + w->pad_right; }

/// Against the implicit GEMM (ck_implicit_conv), one thread, hot, M×K×N: besides every shape
/// ck_lanes_fits takes (1.2 … 2.1×), wide planes win too where K ≥ 2M — there the per-tile
/// transpose is small against the tile's K·28 FMAs, and the strips' gathering cost more than
/// the tiles' re-reading of X per 32 channels: 32×400×784 (5×5) 1.55×, 64×576×3136 1.30×,
/// 96×800×784 1.19×, 128×1152×784 (stride 2) 1.09 … 1.19×, 128×288×3136 1.09×; but
/// 96×147×12544 (7×7 stride 2) 0.91×, 32×27×12544 0.86×, 64×27×50176 0.59×. The 64-channel
/// 7×7 stems (64×147×12544: 1.06× hot) lost in the models, where their input comes cold and
/// the padded copy is 635 KB (one binary, toggled, min of 10: ResNet-50 1.93 → 1.95 ms,
/// Inception v1 1.87 → 1.96, DenseNet-121 1.97 → 2.28), hence K ≥ 256; in the same runs
/// ResNet-50's 128×1152×784 1.78 → 1.64 ms, Inception's 5×5 layers 0.84 → 0.74 (96×800×784),
/// 0.194 → 0.137 (32×400×784), 0.068 → 0.064 (48×400×196).
int ck_lanes_window_fits(int m, int channels, const ck_window *w) {
    const int k = channels * w->kernel_h * w->kernel_w;
    return w->stride_w >= 1 && w->stride_w <= 2 && w->stride_h >= 1 && w->dilation_h == 1 && w->dilation_w == 1 &&
           (ck_lanes_fits(m, k, w->out_h * w->out_w) || (ck_has_avx512() && k >= 2 * m && k >= 256));
}

int ck_lanes_window_images_per_pass(const ck_window *w) {
    const long plane = (long)w->out_h * w->out_w;
    long q = 0;
    int tiles = 0;
    while (q < plane) window_tile(&q, plane, w, padded_w(w), 0, 0), tiles++;
    return tiles < CHUNK_TILES ? CHUNK_TILES / tiles : 1;
}

size_t ck_lanes_padded_floats(int channels, const ck_window *w) { return (size_t)channels * padded_h(w) * padded_w(w); }

void ck_lanes_window_offsets(int channels, const ck_window *w, int *koff) {
    const int ph = padded_h(w), pw = padded_w(w);
    for (int c = 0; c < channels; c++)
        for (int ky = 0; ky < w->kernel_h; ky++)
            for (int kx = 0; kx < w->kernel_w; kx++) koff[(c * w->kernel_h + ky) * w->kernel_w + kx] = (c * ph + ky) * pw + kx;
}

void ck_lanes_pad(const float *x, int channels, const ck_window *w, float *xpad) {
    const int ph = padded_h(w), pw = padded_w(w);
    for (int c = 0; c < channels; c++) {
        float *plane = xpad + (size_t)c * ph * pw;
        const float *src = x + (size_t)c * w->in_h * w->in_w;
        memset(plane, 0, sizeof(float) * (size_t)w->pad_top * pw);
        for (int r = 0; r < w->in_h; r++) {
            float *row = plane + (size_t)(w->pad_top + r) * pw;
            memset(row, 0, sizeof(float) * w->pad_left);
            memcpy(row + w->pad_left, src + (size_t)r * w->in_w, sizeof(float) * w->in_w);
            memset(row + w->pad_left + w->in_w, 0, sizeof(float) * w->pad_right);
        }
        memset(plane + (size_t)(w->pad_top + w->in_h) * pw, 0, sizeof(float) * (size_t)w->pad_bottom * pw);
    }
}

int ck_lanes_window_conv(const float *packed, const float *bias, const float *residual, const float *xpad, const int *koff,
                         float *y, int m, int k, const ck_window *w, long x_image_stride, long y_image_stride, int row_begin,
                         int row_end, long col_begin, long col_end, ck_activation act) {
    if (row_end > m) row_end = m;
#if defined(__x86_64__)
    if (ck_has_avx512()) {
        if (row_begin < row_end && col_begin < col_end)
            window_avx512(packed, bias, residual, xpad, koff, y, k, w, padded_w(w), x_image_stride, y_image_stride, row_begin, row_end,
                          col_begin, col_end, act);
        return 1;
    }
#endif
    (void)packed, (void)bias, (void)residual, (void)xpad, (void)koff, (void)y, (void)k, (void)w, (void)x_image_stride,
        (void)y_image_stride, (void)row_begin, (void)col_begin, (void)col_end, (void)act;
    return 0;
}

int ck_lanes_conv(const float *packed, const float *bias, const float *residual, const float *x, float *y, int m, int k, int ldx,
                  int ldy, int row_begin, int row_end, int col_begin, int col_end, ck_activation act) {
    if (row_end > m) row_end = m;
#if defined(__x86_64__)
    if (ck_has_avx512()) {
        if (row_begin < row_end && col_begin < col_end)
            lanes_avx512(packed, bias, residual, x, y, k, ldx, ldy, row_begin, row_end, col_begin, col_end, act);
        return 1;
    }
#endif
    (void)packed, (void)bias, (void)residual, (void)x, (void)y, (void)k, (void)ldx, (void)ldy, (void)row_begin, (void)col_begin,
        (void)col_end, (void)act;
    return 0;
}
