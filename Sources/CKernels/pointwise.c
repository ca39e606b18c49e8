// Pointwise convolution / packed GEMM (see ck_pointwise.h). Loop order: k-blocks outside
// (BLOCK_K), then column strips of 16, weight panels inside, so one strip of X (a k-block's
// rows × 16 floats; copied contiguously first when enough panels reuse it, else read in place
// with row stride ldx) stays in L1 while every panel of W passes over it; the 6×16 tile of Y
// lives in 12 registers from the bias (or Y's partial sum) to the store. On AVX-512, calls whose
// output outgrows L2 with short k-blocks take the other order, BLIS's (block_avx512_chunked).
//
// There is no portable version: without AVX2+FMA, OpenBLAS's sgemm (which has kernels for
// every CPU) plus a separate epilogue is faster than anything plain C would do here, so the
// caller uses that instead.
#include "ck_pointwise.h"
#include "ck_cpu.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#include "ck_avx2_common.h"
#endif

enum { PR = CK_PW_PANEL_ROWS };

/// K is cut into floor(K / BLOCK_K) balanced blocks (so 128 … 255 values each; none below 256).
/// Measured single-threaded (CPU time, AVX2 on the EPYC, GFLOP/s unblocked → blocked):
/// M×K×N 512×4608×49: 46 → 56; 256×3456×169: 63 → 71; 384×256×49: 64 → 69; 512×512×126:
/// 80 → 82; blocks below ~128 lost on wide N (64×147×12544: 67 → 64 with two blocks of 74).
/// A 128 × 16 strip of X is 8 KB (L1), a block of W panels 512 B per row (L2 for M ≤ 1000).
#ifndef CK_PW_BLOCK_K  // benchmarks/packed-gemm builds variants with -DCK_PW_BLOCK_K=…
#define CK_PW_BLOCK_K 128
#endif
enum { BLOCK_K = CK_PW_BLOCK_K };
#ifndef CK_PW_PACK_MIN_PANELS  // experiments: -DCK_PW_PACK_MIN_PANELS=…
#define CK_PW_PACK_MIN_PANELS 8
#endif
enum { PACK_MIN_PANELS = CK_PW_PACK_MIN_PANELS };
#ifndef CK_PW_NARROW_MAX  // experiments: -DCK_PW_NARROW_MAX=… (0 = masked tiles only)
#define CK_PW_NARROW_MAX 3
#endif

/// Past the panels: PACK_SLACK zero floats, so that the narrow kernel's 8-float loads of a
/// 6-row panel column (2 lanes beyond it) never leave the buffer. A multiple of 8 keeps
/// group strides of packed buffers 32-byte aligned.
enum { PACK_SLACK = 8 };

size_t ck_pointwise_packed_floats(int m, int k) { return (size_t)((m + PR - 1) / PR) * PR * (size_t)k + PACK_SLACK; }

/// The k-blocks: floor(k / BLOCK_K) balanced blocks (at least one); block b is [k0, k1).
static inline int block_count(int k) { return k / BLOCK_K > 1 ? k / BLOCK_K : 1; }
static inline int block_start(int k, int b, int blocks) { return (int)((long)k * b / blocks); }

/// Block-major: block b's panels lie one after another ([panel][kk in block][row]), so the
/// kernel reads each block's weights as one sequential stream (with one panel after another k
/// floats apart, every 3 KB panel chunk started a new stream for the prefetchers). Measured on
/// ResNet-50, whose 100 MB of weights come from DRAM on every pass: its 7×7 1×1 layers 1.9 →
/// 1.7 ms each, one thread (thread CPU time).
void ck_pointwise_pack(const float *w, int m, int k, float *packed) {
    const int panels = (m + PR - 1) / PR, blocks = block_count(k);
    for (int b = 0; b < blocks; b++) {
        const int k0 = block_start(k, b, blocks), kb = block_start(k, b + 1, blocks) - k0;
        float *block = packed + (size_t)k0 * panels * PR;
        for (int p = 0; p < panels; p++)
            for (int kk = 0; kk < kb; kk++)
                for (int r = 0; r < PR; r++) {
                    const int row = p * PR + r;
                    block[((size_t)p * kb + kk) * PR + r] = row < m ? w[(size_t)row * k + k0 + kk] : 0.0f;
                }
    }
    for (int i = 0; i < PACK_SLACK; i++) packed[(size_t)panels * PR * k + i] = 0.0f;
}

#if defined(__x86_64__)

/// How a tile's accumulators start: from the bias (NULL = 0) plus the residual (NULL = none) on
/// the first k-block, from Y itself on the later ones (Y then holds the partial sum).
enum { INIT_BIAS = 0, INIT_Y = 1 };

/// R rows (≤ 6) × V vectors (1 or 2) of 8 columns over k values of the panel; with MASKED the
/// last vector has only `last` valid lanes (loaded and stored under a mask, so nothing past
/// the row is touched).
CK_INLINE_AVX2 void tile_avx2(const float *ap, const float *bias, const float *res, const float *x, float *y, int k,
                              int ldx, int ldy, int init, ck_activation act, int last, const int R, const int V,
                              const int MASKED) {
    __m256 acc[PR][2];
    const __m256i mask = _mm256_loadu_si256((const __m256i *)(tail_masks + 8 - last));
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) {
            const float *from = init == INIT_Y ? y + (size_t)r * ldy + 8 * v : res ? res + (size_t)r * ldy + 8 * v : 0;
            const __m256 start = bias && init == INIT_BIAS ? _mm256_set1_ps(bias[r]) : _mm256_setzero_ps();
            acc[r][v] = !from ? start
                        : _mm256_add_ps(start, (MASKED && v == V - 1) ? _mm256_maskload_ps(from, mask) : _mm256_loadu_ps(from));
        }
    for (int kk = 0; kk < k; kk++) {
        const float *xr = x + (size_t)kk * ldx;
        __m256 b[2];
        for (int v = 0; v < V; v++)
            b[v] = (MASKED && v == V - 1) ? _mm256_maskload_ps(xr + 8 * v, mask) : _mm256_loadu_ps(xr + 8 * v);
        const float *a = ap + (size_t)kk * PR;
        for (int r = 0; r < R; r++) {
            const __m256 av = _mm256_broadcast_ss(a + r);
            for (int v = 0; v < V; v++) acc[r][v] = _mm256_fmadd_ps(av, b[v], acc[r][v]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) {
            const __m256 out = activate8(acc[r][v], act);
            if (MASKED && v == V - 1)
                _mm256_maskstore_ps(y + (size_t)r * ldy + 8 * v, mask, out);
            else
                _mm256_storeu_ps(y + (size_t)r * ldy + 8 * v, out);
        }
}

/// One panel of `rows` rows over `cols` (1…16) columns: picks the instantiation.
CK_INLINE_AVX2 void tile_dispatch(const float *ap, const float *bias, const float *res, const float *x, float *y, int rows,
                                  int cols, int k, int ldx, int ldy, int init, ck_activation act, const int V,
                                  const int MASKED) {
    const int last = cols - 8 * (V - 1);
    switch (rows) {
    case 6: tile_avx2(ap, bias, res, x, y, k, ldx, ldy, init, act, last, 6, V, MASKED); break;
    case 5: tile_avx2(ap, bias, res, x, y, k, ldx, ldy, init, act, last, 5, V, MASKED); break;
    case 4: tile_avx2(ap, bias, res, x, y, k, ldx, ldy, init, act, last, 4, V, MASKED); break;
    case 3: tile_avx2(ap, bias, res, x, y, k, ldx, ldy, init, act, last, 3, V, MASKED); break;
    case 2: tile_avx2(ap, bias, res, x, y, k, ldx, ldy, init, act, last, 2, V, MASKED); break;
    default: tile_avx2(ap, bias, res, x, y, k, ldx, ldy, init, act, last, 1, V, MASKED); break;
    }
}

/// The last few columns of a strip (1 … 3 past its whole 8-column vectors: the 1 of a 7×7
/// plane's 49 columns, of 13×13's 169, of 27×27's 729), with vectors running down the
/// panels' rows instead of along the columns. As a masked tile the single column of a 7×7
/// plane cost 6 broadcasts, a load and 6 FMAs (one lane used of each) per k, ~60 % of a whole
/// 16-column strip. Here a k costs, per panel, one load of its 6 rows (8 lanes read, 6 used:
/// PACK_SLACK keeps the last read inside the buffer) and one FMA per column, each column's
/// value broadcast once for all P panels. Measured (benchmarks/packed-gemm, one thread, GFLOP/s
/// masked tile → narrow): 2048×512×49 69 → 80, 512×4608×49 66 → 76, 32×1152×49 63 → 72. Four
/// columns (14×14's 196) ran 2 % slower than the masked tile (P = 2 or 3), so they stay on it.
/// P panels at once (rows [row, row + 6·P) of them, the last possibly short: `last_rows`
/// valid in it), C columns, U interleaved k-accumulators per panel and column, so that P·C·U
/// ≥ 8 independent FMA chains cover the FMA latency of both pipes.
CK_INLINE_AVX2 void narrow_avx2(const float *ap, int panel_stride, const float *bias, const float *res, const float *x, float *y,
                                int k, int ldx, int ldy, int init, ck_activation act, int last_rows, const int P,
                                const int C, const int U) {
    __m256 acc[4][4][2];
    for (int p = 0; p < P; p++)
        for (int c = 0; c < C; c++)
            for (int u = 0; u < U; u++) acc[p][c][u] = _mm256_setzero_ps();
    int kk = 0;
    for (; kk + U <= k; kk += U)
        for (int u = 0; u < U; u++) {
            __m256 xv[4];
            for (int c = 0; c < C; c++) xv[c] = _mm256_broadcast_ss(x + (size_t)(kk + u) * ldx + c);
            for (int p = 0; p < P; p++) {
                const __m256 a = _mm256_loadu_ps(ap + (size_t)p * panel_stride + (size_t)(kk + u) * PR);
                for (int c = 0; c < C; c++) acc[p][c][u] = _mm256_fmadd_ps(a, xv[c], acc[p][c][u]);
            }
        }
    for (; kk < k; kk++)
        for (int p = 0; p < P; p++) {
            const __m256 a = _mm256_loadu_ps(ap + (size_t)p * panel_stride + (size_t)kk * PR);
            for (int c = 0; c < C; c++) acc[p][c][0] = _mm256_fmadd_ps(a, _mm256_broadcast_ss(x + (size_t)kk * ldx + c), acc[p][c][0]);
        }
    for (int p = 0; p < P; p++) {
        const int rows = p == P - 1 ? last_rows : PR;
        for (int c = 0; c < C; c++) {
            __m256 sum = acc[p][c][0];
            for (int u = 1; u < U; u++) sum = _mm256_add_ps(sum, acc[p][c][u]);
            float lanes[8] __attribute__((aligned(32)));
            _mm256_store_ps(lanes, sum);
            for (int r = 0; r < rows; r++) {
                float *out = y + (size_t)(p * PR + r) * ldy + c;
                float start = init == INIT_Y ? *out : (bias ? bias[p * PR + r] : 0.0f) + (res ? res[(size_t)(p * PR + r) * ldy + c] : 0.0f);
                lanes[r] += start;
            }
            const __m256 out = activate8(_mm256_load_ps(lanes), act);
            _mm256_store_ps(lanes, out);
            for (int r = 0; r < rows; r++) y[(size_t)(p * PR + r) * ldy + c] = lanes[r];
        }
    }
}

/// Columns [0, cols) (1 … 3) of rows [row_begin, row_end) of one k-block, P panels at a time.
CK_INLINE_AVX2 void narrow_columns(const float *packed_block, int kb, const float *bias, const float *res, const float *x, float *y,
                                   int ldx, int ldy, int row_begin, int row_end, int cols, int init, ck_activation act) {
    // Panels per call by column count: P·C·U ≥ 8 chains, P + C + P·C·U ≤ 16 registers.
    // The switch's cases are every (C, P) it can see.
    const int group = cols == 3 ? 3 : 4;
    for (int row = row_begin; row < row_end; row += group * PR) {
        const int panels_left = (row_end - row + PR - 1) / PR;
        const int p = panels_left < group ? panels_left : group;
        const int last_rows = row_end - (row + (p - 1) * PR) < PR ? row_end - (row + (p - 1) * PR) : PR;
        const float *ap = packed_block + (size_t)(row / PR) * kb * PR;
        const float *bt = bias ? bias + row : 0;
        const float *rt = res ? res + (size_t)row * ldy : 0;
        float *yt = y + (size_t)row * ldy;
        const int stride = kb * PR;
#define CK_NARROW(PP, CC, UU) narrow_avx2(ap, stride, bt, rt, x, yt, kb, ldx, ldy, init, act, last_rows, PP, CC, UU)
        switch (cols * 8 + p) {
        case 1 * 8 + 4: CK_NARROW(4, 1, 2); break;
        case 1 * 8 + 3: CK_NARROW(3, 1, 2); break;
        case 1 * 8 + 2: CK_NARROW(2, 1, 2); break;
        case 1 * 8 + 1: CK_NARROW(1, 1, 2); break;
        case 2 * 8 + 4: CK_NARROW(4, 2, 1); break;
        case 2 * 8 + 3: CK_NARROW(3, 2, 1); break;
        case 2 * 8 + 2: CK_NARROW(2, 2, 1); break;
        case 2 * 8 + 1: CK_NARROW(1, 2, 1); break;
        case 3 * 8 + 3: CK_NARROW(3, 3, 1); break;
        case 3 * 8 + 2: CK_NARROW(2, 3, 1); break;
        default: CK_NARROW(1, 3, 1); break;
        }
#undef CK_NARROW
    }
}

/// Largest k-block: blocks are 128 … 255 values (K / floor(K / 128) < 256), or all of K when
/// K < 256.
enum { BLOCK_K_MAX = 2 * BLOCK_K };

/// Whether to copy each strip of X into a contiguous buffer (as sgemm packs B) before the
/// panels pass over it. In place, the strip's rows are ldx floats apart: at plane sizes like
/// 56×56 or 112×112 (ldx·4 = 784 lines ≡ 16 mod 64 sets) they fall into a few L1 sets and the
/// strip is re-read from L2 by every panel; at 7×7 they straddle cache lines. The copy costs
/// one pass over the strip, so it pays when enough panels reuse it. Measured per shape
/// (benchmarks/packed-gemm, 1 thread, M×K×N, GFLOP/s in place → copied): 64×256×3136 69 → 74,
/// 256×64×3136 75 → 80, 128×512×784 75 → 79, 2048×512×49 65 → 68, 1024³ 46 → 69; but
/// 32×1152×49 (6 panels) 61 → 56, hence the panel minimum.
static inline int should_pack_strips(int rows) { return rows >= PACK_MIN_PANELS * PR; }

/// kb rows × cols (≤ 16) floats of X (row stride ldx) into dst (row stride 16), zero-filled.
CK_INLINE_AVX2 void copy_strip(const float *x, int ldx, int kb, int cols, float *dst) {
    if (cols == 16) {
        for (int kk = 0; kk < kb; kk++) {
            const float *r = x + (size_t)kk * ldx;
            _mm256_store_ps(dst + 16 * kk, _mm256_loadu_ps(r));
            _mm256_store_ps(dst + 16 * kk + 8, _mm256_loadu_ps(r + 8));
        }
        return;
    }
    for (int kk = 0; kk < kb; kk++) {
        const float *r = x + (size_t)kk * ldx;
        for (int c = 0; c < 16; c++) dst[16 * kk + c] = c < cols ? r[c] : 0.0f;
    }
}

/// One block: k values [k0, k0 + kb) of rows [row_begin, row_end) over columns [col_begin,
/// col_end). Column strips of 16 outside, panels inside, so the kb × 16 strip of X stays in L1
/// while the block's panels (in L2) pass over it.
static CK_AVX2 void block_avx2(const float *packed, const float *bias, const float *residual, const float *x, float *y, int m,
                               int k0, int kb, int ldx, int ldy, int row_begin, int row_end, int col_begin, int col_end,
                               int init, ck_activation act) {
    const float *xb = x + (size_t)k0 * ldx;
    const int panels = (m + PR - 1) / PR;
    const int pack = should_pack_strips(row_end - row_begin);
    // The block's strip of X copied contiguously (kb × 16, zero past the last column).
    float strip[BLOCK_K_MAX * 16] __attribute__((aligned(32)));
    for (int j = col_begin; j < col_end; j += 16) {
        const int cols = col_end - j < 16 ? col_end - j : 16;
        // Prefetch the next strip of X while this one is used by every panel: its kb rows are
        // ldx apart, which the hardware prefetchers do not follow.
        if (j + 16 < col_end)
            for (int kk = 0; kk < kb; kk++) _mm_prefetch((const char *)(xb + (size_t)kk * ldx + j + 16), _MM_HINT_T0);
        const float *xs = xb + j;
        int lds = ldx;
        if (pack) {
            copy_strip(xb + j, ldx, kb, cols, strip);
            xs = strip, lds = 16;
        }
        // A strip's last 1 … 4 columns past whole vectors go to the narrow kernel.
        const int tail = cols & 7, narrow = cols < 16 && tail != 0 && tail <= CK_PW_NARROW_MAX;
        const int wide = narrow ? cols - tail : cols;
        if (narrow)
            narrow_columns(packed + (size_t)k0 * panels * PR, kb, bias, residual ? residual + j + wide : 0, xs + wide,
                           y + j + wide, lds, ldy, row_begin, row_end, tail, init, act);
        for (int row = row_begin; wide > 0 && row < row_end; row += PR) {
            const int rows = row_end - row < PR ? row_end - row : PR;
            const float *ap = packed + ((size_t)k0 * panels + (size_t)(row / PR) * kb) * PR;
            float *yt = y + (size_t)row * ldy + j;
            const float *rt = residual ? residual + (size_t)row * ldy + j : 0;
            const float *bt = bias ? bias + row : 0;
            if (j + 16 < col_end)
                for (int r = 0; r < rows; r++) {
                    if (rt && init == INIT_BIAS) _mm_prefetch((const char *)(rt + (size_t)r * ldy + 16), _MM_HINT_T0);
                    _mm_prefetch((const char *)(yt + (size_t)r * ldy + 16), _MM_HINT_T0);
                }
            if (wide == 16)
                tile_dispatch(ap, bt, rt, xs, yt, rows, wide, kb, lds, ldy, init, act, 2, 0);
            else if (wide > 8)
                tile_dispatch(ap, bt, rt, xs, yt, rows, wide, kb, lds, ldy, init, act, 2, 1);
            else if (wide == 8)
                tile_dispatch(ap, bt, rt, xs, yt, rows, wide, kb, lds, ldy, init, act, 1, 0);
            else
                tile_dispatch(ap, bt, rt, xs, yt, rows, wide, kb, lds, ldy, init, act, 1, 1);
        }
    }
}

// ---- AVX-512: the same loop nest over strips of 32 columns, 6 × 32 tiles in 12 zmm ----
//
// On CPUs with AVX-512 (Intel since Skylake-SP) a zmm FMA does twice the work of a ymm one at
// the same rate: measured on the Emerald Rapids Xeon of this project's machines, 170 against
// 86 GFLOP/s per core, and ONNX Runtime's MLAS uses it. The panels stay 6 rows (the packing,
// and every caller's row split in whole panels, are shared with the AVX2 path); a tile is
// 6 rows × 2 zmm of 16 columns: per k two loads of X, six broadcasts of W, twelve FMAs. Ragged
// edges are masked (AVX-512 masks make partial loads and stores cheap, and masked-off lanes
// never fault); a strip's last 1 … 3 columns past whole vectors still take the AVX2 narrow
// kernel (a 7×7 plane's 49 = 32 + 16 + 1). Twelve rows (two panels, 24 accumulators, fewer
// loads per FMA) measured 0.95–1.00× of this hot on open-nsfw's and ResNet-50's 1×1 shapes
// (session 13, as a function of its own: inlined here, clang spilled its accumulators, the
// activation's hoisted constants having taken the last registers), so six rows stay.

/// Columns per strip of X on the AVX-512 path (two zmm).
enum { STRIP512 = 32 };

/// R rows (≤ 6) × V zmm (1 or 2) of 16 columns over k values of the panel; with MASKED the
/// last zmm has only the lanes of `last` (loaded and stored under it).
CK_INLINE_AVX512 void tile_avx512(const float *ap, const float *bias, const float *res, const float *x, float *y, int k, int ldx,
                                  int ldy, int init, ck_activation act, __mmask16 last, const int R, const int V, const int MASKED) {
    __m512 acc[PR][2];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) {
            const float *from = init == INIT_Y ? y + (size_t)r * ldy + 16 * v : res ? res + (size_t)r * ldy + 16 * v : 0;
            const __m512 start = bias && init == INIT_BIAS ? _mm512_set1_ps(bias[r]) : _mm512_setzero_ps();
            acc[r][v] = !from ? start
                        : _mm512_add_ps(start, (MASKED && v == V - 1) ? _mm512_maskz_loadu_ps(last, from) : _mm512_loadu_ps(from));
        }
    if (V == 1) {
        // One zmm per row gives only R ≤ 6 chains of dependent FMAs, fewer than the 8 that keep
        // two FMA pipes of latency 4 busy: even and odd k accumulate apart (acc[r][1]), summed
        // at the end. (Sixteen-column tiles: F(2×2) Winograd products at 7×7, whose 16 tiles
        // are one vector, and the 16-column rest of 49- and 196-column planes.)
        for (int r = 0; r < R; r++) acc[r][1] = _mm512_setzero_ps();
        int kk = 0;
        for (; kk + 2 <= k; kk += 2) {
            const float *xr = x + (size_t)kk * ldx;
            const __m512 b0 = MASKED ? _mm512_maskz_loadu_ps(last, xr) : _mm512_loadu_ps(xr);
            const __m512 b1 = MASKED ? _mm512_maskz_loadu_ps(last, xr + ldx) : _mm512_loadu_ps(xr + ldx);
            const float *a = ap + (size_t)kk * PR;
            for (int r = 0; r < R; r++) {
                acc[r][0] = _mm512_fmadd_ps(_mm512_set1_ps(a[r]), b0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(_mm512_set1_ps(a[PR + r]), b1, acc[r][1]);
            }
        }
        if (kk < k) {
            const float *xr = x + (size_t)kk * ldx;
            const __m512 b0 = MASKED ? _mm512_maskz_loadu_ps(last, xr) : _mm512_loadu_ps(xr);
            const float *a = ap + (size_t)kk * PR;
            for (int r = 0; r < R; r++) acc[r][0] = _mm512_fmadd_ps(_mm512_set1_ps(a[r]), b0, acc[r][0]);
        }
        for (int r = 0; r < R; r++) acc[r][0] = _mm512_add_ps(acc[r][0], acc[r][1]);
    } else {
        for (int kk = 0; kk < k; kk++) {
            const float *xr = x + (size_t)kk * ldx;
            __m512 b[2];
            for (int v = 0; v < V; v++) b[v] = (MASKED && v == V - 1) ? _mm512_maskz_loadu_ps(last, xr + 16 * v) : _mm512_loadu_ps(xr + 16 * v);
            const float *a = ap + (size_t)kk * PR;
            for (int r = 0; r < R; r++) {
                const __m512 av = _mm512_set1_ps(a[r]);
                for (int v = 0; v < V; v++) acc[r][v] = _mm512_fmadd_ps(av, b[v], acc[r][v]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) {
            const __m512 out = activate16(acc[r][v], act);
            if (MASKED && v == V - 1)
                _mm512_mask_storeu_ps(y + (size_t)r * ldy + 16 * v, last, out);
            else
                _mm512_storeu_ps(y + (size_t)r * ldy + 16 * v, out);
        }
}

/// One panel of `rows` rows over `cols` (1 … 32) columns: picks the instantiation.
CK_INLINE_AVX512 void tile_dispatch512(const float *ap, const float *bias, const float *res, const float *x, float *y, int rows,
                                       int cols, int k, int ldx, int ldy, int init, ck_activation act, const int V, const int MASKED) {
    const __mmask16 last = (__mmask16)((1u << (cols - 16 * (V - 1))) - 1u);
    switch (rows) {
    case 6: tile_avx512(ap, bias, res, x, y, k, ldx, ldy, init, act, last, 6, V, MASKED); break;
    case 5: tile_avx512(ap, bias, res, x, y, k, ldx, ldy, init, act, last, 5, V, MASKED); break;
    case 4: tile_avx512(ap, bias, res, x, y, k, ldx, ldy, init, act, last, 4, V, MASKED); break;
    case 3: tile_avx512(ap, bias, res, x, y, k, ldx, ldy, init, act, last, 3, V, MASKED); break;
    case 2: tile_avx512(ap, bias, res, x, y, k, ldx, ldy, init, act, last, 2, V, MASKED); break;
    default: tile_avx512(ap, bias, res, x, y, k, ldx, ldy, init, act, last, 1, V, MASKED); break;
    }
}

/// kb rows × cols (≤ 32) floats of X (row stride ldx) into dst (row stride 32), zero-filled.
CK_INLINE_AVX512 void copy_strip32(const float *x, int ldx, int kb, int cols, float *dst) {
    const __mmask16 lo = half_mask(cols, 0), hi = half_mask(cols, 1);
    for (int kk = 0; kk < kb; kk++) {
        const float *r = x + (size_t)kk * ldx;
        _mm512_store_ps(dst + 32 * kk, _mm512_maskz_loadu_ps(lo, r));
        _mm512_store_ps(dst + 32 * kk + 16, _mm512_maskz_loadu_ps(hi, r + 16));
    }
}

/// The column matrix of a convolution that is never written out (ck_implicit_conv): one
/// image's (group's) input planes and the window; patch row r = (c·kernel_h + ky)·kernel_w + kx.
typedef struct {
    const float *x;
    const ck_window *w;
} implicit_columns;

/// Patch rows [k0, k0 + kb) of output pixels [j, j + cols) (cols ≤ 32) gathered straight from
/// the input into dst (row stride 32), zero where the window lies in the padding and past cols:
/// the strip the packed kernel would otherwise copy from an im2col buffer. Each pixel's window
/// origin (its tap (0, 0) input position) is computed once per strip. A 16-pixel half whose
/// pixels lie in one output row and whose tap reads inside the plane is a contiguous run of the
/// input row at stride 1 or 2: one load (stride 1), or two and a permute keeping the even
/// floats (stride 2). Any other half (padding, a half crossing output rows, other strides)
/// takes a masked gather: two compares for the padding and one gather, masked-off lanes never
/// read. A gather of 16 floats measured ~20 cycles here; the contiguous run costs 2–3 and
/// matters where few panels share each strip (ResNet-50's stem: 11 panels of 6 rows over
/// strips of 147 patch rows). Cutting the other halves into runs of one output row each (one
/// masked load per run at stride 1, two and a permute at stride 2, instead of the gather)
/// measured slower (session 14, one thread, hot, both alternating in one process while a
/// build loaded the machine: SqueezeNet's 111-wide 3×3 stride-2 stem 0.93 of this, its
/// 55×55 16 → 64 3×3 layers 0.96, ResNet-50's stem 0.94): the masks and the loop over runs
/// cost more than the gathers they replaced.
CK_INLINE_AVX512 void gather_strip32(const implicit_columns *src, int k0, int kb, long j, int cols, float *dst) {
    const ck_window *w = src->w;
    int iy0[STRIP512] __attribute__((aligned(64))), ix0[STRIP512] __attribute__((aligned(64)));
    int oy = (int)(j / w->out_w), ox = (int)(j % w->out_w);
    for (int i = 0; i < STRIP512; i++) {
        iy0[i] = oy * w->stride_h - w->pad_top, ix0[i] = ox * w->stride_w - w->pad_left;
        if (++ox == w->out_w) ox = 0, oy++;
    }
    const __m512i y0[2] = {_mm512_load_si512(iy0), _mm512_load_si512(iy0 + 16)};
    const __m512i x0[2] = {_mm512_load_si512(ix0), _mm512_load_si512(ix0 + 16)};
    const __m512i in_w = _mm512_set1_epi32(w->in_w), in_h = _mm512_set1_epi32(w->in_h);
    const __m512i origin[2] = {_mm512_add_epi32(_mm512_mullo_epi32(y0[0], in_w), x0[0]),
                               _mm512_add_epi32(_mm512_mullo_epi32(y0[1], in_w), x0[1])};
    const __mmask16 live[2] = {half_mask(cols, 0), half_mask(cols, 1)};
    // A half runs contiguously when all 16 of its pixels are live and in one output row, at
    // stride 1 or 2: then its input columns for tap kx are ix0[first] + dx + s·i.
    const int s = w->stride_w, runs = s == 1 || s == 2;
    const int in_row[2] = {runs && cols >= 16 && iy0[0] == iy0[15], runs && cols >= 32 && iy0[16] == iy0[31]};
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const size_t plane = (size_t)w->in_h * w->in_w;
    const int taps = w->kernel_h * w->kernel_w;
    int c = k0 / taps, ky = k0 % taps / w->kernel_w, kx = k0 % w->kernel_w;
    for (int kk = 0; kk < kb; kk++) {
        const float *xc = src->x + (size_t)c * plane;
        const int dy = ky * w->dilation_h, dx = kx * w->dilation_w;
        const __m512i vdy = _mm512_set1_epi32(dy), vdx = _mm512_set1_epi32(dx), shift = _mm512_set1_epi32(dy * w->in_w + dx);
        for (int v = 0; v < 2; v++) {
            float *out = dst + STRIP512 * kk + 16 * v;
            if (in_row[v]) {
                const int iy = iy0[16 * v] + dy, ix = ix0[16 * v] + dx;
                if (iy >= 0 && iy < w->in_h && ix >= 0 && ix + 15 * s < w->in_w) {
                    const float *q = xc + (size_t)iy * w->in_w + ix;
                    // Stride 2 reads floats q[0 … 30] only (the mask spares q[31], which may lie
                    // past the input's end).
                    _mm512_store_ps(out, s == 1 ? _mm512_loadu_ps(q)
                                                : _mm512_permutex2var_ps(_mm512_loadu_ps(q), even, _mm512_maskz_loadu_ps(0x7FFF, q + 16)));
                    continue;
                }
            }
            // Unsigned compares: a negative row or column is a huge unsigned one, also outside.
            const __mmask16 inside = _mm512_mask_cmplt_epu32_mask(live[v], _mm512_add_epi32(y0[v], vdy), in_h) &
                                     _mm512_cmplt_epu32_mask(_mm512_add_epi32(x0[v], vdx), in_w);
            _mm512_store_ps(out, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), inside, _mm512_add_epi32(origin[v], shift), xc, 4));
        }
        if (++kx == w->kernel_w) {
            kx = 0;
            if (++ky == w->kernel_h) ky = 0, c++;
        }
    }
}

/// One tile of `rows` × `wide` (≤ 32) columns on AVX-512 and what both loop orders fetch around
/// it: with `fetch_next_strip`, the next strip's two lines of each of its rows of Y (and of the
/// residual) — 256 rows 12 KB apart are more streams than the hardware prefetchers follow —
/// and its share (`lines_per_tile`) of the next k-block's panels into L2 (see conv_blocks).
CK_INLINE_AVX512 void tile512_fetching(const float *ap, const float *bt, const float *rt, const float *xs, float *yt, int rows, int wide,
                                       int kb, int lds, int ldy, int init, ck_activation act, int fetch_next_strip, const float *next,
                                       size_t *next_line, size_t next_lines, size_t lines_per_tile) {
    if (fetch_next_strip)
        for (int r = 0; r < rows; r++) {
            if (rt && init == INIT_BIAS) {
                _mm_prefetch((const char *)(rt + (size_t)r * ldy + STRIP512), _MM_HINT_T0);
                _mm_prefetch((const char *)(rt + (size_t)r * ldy + STRIP512 + 16), _MM_HINT_T0);
            }
            _mm_prefetch((const char *)(yt + (size_t)r * ldy + STRIP512), _MM_HINT_T0);
            _mm_prefetch((const char *)(yt + (size_t)r * ldy + STRIP512 + 16), _MM_HINT_T0);
        }
    for (size_t l = 0; l < lines_per_tile && *next_line < next_lines; l++, ++*next_line)
        _mm_prefetch((const char *)(next + 16 * *next_line), _MM_HINT_T1);
    if (wide == 32)
        tile_dispatch512(ap, bt, rt, xs, yt, rows, wide, kb, lds, ldy, init, act, 2, 0);
    else if (wide > 16)
        tile_dispatch512(ap, bt, rt, xs, yt, rows, wide, kb, lds, ldy, init, act, 2, 1);
    else if (wide == 16)
        tile_dispatch512(ap, bt, rt, xs, yt, rows, wide, kb, lds, ldy, init, act, 1, 0);
    else
        tile_dispatch512(ap, bt, rt, xs, yt, rows, wide, kb, lds, ldy, init, act, 1, 1);
}

/// Above this many bytes of Y (plus the residual, or Y's partial sums, read) a call with packed
/// strips runs block_avx512_chunked; below, Y's lines stay in L2 and block_avx512's order
/// (3 KB of weights from L2 a tile instead of 16 KB of X) is the cheaper one.
#ifndef CK_PW_Y_BYTES_IN_L2  // experiments: -DCK_PW_Y_BYTES_IN_L2=…
#define CK_PW_Y_BYTES_IN_L2 (1 << 20)
#endif
enum { Y_BYTES_IN_L2 = CK_PW_Y_BYTES_IN_L2 };
/// … and only for k-blocks of at most this many values: the fewer FMAs a tile does, the more
/// of its time goes to Y's lines. With more, the strip kept in L1 (block_avx512) wins: on
/// ResNet-50's stem (64 × 147 × 12544) BLIS's order measured 0.82–0.90×, with this limit at
/// 128 ResNet-50's 512×128×784 + residual 0.69–0.92× and 64×96×3136 + residual 0.96–0.97×.
#ifndef CK_PW_CHUNKED_MAX_K  // experiments: -DCK_PW_CHUNKED_MAX_K=…
#define CK_PW_CHUNKED_MAX_K 64
#endif
enum { CHUNKED_MAX_K = CK_PW_CHUNKED_MAX_K };

/// Columns of X packed per chunk by block_avx512_chunked: a chunk's strips (kb × 256 floats,
/// at most 64 KB) stay in L2 while every panel passes over them. Thread-local, as the strip
/// buffer of block_avx512 lives on the stack: every thread of the process gets one (static
/// TLS), so it is sized for CHUNKED_MAX_K, not for the largest k-block.
enum { CHUNK_COLS = 256 };
static _Thread_local float chunk_strips[CHUNKED_MAX_K * CHUNK_COLS] __attribute__((aligned(64)));

/// One k-block on AVX-512 in BLIS's loop order, for outputs larger than L2: columns in chunks
/// of CHUNK_COLS, each chunk's strips of X copied (or gathered) once into `chunk_strips`; then
/// panels outside and the chunk's strips inside, so that a panel's weights (kb × 6 floats)
/// stay in L1 while the strips stream from L2, and each row of Y (and of the residual) is
/// written (read) as one sequential run per chunk. block_avx512's order walks Y and the
/// residual down 6-row tiles: where they do not fit in L2 each tile's lines come from L3,
/// and a 128-byte run unaligned to lines leaves a line shared with the next strip to be
/// fetched again a whole strip later. Measured (one thread, CPU time, L2 flushed before each
/// call, X hot; min and median of 30–40 interleaved, three runs): against block_avx512,
/// open-nsfw's 128×32×3136 + residual 1.07–1.26×, ResNet-50's 256×64×3136 + residual
/// 1.05–1.14×, 256×64×784 + residual (1.6 MB) 1.00–1.12×, SqueezeNet's 3×3 stride-2 stem
/// (64 × 27 × 12321) 1.03–1.07×.
static CK_AVX512 void block_avx512_chunked(const float *packed, const float *bias, const float *residual, const float *x, float *y,
                                           int m, int k0, int kb, int ldx, int ldy, int row_begin, int row_end, int col_begin,
                                           int col_end, int init, ck_activation act, const float *next, size_t next_floats,
                                           const implicit_columns *implicit) {
    const float *xb = implicit ? 0 : x + (size_t)k0 * ldx;
    const int panels = (m + PR - 1) / PR;
    const size_t next_lines = next ? (next_floats + 15) / 16 : 0;  // (see block_avx512)
    const size_t tiles = (size_t)((col_end - col_begin + STRIP512 - 1) / STRIP512) * (size_t)((row_end - row_begin + PR - 1) / PR);
    const size_t lines_per_tile = tiles ? (next_lines + tiles - 1) / tiles : 0;
    size_t next_line = 0;
    float *const strips = chunk_strips;
    for (int c0 = col_begin; c0 < col_end; c0 += CHUNK_COLS) {
        const int c1 = col_end - c0 < CHUNK_COLS ? col_end : c0 + CHUNK_COLS;
        for (int j = c0; j < c1; j += STRIP512) {
            const int cols = c1 - j < STRIP512 ? c1 - j : STRIP512;
            float *dst = strips + (size_t)((j - c0) / STRIP512) * kb * STRIP512;
            if (implicit)
                gather_strip32(implicit, k0, kb, j, cols, dst);
            else
                copy_strip32(xb + j, ldx, kb, cols, dst);
        }
        // Only the chunk's last strip can be partial; its last 1 … 3 columns past whole
        // vectors go to the narrow kernel, all rows at once.
        const int j_last = c0 + (c1 - c0 - 1) / STRIP512 * STRIP512, cols_last = c1 - j_last;
        const int tail = cols_last & 15, narrow = cols_last < STRIP512 && tail != 0 && tail <= CK_PW_NARROW_MAX;
        if (narrow) {
            const int at = j_last + cols_last - tail;
            narrow_columns(packed + (size_t)k0 * panels * PR, kb, bias, residual ? residual + at : 0,
                           strips + (size_t)((j_last - c0) / STRIP512) * kb * STRIP512 + cols_last - tail, y + at, STRIP512, ldy,
                           row_begin, row_end, tail, init, act);
        }
        for (int row = row_begin; row < row_end; row += PR) {
            const int rows = row_end - row < PR ? row_end - row : PR;
            const float *ap = packed + ((size_t)k0 * panels + (size_t)(row / PR) * kb) * PR;
            const float *bt = bias ? bias + row : 0;
            const float *xs = strips;
            for (int j = c0; j < c1; j += STRIP512, xs += (size_t)kb * STRIP512) {
                const int cols = c1 - j < STRIP512 ? c1 - j : STRIP512;
                const int wide = j == j_last && narrow ? cols - tail : cols;
                if (wide == 0) continue;
                float *yt = y + (size_t)row * ldy + j;
                const float *rt = residual ? residual + (size_t)row * ldy + j : 0;
                // (Here the next strip is the next tile: the next 128 bytes of the rows' runs.)
                tile512_fetching(ap, bt, rt, xs, yt, rows, wide, kb, STRIP512, ldy, init, act, j + STRIP512 < c1, next, &next_line,
                                 next_lines, lines_per_tile);
            }
        }
    }
}

/// block_avx2 over strips of 32 columns (see there for the loop order and the strip copy), or
/// block_avx512_chunked where Y outgrows L2 and K is short (see there).
static CK_AVX512 void block_avx512(const float *packed, const float *bias, const float *residual, const float *x, float *y, int m,
                                   int k0, int kb, int ldx, int ldy, int row_begin, int row_end, int col_begin, int col_end,
                                   int init, ck_activation act, const float *next, size_t next_floats, const implicit_columns *implicit) {
    const int pack = should_pack_strips(row_end - row_begin);  // (implicit strips are always built in `strip`)
    const size_t y_bytes = (size_t)(row_end - row_begin) * (size_t)(col_end - col_begin) * sizeof(float) *
                           ((residual && init == INIT_BIAS) || init == INIT_Y ? 2 : 1);
    if ((pack || implicit) && y_bytes > Y_BYTES_IN_L2 && kb <= CHUNKED_MAX_K) {
        block_avx512_chunked(packed, bias, residual, x, y, m, k0, kb, ldx, ldy, row_begin, row_end, col_begin, col_end, init, act,
                             next, next_floats, implicit);
        return;
    }
    const float *xb = implicit ? 0 : x + (size_t)k0 * ldx;
    const int panels = (m + PR - 1) / PR;
    // The next k-block's panels (our rows of them) are fetched into L2 spread evenly over this
    // block's tiles, so that memory streams while the FMAs run (see conv_blocks).
    const size_t next_lines = next ? (next_floats + 15) / 16 : 0;
    const size_t tiles = (size_t)((col_end - col_begin + STRIP512 - 1) / STRIP512) * (size_t)((row_end - row_begin + PR - 1) / PR);
    const size_t lines_per_tile = tiles ? (next_lines + tiles - 1) / tiles : 0;
    size_t next_line = 0;
    float strip[BLOCK_K_MAX * STRIP512] __attribute__((aligned(64)));
    for (int j = col_begin; j < col_end; j += STRIP512) {
        const int cols = col_end - j < STRIP512 ? col_end - j : STRIP512;
        // The next strip of X into L1 (see block_avx2). Fetching the strip 4 or 8 ahead into L2
        // as well (for wide planes whose X outgrows L2: ResNet-50's 56×56 layers) measured
        // 0.97 of this on ResNet-50 (2 threads, benchmarks/turns.py, session 14).
        if (!implicit && j + STRIP512 < col_end)
            for (int kk = 0; kk < kb; kk++) {
                _mm_prefetch((const char *)(xb + (size_t)kk * ldx + j + STRIP512), _MM_HINT_T0);
                _mm_prefetch((const char *)(xb + (size_t)kk * ldx + j + STRIP512 + 16), _MM_HINT_T0);
            }
        const float *xs = implicit ? strip : xb + j;
        int lds = ldx;
        if (implicit)
            gather_strip32(implicit, k0, kb, j, cols, strip), lds = STRIP512;
        else if (pack)
            copy_strip32(xb + j, ldx, kb, cols, strip), xs = strip, lds = STRIP512;
        const int tail = cols & 15, narrow = cols < STRIP512 && tail != 0 && tail <= CK_PW_NARROW_MAX;
        const int wide = narrow ? cols - tail : cols;
        if (narrow)
            narrow_columns(packed + (size_t)k0 * panels * PR, kb, bias, residual ? residual + j + wide : 0, xs + wide,
                           y + j + wide, lds, ldy, row_begin, row_end, tail, init, act);
        for (int row = row_begin; wide > 0 && row < row_end; row += PR) {
            const int rows = row_end - row < PR ? row_end - row : PR;
            const float *ap = packed + ((size_t)k0 * panels + (size_t)(row / PR) * kb) * PR;
            float *yt = y + (size_t)row * ldy + j;
            const float *rt = residual ? residual + (size_t)row * ldy + j : 0;
            const float *bt = bias ? bias + row : 0;
            tile512_fetching(ap, bt, rt, xs, yt, rows, wide, kb, lds, ldy, init, act, j + STRIP512 < col_end, next, &next_line,
                             next_lines, lines_per_tile);
        }
    }
}

/// Rows [row_begin, row_end) of k-block b of packed weights [m × k]: where they start and how
/// many floats they span (panels of one block lie one after another).
static const float *block_rows(const float *packed, int m, int k, int b, int row_begin, int row_end, size_t *floats) {
    const int blocks = block_count(k), panels = (m + PR - 1) / PR;
    const int k0 = block_start(k, b, blocks), kb = block_start(k, b + 1, blocks) - k0;
    *floats = row_end > row_begin ? (size_t)((row_end - row_begin + PR - 1) / PR) * kb * PR : 0;
    return packed + ((size_t)k0 * panels + (size_t)(row_begin / PR) * kb) * PR;
}

/// On AVX-512, calls of more than CHUNK_ROWS rows (and several k-blocks) run in chunks of
/// whole panels, each chunk through all its k-blocks before the next. A k-block of 2048 rows
/// is 1 MB of weights: it and the next one (fetched while it computes) filled the 2 MB L2 and
/// evicted each other; a chunk's block is at most ~264 KB. Measured (one thread, CPU time,
/// weights flushed from cache, chunks of 516 rows): 2048×512×49 1.02 → 0.93 ms, 2048×1024×49
/// 1.98 → 1.86; in ResNet-50 its 2048-row 1×1 layers 1.02–1.04 → 0.90–0.93 ms (min of 6
/// interleaved rounds); 512-row shapes unchanged (one chunk), chunks of 252 rows cost them
/// 4 % (512×1024×196). Two threads split such layers by rows already (1024 each: unchanged).
#ifndef CK_PW_CHUNK_ROWS  // experiments: -DCK_PW_CHUNK_ROWS=… (0 = no chunks)
#define CK_PW_CHUNK_ROWS 516
#endif
enum { CHUNK_ROWS = CK_PW_CHUNK_ROWS };

/// The k-blocks in order: the first starts from bias + residual, later ones add to Y (which
/// holds the partial sum), the activation runs on the last one only. K = 0 still writes
/// act(bias + residual).
///
/// On AVX-512 each block also fetches the next block's panels into L2 while it computes (a
/// few prefetches per tile, spread over all its tiles). At batch 1 a layer's weights come
/// from memory on every pass, and without this the first strip of each block streamed its
/// panels at the FMAs' pace, the memory idle during the block's other strips: measured with
/// the weights flushed from cache (one thread, CPU time, M×K×N) 512×4608×49 2.50 → 2.21 ms,
/// 256×2304×49 0.61 → 0.55, 2048×512×49 1.08 → 1.03; in open-nsfw its 7×7 im2col layers
/// 0.99 → 0.83 ms and 0.78 → 0.69 (interleaved rounds). The first block of a call stays cold
/// unless the call before named this one's weights (ck_pointwise_conv_then). Naming the next
/// layer's weights that way from every 1×1 layer followed by another (open-nsfw, one thread,
/// min of 8 interleaved rounds, session 13) made its 1×1 layers 6–14 % slower: the fetched
/// panels evict the residual and output lines the layer is working on. Rows run in chunks
/// (CHUNK_ROWS, above).
static void conv_blocks(const float *packed, const float *bias, const float *residual, const float *x, float *y, int m, int k,
                        int ldx, int ldy, int row_begin, int row_end, int col_begin, int col_end, ck_activation act, int avx512,
                        const float *then_packed, int then_m, int then_k, const implicit_columns *implicit) {
    const int blocks = block_count(k);
    const ck_activation none = {CK_ACT_NONE, 0, 0};
    if (!avx512) {
        for (int b = 0; b < blocks; b++) {
            const int k0 = block_start(k, b, blocks), k1 = block_start(k, b + 1, blocks);
            block_avx2(packed, bias, residual, x, y, m, k0, k1 - k0, ldx, ldy, row_begin, row_end, col_begin, col_end,
                       b == 0 ? INIT_BIAS : INIT_Y, b == blocks - 1 ? act : none);
        }
        return;
    }
    const int panels = (row_end - row_begin + PR - 1) / PR;
    if (panels <= 0) return;
    const int max_panels = CHUNK_ROWS > 0 && blocks > 1 ? CHUNK_ROWS / PR : panels;
    const int chunks = (panels + max_panels - 1) / max_panels;
    const int chunk = (panels + chunks - 1) / chunks * PR;
    for (int r0 = row_begin; r0 < row_end; r0 += chunk) {
        const int r1 = r0 + chunk < row_end ? r0 + chunk : row_end;
        for (int b = 0; b < blocks; b++) {
            const int k0 = block_start(k, b, blocks), k1 = block_start(k, b + 1, blocks);
            // Our rows of block b + 1, or on the last block those of the next chunk's first
            // block, or of the next call's (ck_pointwise_conv_then), fetched while this block computes.
            const float *next = 0;
            size_t next_floats = 0;
            if (b + 1 < blocks)
                next = block_rows(packed, m, k, b + 1, r0, r1, &next_floats);
            else if (r1 < row_end)
                next = block_rows(packed, m, k, 0, r1, r1 + chunk < row_end ? r1 + chunk : row_end, &next_floats);
            else if (then_packed)
                next = block_rows(then_packed, then_m, then_k, 0, row_begin, row_end < then_m ? row_end : then_m, &next_floats);
            block_avx512(packed, bias, residual, x, y, m, k0, k1 - k0, ldx, ldy, r0, r1, col_begin, col_end,
                         b == 0 ? INIT_BIAS : INIT_Y, b == blocks - 1 ? act : none, next, next_floats, implicit);
        }
    }
}

#endif

int ck_pointwise_conv_then(const float *packed, const float *bias, const float *residual, const float *x, float *y, int m, int k,
                           int ldx, int ldy, int row_begin, int row_end, int col_begin, int col_end, ck_activation act,
                           const float *then_packed, int then_m, int then_k) {
    if (row_end > m) row_end = m;
#if defined(__x86_64__)
    if (ck_has_avx2_fma()) {
        conv_blocks(packed, bias, residual, x, y, m, k, ldx, ldy, row_begin, row_end, col_begin, col_end, act, ck_has_avx512(),
                    then_packed, then_m, then_k, 0);
        return 1;
    }
#endif
    (void)packed, (void)bias, (void)residual, (void)x, (void)y, (void)k, (void)ldx, (void)ldy, (void)row_begin, (void)col_begin,
        (void)col_end, (void)act, (void)then_packed, (void)then_m, (void)then_k;
    return 0;
}

int ck_pointwise_conv(const float *packed, const float *bias, const float *residual, const float *x, float *y, int m, int k,
                      int ldx, int ldy, int row_begin, int row_end, int col_begin, int col_end, ck_activation act) {
    return ck_pointwise_conv_then(packed, bias, residual, x, y, m, k, ldx, ldy, row_begin, row_end, col_begin, col_end, act, 0, 0, 0);
}

int ck_implicit_conv(const float *packed, const float *bias, const float *x, int channels, const ck_window *window, float *y, int m,
                     int row_begin, int row_end, long pixel_begin, long pixel_end, ck_activation act) {
    if (row_end > m) row_end = m;
#if defined(__x86_64__)
    if (ck_has_avx512()) {
        const implicit_columns src = {x, window};
        const int k = channels * window->kernel_h * window->kernel_w, plane = window->out_h * window->out_w;
        conv_blocks(packed, bias, 0, 0, y, m, k, 0, plane, row_begin, row_end, (int)pixel_begin, (int)pixel_end, act, 1, 0, 0, 0,
                    &src);
        return 1;
    }
#endif
    (void)packed, (void)bias, (void)x, (void)channels, (void)window, (void)y, (void)row_begin, (void)pixel_begin, (void)pixel_end,
        (void)act;
    return 0;
}
