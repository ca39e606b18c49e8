// Pointwise convolution with the output channels in the vector lanes (see ck_lanes.h).
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
    // 169 … 196 pixels only deep products (k ≥ 3m: 64×512×169 1.27×, 128×512×196 1.19×;
    // 512×1024×196 0.99, 1000×512×169 0.98) whose rows fill whole 32-row blocks (80×480×196,
    // a block half empty: 0.92×; 112×672×196 1.05×); wider planes lose.
    if (!ck_has_avx512()) return 0;
    return (n <= 64 && k >= 64) || (n <= 256 && k >= 3 * m && k >= 256 && m % OB == 0);
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

/// P pixels × 32 channels over k values: from the bias (first k-block) or the tile's partial
/// sums in buf (pixel p's 32 channels at buf + 32·p), back into buf. Its first next_rows k
/// values also fetch a row of the next k-block's weights into L2 each (two lines: next + k·
/// next_step·32).
CK_INLINE_AVX512 void tile_part(const float *wp, const float *x, int ldx, int k, const float *bias, int rows, int first, float *buf,
                                const float *next, int next_rows, int next_step, const int P) {
    __m512 acc[PMAX][2];
    if (first) {
        const __m512 b0 = bias ? _mm512_maskz_loadu_ps(half_mask(rows, 0), bias) : _mm512_setzero_ps();
        const __m512 b1 = bias ? _mm512_maskz_loadu_ps(half_mask(rows, 1), bias + 16) : _mm512_setzero_ps();
        for (int p = 0; p < P; p++) acc[p][0] = b0, acc[p][1] = b1;
    } else
        for (int p = 0; p < P; p++) acc[p][0] = _mm512_load_ps(buf + OB * p), acc[p][1] = _mm512_load_ps(buf + OB * p + 16);
    for (int kk = 0; kk < k; kk++) {
        const __m512 w0 = _mm512_loadu_ps(wp + (size_t)kk * OB), w1 = _mm512_loadu_ps(wp + (size_t)kk * OB + 16);
        const float *xr = x + (size_t)kk * ldx;
        if (kk < next_rows) {
            _mm_prefetch((const char *)(next + (size_t)kk * next_step * OB), _MM_HINT_T1);
            _mm_prefetch((const char *)(next + (size_t)kk * next_step * OB + 16), _MM_HINT_T1);
        }
        for (int p = 0; p < P; p++) {
            const __m512 xp = _mm512_set1_ps(xr[p]);
            acc[p][0] = _mm512_fmadd_ps(xp, w0, acc[p][0]);
            acc[p][1] = _mm512_fmadd_ps(xp, w1, acc[p][1]);
        }
    }
    for (int p = 0; p < P; p++) _mm512_store_ps(buf + OB * p, acc[p][0]), _mm512_store_ps(buf + OB * p + 16, acc[p][1]);
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

static CK_AVX512 void lanes_avx512(const float *packed, const float *bias, const float *residual, const float *x, float *y, int k,
                                   int ldx, int ldy, int row_begin, int row_end, int col_begin, int col_end, ck_activation act) {
    const int n = col_end - col_begin, tiles = (n + PMAX - 1) / PMAX;
    const int blocks = k / BLOCK_K > 1 ? k / BLOCK_K : 1;
    float buf[CHUNK_TILES * PMAX * OB] __attribute__((aligned(64)));
    // Tile t covers pixels [col_begin + n·t/tiles, col_begin + n·(t+1)/tiles): balanced, ≤ 14.
#define TILE_BEGIN(t) (col_begin + (int)((long)n * (t) / tiles))
    for (int t0 = 0; t0 < tiles; t0 += CHUNK_TILES) {
        const int t1 = t0 + CHUNK_TILES < tiles ? t0 + CHUNK_TILES : tiles;
        for (int row = row_begin; row < row_end; row += OB) {
            const int rows = row_end - row < OB ? row_end - row : OB;
            const float *b = bias ? bias + row : 0;
            for (int blk = 0; blk < blocks; blk++) {
                const int k0 = (int)((long)k * blk / blocks), k1 = (int)((long)k * (blk + 1) / blocks);
                const float *wp = packed + ((size_t)(row / OB) * k + k0) * OB;
                for (int t = t0; t < t1; t++) {
                    const int p0 = TILE_BEGIN(t), p1 = TILE_BEGIN(t + 1);
                    float *tb = buf + (t - t0) * PMAX * OB;
                    const float *xs = x + (size_t)k0 * ldx + p0;
                    // The weights are one stream in the order the blocks use them: the next
                    // block's (or the next 32 rows' first) start right after this one. The
                    // chunk's tiles share its rows (tile i fetches rows i, i + T, …).
                    const int spread = t1 - t0, i = t - t0;
                    const float *next = wp + ((size_t)(k1 - k0) + i) * OB;
                    const int next_rows = (k1 - k0 - i + spread - 1) / spread;
                    switch (p1 - p0) {
#define PART(P) case P: tile_part(wp, xs, ldx, k1 - k0, b, rows, blk == 0, tb, next, next_rows, spread, P); break;
                        PART(14) PART(13) PART(12) PART(11) PART(10) PART(9) PART(8)
                        PART(7) PART(6) PART(5) PART(4) PART(3) PART(2) PART(1)
#undef PART
                    }
                }
            }
            for (int t = t0; t < t1; t++) {
                const int p0 = TILE_BEGIN(t);
                const size_t at = (size_t)row * ldy + p0;
                tile_out(buf + (t - t0) * PMAX * OB, residual ? residual + at : 0, y + at, ldy, rows, act, TILE_BEGIN(t + 1) - p0);
            }
        }
    }
#undef TILE_BEGIN
}

#endif

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
