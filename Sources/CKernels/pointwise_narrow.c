// Pointwise convolution for narrow images (see ck_pointwise_narrow.h). Loop order: channel
// panels outside, pixel tiles inside, so one panel of W (16 × k floats) is reused from L1/L2
// by every tile while the transposed X (k × 6 per tile, all tiles ≤ 250 KB at k = 1152 and 49
// pixels) streams from L2. The 6 × 16 tile lives in 12 registers over all of k (no k-blocks:
// partial sums would have to be stored transposed).
#include "ck_pointwise_narrow.h"
#include "ck_cpu.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include "ck_avx2_common.h"
#endif

enum { PC = CK_PWN_PANEL_CHANNELS, TP = CK_PWN_TILE_PIXELS };

static int narrow_tiles(int n) { return (n + TP - 1) / TP; }

size_t ck_pointwise_narrow_packed_floats(int m, int k) { return (size_t)((m + PC - 1) / PC) * PC * (size_t)k; }

void ck_pointwise_narrow_pack(const float *w, int m, int k, float *packed) {
    const int panels = (m + PC - 1) / PC;
    for (int p = 0; p < panels; p++)
        for (int kk = 0; kk < k; kk++)
            for (int c = 0; c < PC; c++) {
                const int row = p * PC + c;
                packed[((size_t)p * k + kk) * PC + c] = row < m ? w[(size_t)row * k + kk] : 0.0f;
            }
}

size_t ck_pointwise_narrow_scratch_floats(int k, int n) { return (size_t)narrow_tiles(n) * TP * (size_t)(k > 0 ? k : 1); }

#if defined(__x86_64__)

/// R pixels (≤ 6) × 16 channels of panel `ap` over k: acc[r][v] = channels 8v … 8v+7 of pixel r.
/// Epilogue: + bias (a vector per 8 channels), + residual, activation, then each lane stored
/// to its channel's row (Y is channel-major), channels past `channels` skipped.
CK_INLINE_AVX2 void narrow_tile_avx2(const float *ap, const float *xt, const float *bias, const float *res, float *y, int k,
                                     int ldy, int channels, ck_activation act, const int R) {
    __m256 acc[TP][2];
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int kk = 0; kk < k; kk++) {
        const __m256 w0 = _mm256_loadu_ps(ap + (size_t)kk * PC), w1 = _mm256_loadu_ps(ap + (size_t)kk * PC + 8);
        const float *xr = xt + (size_t)kk * TP;
        for (int r = 0; r < R; r++) {
            const __m256 b = _mm256_broadcast_ss(xr + r);
            acc[r][0] = _mm256_fmadd_ps(b, w0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(b, w1, acc[r][1]);
        }
    }
    const __m256 b0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    const __m256 b1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
    float lanes[PC] __attribute__((aligned(32)));
    for (int r = 0; r < R; r++) {
        __m256 v0 = _mm256_add_ps(acc[r][0], b0), v1 = _mm256_add_ps(acc[r][1], b1);
        if (res) {
            _mm256_store_ps(lanes, v0);
            _mm256_store_ps(lanes + 8, v1);
            for (int c = 0; c < channels; c++) lanes[c] += res[(size_t)c * ldy + r];
            v0 = _mm256_load_ps(lanes);
            v1 = _mm256_load_ps(lanes + 8);
        }
        _mm256_store_ps(lanes, activate8(v0, act));
        _mm256_store_ps(lanes + 8, activate8(v1, act));
        for (int c = 0; c < channels; c++) y[(size_t)c * ldy + r] = lanes[c];
    }
}

static CK_AVX2 void narrow_conv_avx2(const float *packed, const float *bias, const float *residual, const float *x, float *y,
                                     int k, int n, int ldx, int ldy, int row_begin, int row_end, ck_activation act, float *xt) {
    const int tiles = narrow_tiles(n);
    // X transposed: tile t, column kk, pixel r at (t·k + kk)·6 + r; pixels past n are zero.
    for (int t = 0; t < tiles; t++)
        for (int kk = 0; kk < k; kk++)
            for (int r = 0; r < TP; r++) {
                const int j = t * TP + r;
                xt[((size_t)t * k + kk) * TP + r] = j < n ? x[(size_t)kk * ldx + j] : 0.0f;
            }
    float bias_pad[PC] __attribute__((aligned(32)));
    for (int c0 = row_begin; c0 < row_end; c0 += PC) {
        const int channels = row_end - c0 < PC ? row_end - c0 : PC;
        const float *ap = packed + (size_t)(c0 / PC) * k * PC;
        const float *bp = 0;
        if (bias) {
            for (int c = 0; c < PC; c++) bias_pad[c] = c < channels ? bias[c0 + c] : 0.0f;
            bp = bias_pad;
        }
        for (int t = 0; t < tiles; t++) {
            const int j = t * TP, rows = n - j < TP ? n - j : TP;
            const float *xtt = xt + (size_t)t * k * TP;
            const float *rt = residual ? residual + (size_t)c0 * ldy + j : 0;
            float *yt = y + (size_t)c0 * ldy + j;
            switch (rows) {
            case 6: narrow_tile_avx2(ap, xtt, bp, rt, yt, k, ldy, channels, act, 6); break;
            case 5: narrow_tile_avx2(ap, xtt, bp, rt, yt, k, ldy, channels, act, 5); break;
            case 4: narrow_tile_avx2(ap, xtt, bp, rt, yt, k, ldy, channels, act, 4); break;
            case 3: narrow_tile_avx2(ap, xtt, bp, rt, yt, k, ldy, channels, act, 3); break;
            case 2: narrow_tile_avx2(ap, xtt, bp, rt, yt, k, ldy, channels, act, 2); break;
            default: narrow_tile_avx2(ap, xtt, bp, rt, yt, k, ldy, channels, act, 1); break;
            }
        }
    }
}

#endif

int ck_pointwise_narrow_conv(const float *packed, const float *bias, const float *residual, const float *x, float *y, int m,
                             int k, int n, int ldx, int ldy, int row_begin, int row_end, ck_activation act, float *scratch) {
    if (row_end > m) row_end = m;
#if defined(__x86_64__)
    if (ck_has_avx2_fma()) {
        narrow_conv_avx2(packed, bias, residual, x, y, k, n, ldx, ldy, row_begin, row_end, act, scratch);
        return 1;
    }
#endif
    (void)packed, (void)bias, (void)residual, (void)x, (void)y, (void)k, (void)n, (void)ldx, (void)ldy, (void)row_begin,
        (void)act, (void)scratch;
    return 0;
}
