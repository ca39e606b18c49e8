#include "ck_winograd.h"
#include "ck_cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include "ck_avx2_common.h"  // tail_masks: lanes of a block of n < 8 tiles, loaded at (8 − n)
#define CK_X86 1
#endif

// ---- portable: one tile at a time --------------------------------------------------------

/// r0..r3: column 2·tx of the tile's four strip rows; out: tile t of plane ξ = 0.
static inline void input_tile(const float *r0, const float *r1, const float *r2, const float *r3, float *out, long s) {
    float a[4][4];  // Bᵀ d: rows combined, per column j
    for (int j = 0; j < 4; j++) {
        a[0][j] = r0[j] - r2[j];
        a[1][j] = r1[j] + r2[j];
        a[2][j] = r2[j] - r1[j];
        a[3][j] = r1[j] - r3[j];
    }
    for (int i = 0; i < 4; i++) {  // (Bᵀ d) B: columns combined, per row i; ξ = 4i + j
        float *o = out + 4 * i * s;
        o[0] = a[i][0] - a[i][2];
        o[s] = a[i][1] + a[i][2];
        o[2 * s] = a[i][2] - a[i][1];
        o[3 * s] = a[i][1] - a[i][3];
    }
}

static inline float clamp(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

/// Aᵀ P A for the tile whose ξ = 0 product is at q, plus bias: (row 0 col 0, r0 c1, r1 c0, r1 c1).
static inline void output_tile(const float *q, long s, float bias, float out[4]) {
#define AT(x) q[(long)(x) * s]
    float s00 = AT(0) + AT(4) + AT(8), s01 = AT(1) + AT(5) + AT(9);
    float s02 = AT(2) + AT(6) + AT(10), s03 = AT(3) + AT(7) + AT(11);
    float s10 = AT(4) - AT(8) - AT(12), s11 = AT(5) - AT(9) - AT(13);
    float s12 = AT(6) - AT(10) - AT(14), s13 = AT(7) - AT(11) - AT(15);
#undef AT
    out[0] = s00 + s01 + s02 + bias;
    out[1] = s01 - s02 - s03 + bias;
    out[2] = s10 + s11 + s12 + bias;
    out[3] = s11 - s12 - s13 + bias;
}

/// Tiles tx0 ..< tiles_w of tile row ty, one at a time.
static void input_row_portable(const float *strip, int ty, int tx0, int tw, float *v, long s) {
    const int sw = 2 * tw + 2;
    const float *r0 = strip + 2 * ty * sw, *r1 = r0 + sw, *r2 = r1 + sw, *r3 = r2 + sw;
    for (int tx = tx0; tx < tw; tx++) {
        int k = 2 * tx;
        input_tile(r0 + k, r1 + k, r2 + k, r3 + k, v + ty * tw + tx, s);
    }
}

static void output_row_portable(const float *p, long s, int ty, int tx0, int tw, float *y, int out_w, int out_rows,
                                float bias, float lo, float hi) {
    const int oy = 2 * ty;
    const int second = oy + 1 < out_rows;
    float *row0 = y + (long)oy * out_w, *row1 = row0 + out_w;
    for (int tx = tx0; tx < tw; tx++) {
        float o[4];
        output_tile(p + ty * tw + tx, s, bias, o);
        int ox = 2 * tx;
        row0[ox] = clamp(o[0], lo, hi);
        if (ox + 1 < out_w) row0[ox + 1] = clamp(o[1], lo, hi);
        if (second) {
            row1[ox] = clamp(o[2], lo, hi);
            if (ox + 1 < out_w) row1[ox + 1] = clamp(o[3], lo, hi);
        }
    }
}

// ---- AVX2: 8 tiles per vector ------------------------------------------------------------
#ifdef CK_X86
/// (p[0], p[2], …, p[14]) and (p[1], p[3], …, p[15]): columns j and j+1 of 8 tiles 2 apart.
__attribute__((target("avx2,fma"))) static inline void deinterleave(const float *p, __m256 *even, __m256 *odd) {
    __m256 lo = _mm256_loadu_ps(p), hi = _mm256_loadu_ps(p + 8);
    // Per 128-bit lane [lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6], then 64-bit blocks reordered 0,2,1,3.
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88)), 0xD8));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xDD)), 0xD8));
}

/// 8 tiles tx ..< tx + 8 of tile row ty. The block reads strip columns up to 2·tx + 17 ≤
/// 2·tiles_w + 1, inside the strip row.
__attribute__((target("avx2,fma"))) static inline void input_block_avx2(const float *const r[4], int ty, int tx, int tw,
                                                                        float *v, long s) {
    const int k = 2 * tx;
    __m256 d[4][4];  // d[row][column j] for 8 tiles
    for (int i = 0; i < 4; i++) {
        deinterleave(r[i] + k, &d[i][0], &d[i][1]);
        deinterleave(r[i] + k + 2, &d[i][2], &d[i][3]);
    }
    __m256 a[4][4];
    for (int j = 0; j < 4; j++) {
        a[0][j] = _mm256_sub_ps(d[0][j], d[2][j]);
        a[1][j] = _mm256_add_ps(d[1][j], d[2][j]);
        a[2][j] = _mm256_sub_ps(d[2][j], d[1][j]);
        a[3][j] = _mm256_sub_ps(d[1][j], d[3][j]);
    }
    float *out = v + ty * tw + tx;
    for (int i = 0; i < 4; i++) {
        float *o = out + 4 * i * s;
        _mm256_storeu_ps(o, _mm256_sub_ps(a[i][0], a[i][2]));
        _mm256_storeu_ps(o + s, _mm256_add_ps(a[i][1], a[i][2]));
        _mm256_storeu_ps(o + 2 * s, _mm256_sub_ps(a[i][2], a[i][1]));
        _mm256_storeu_ps(o + 3 * s, _mm256_sub_ps(a[i][1], a[i][3]));
    }
}

/// Every tile of tile row ty when tiles_w ≥ 8 (returns tiles_w), else none (returns 0). A
/// ragged end is done as one more block overlapping the previous one: tiles are independent,
/// so recomputing a few writes the same values (profiled: the scalar tail was ~40 % of the
/// transform time on VGG's 14×14 and 28×28 layers).
__attribute__((target("avx2,fma"))) static int input_row_avx2(const float *strip, int ty, int tw, float *v, long s) {
    if (tw < 8) return 0;
    const int sw = 2 * tw + 2;
    const float *r[4];
    r[0] = strip + 2 * ty * sw;
    for (int i = 1; i < 4; i++) r[i] = r[i - 1] + sw;
    int tx = 0;
    for (; tx + 8 <= tw; tx += 8) input_block_avx2(r, ty, tx, tw, v, s);
    if (tx < tw) input_block_avx2(r, ty, tw - 8, tw, v, s);
    return tw;
}

/// Full tiles (both columns inside) of a tile row whose both output rows are inside, 8 at a
/// time, a ragged end as one more overlapping block; returns how many were done (0 when
/// fewer than 8).
__attribute__((target("avx2,fma"))) static int output_row_avx2(const float *p, long s, int ty, int tw, float *y, int out_w,
                                                               float bias, float lo, float hi) {
    const int full = out_w / 2;
    float *row0 = y + (long)(2 * ty) * out_w, *row1 = row0 + out_w;
    const __m256 vb = _mm256_set1_ps(bias), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    if (full < 8) return 0;
    for (int block = 0; block < full; block += 8) {
        const int tx = block + 8 <= full ? block : full - 8;
        const float *q = p + ty * tw + tx;
#define AT(x) _mm256_loadu_ps(q + (long)(x) * s)
        __m256 s00 = _mm256_add_ps(_mm256_add_ps(AT(0), AT(4)), AT(8));
        __m256 s01 = _mm256_add_ps(_mm256_add_ps(AT(1), AT(5)), AT(9));
        __m256 s02 = _mm256_add_ps(_mm256_add_ps(AT(2), AT(6)), AT(10));
        __m256 s03 = _mm256_add_ps(_mm256_add_ps(AT(3), AT(7)), AT(11));
        __m256 s10 = _mm256_sub_ps(_mm256_sub_ps(AT(4), AT(8)), AT(12));
        __m256 s11 = _mm256_sub_ps(_mm256_sub_ps(AT(5), AT(9)), AT(13));
        __m256 s12 = _mm256_sub_ps(_mm256_sub_ps(AT(6), AT(10)), AT(14));
        __m256 s13 = _mm256_sub_ps(_mm256_sub_ps(AT(7), AT(11)), AT(15));
#undef AT
        // Same association as the portable path: ((a + b) + c) + bias.
        __m256 v0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s00, s01), s02), vb);
        __m256 v1 = _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(s01, s02), s03), vb);
        __m256 v2 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s10, s11), s12), vb);
        __m256 v3 = _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(s11, s12), s13), vb);
        v0 = _mm256_min_ps(_mm256_max_ps(v0, vlo), vhi);
        v1 = _mm256_min_ps(_mm256_max_ps(v1, vlo), vhi);
        v2 = _mm256_min_ps(_mm256_max_ps(v2, vlo), vhi);
        v3 = _mm256_min_ps(_mm256_max_ps(v3, vlo), vhi);
        // Interleave columns: row0 = v0[0] v1[0] v0[1] v1[1] … (16 floats).
        __m256 l0 = _mm256_unpacklo_ps(v0, v1), h0 = _mm256_unpackhi_ps(v0, v1);
        __m256 l1 = _mm256_unpacklo_ps(v2, v3), h1 = _mm256_unpackhi_ps(v2, v3);
        float *o0 = row0 + 2 * tx, *o1 = row1 + 2 * tx;
        _mm256_storeu_ps(o0, _mm256_permute2f128_ps(l0, h0, 0x20));
        _mm256_storeu_ps(o0 + 8, _mm256_permute2f128_ps(l0, h0, 0x31));
        _mm256_storeu_ps(o1, _mm256_permute2f128_ps(l1, h1, 0x20));
        _mm256_storeu_ps(o1 + 8, _mm256_permute2f128_ps(l1, h1, 0x31));
    }
    return full;
}
#endif

// ---- entry points ------------------------------------------------------------------------

void ck_wino2_input(const float *strip, int rows, int tiles_w, float *v, long plane_stride, int avx2) {
    for (int ty = 0; ty < rows; ty++) {
        int done = 0;
#ifdef CK_X86
        if (avx2) done = input_row_avx2(strip, ty, tiles_w, v, plane_stride);
#else
        (void)avx2;
#endif
        input_row_portable(strip, ty, done, tiles_w, v, plane_stride);
    }
}

void ck_wino2_output(const float *p, long plane_stride, int rows, int tiles_w, float *y, int out_w, int out_rows,
                     float bias, float lo, float hi, int avx2) {
    for (int ty = 0; ty < rows && 2 * ty < out_rows; ty++) {
        int done = 0;
#ifdef CK_X86
        if (avx2 && 2 * ty + 1 < out_rows) done = output_row_avx2(p, plane_stride, ty, tiles_w, y, out_w, bias, lo, hi);
#else
        (void)avx2;
#endif
        output_row_portable(p, plane_stride, ty, done, tiles_w, y, out_w, out_rows, bias, lo, hi);
    }
}

// ---- F(4×4, 3×3) -------------------------------------------------------------------------
// Bᵀ = [[4,0,−5,0,1,0],[0,−4,−4,1,1,0],[0,4,−4,−1,1,0],[0,−2,−1,2,1,0],[0,2,−1,−2,1,0],
// [0,4,0,−5,0,1]] and Aᵀ = [[1,1,1,1,1,0],[0,1,−1,2,−2,0],[0,1,1,4,4,0],[0,1,−1,8,−8,1]]
// (Lavin & Gray's interpolation points 0, ±1, ±2, ∞), applied to rows then to columns with
// the shared partial sums below; the same operations on scalars and on 8-tile vectors.
#define CK_W4_IN(T, ADD, SUB, MUL, C, d0, d1, d2, d3, d4, d5, o0, o1, o2, o3, o4, o5)   \
    do {                                                                               \
        T t0_ = SUB(d4, MUL(C(4.0f), d2)), t1_ = SUB(d3, MUL(C(4.0f), d1));              \
        T t2_ = SUB(d4, d2), t3_ = MUL(C(2.0f), SUB(d3, d1));                            \
        o0 = ADD(SUB(MUL(C(4.0f), d0), MUL(C(5.0f), d2)), d4);                           \
        o1 = ADD(t0_, t1_);                                                            \
        o2 = SUB(t0_, t1_);                                                            \
        o3 = ADD(t2_, t3_);                                                            \
        o4 = SUB(t2_, t3_);                                                            \
        o5 = ADD(SUB(MUL(C(4.0f), d1), MUL(C(5.0f), d3)), d5);                           \
    } while (0)
#define CK_W4_OUT(T, ADD, SUB, MUL, C, m0, m1, m2, m3, m4, m5, o0, o1, o2, o3)          \
    do {                                                                               \
        T s1_ = ADD(m1, m2), d1_ = SUB(m1, m2), s2_ = ADD(m3, m4), d2_ = SUB(m3, m4);    \
        o0 = ADD(ADD(m0, s1_), s2_);                                                   \
        o1 = ADD(d1_, MUL(C(2.0f), d2_));                                              \
        o2 = ADD(s1_, MUL(C(4.0f), s2_));                                              \
        o3 = ADD(ADD(d1_, MUL(C(8.0f), d2_)), m5);                                     \
    } while (0)
#define S_ADD(a, b) ((a) + (b))
#define S_SUB(a, b) ((a) - (b))
#define S_MUL(a, b) ((a) * (b))
#define S_C(x) (x)

/// Tile (ty, tx) of the strip (row stride sw) into v[ξ·s + t].
static void input_tile4(const float *strip, int sw, int ty, int tx, float *v, long s) {
    const float *d = strip + (long)(4 * ty) * sw + 4 * tx;
    float a[6][6];  // Bᵀ d, per column j
    for (int j = 0; j < 6; j++)
        CK_W4_IN(float, S_ADD, S_SUB, S_MUL, S_C, d[j], d[sw + j], d[2 * sw + j], d[3 * sw + j], d[4 * sw + j],
                 d[5 * sw + j], a[0][j], a[1][j], a[2][j], a[3][j], a[4][j], a[5][j]);
    for (int i = 0; i < 6; i++) {
        float *o = v + 6 * i * s;
        CK_W4_IN(float, S_ADD, S_SUB, S_MUL, S_C, a[i][0], a[i][1], a[i][2], a[i][3], a[i][4], a[i][5], o[0], o[s],
                 o[2 * s], o[3 * s], o[4 * s], o[5 * s]);
    }
}

/// Tile t (at q = p + t) into its 4×4 outputs at y (row stride out_w), `rows` × `cols` kept.
static void output_tile4(const float *q, long s, float *y, int out_w, int rows, int cols, float bias, float lo, float hi) {
    float a[4][6];  // Aᵀ m, per column j
    for (int j = 0; j < 6; j++)
        CK_W4_OUT(float, S_ADD, S_SUB, S_MUL, S_C, q[j * s], q[(6 + j) * s], q[(12 + j) * s], q[(18 + j) * s],
                  q[(24 + j) * s], q[(30 + j) * s], a[0][j], a[1][j], a[2][j], a[3][j]);
    for (int r = 0; r < rows; r++) {
        float o[4];
        CK_W4_OUT(float, S_ADD, S_SUB, S_MUL, S_C, a[r][0], a[r][1], a[r][2], a[r][3], a[r][4], a[r][5], o[0], o[1], o[2],
                  o[3]);
        for (int c = 0; c < cols; c++) y[(long)r * out_w + c] = clamp(o[c] + bias, lo, hi);
    }
}

#ifdef CK_X86
#define V_ADD(a, b) _mm256_add_ps(a, b)
#define V_SUB(a, b) _mm256_sub_ps(a, b)
#define V_MUL(a, b) _mm256_mul_ps(a, b)
#define V_C(x) _mm256_set1_ps(x)

/// Top-left corner (row 4·ty, column 4·tx) of `count` consecutive F(4×4) tiles from t0, tw
/// tiles a row: one division, then stepping along the rows.
static inline void tile_origins(int t0, int count, int tw, int *oy, int *ox) {
    int ty = t0 / tw, tx = t0 % tw;
    for (int l = 0; l < count; l++) {
        oy[l] = 4 * ty, ox[l] = 4 * tx;
        if (++tx == tw) tx = 0, ty++;
    }
}

/// Lanes of the 4×4 transposes below: r[l] = [tile l | tile l + 4] (4 floats each) into
/// c[j] = column j of tiles 0 … 7 in order.
__attribute__((target("avx2,fma"))) static inline void transpose_4x4_lanes(const __m256 r[4], __m256 c[4]) {
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    c[0] = _mm256_shuffle_ps(t0, t2, 0x44);
    c[1] = _mm256_shuffle_ps(t0, t2, 0xEE);
    c[2] = _mm256_shuffle_ps(t1, t3, 0x44);
    c[3] = _mm256_shuffle_ps(t1, t3, 0xEE);
}

/// 8 tiles t0 … t0 + 7 (`count` ≤ 8 of them real; lanes past it repeat the last tile and are
/// not stored), across tile rows: each lane gathers its own 6×6 window (4 + 4 floats per
/// row, so windows 4 apart in a row, or in different rows, cost the same), transposed into
/// vectors of one window element over the 8 tiles. `out`: tile t0's slot (ξ = 0) in V.
__attribute__((target("avx2,fma"))) static void input_block4_avx2(const float *strip, int sw, int tw, int t0, int count,
                                                                  float *out, long s) {
    const float *base[8];
    int tile_oy[8], tile_ox[8];
    tile_origins(t0, count, tw, tile_oy, tile_ox);
    for (int l = 0; l < 8; l++) {
        const int k = l < count ? l : count - 1;
        base[l] = strip + (long)tile_oy[k] * sw + tile_ox[k];
    }
    __m256 d[6][6];  // d[row][column] over the 8 tiles
    for (int i = 0; i < 6; i++) {
        __m256 lo[4], hi[4], c[4];
        for (int l = 0; l < 4; l++) {
            const float *a = base[l] + (long)i * sw, *b = base[l + 4] + (long)i * sw;
            lo[l] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(a)), _mm_loadu_ps(b), 1);
            hi[l] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(a + 4)), _mm_loadu_ps(b + 4), 1);
        }
        transpose_4x4_lanes(lo, c);
        for (int j = 0; j < 4; j++) d[i][j] = c[j];
        transpose_4x4_lanes(hi, c);
        d[i][4] = c[0], d[i][5] = c[1];
    }
    __m256 a[6][6];
    for (int j = 0; j < 6; j++)
        CK_W4_IN(__m256, V_ADD, V_SUB, V_MUL, V_C, d[0][j], d[1][j], d[2][j], d[3][j], d[4][j], d[5][j], a[0][j], a[1][j],
                 a[2][j], a[3][j], a[4][j], a[5][j]);
    const __m256i mask = _mm256_loadu_si256((const __m256i *)(tail_masks + 8 - count));
    for (int i = 0; i < 6; i++) {
        __m256 o[6];
        CK_W4_IN(__m256, V_ADD, V_SUB, V_MUL, V_C, a[i][0], a[i][1], a[i][2], a[i][3], a[i][4], a[i][5], o[0], o[1], o[2],
                 o[3], o[4], o[5]);
        for (int j = 0; j < 6; j++) {
            float *dst = out + (6 * i + j) * s;
            if (count == 8)
                _mm256_storeu_ps(dst, o[j]);
            else
                _mm256_maskstore_ps(dst, mask, o[j]);
        }
    }
}

/// One tile row's part of a block of consecutive tiles: an output row of the block is a
/// sequence of floats (tile l's 4 columns at 4·l … 4·l + 3), and floats [first, last) of it —
/// this part's tiles, cut at the output's right edge — belong at base + f in the part's first
/// output row (+ out_w per row after it), for `rows` output rows (more than 4: all 4).
typedef struct {
    float *base;
    int rows, first, last;
} row_segment;

/// The parts of tiles t0 … t0 + count − 1 (tw a tile row) in tile rows; returns how many.
/// Storing each part's run at base (masked to [first, last)) replaces storing every tile's
/// 4-float row pieces one by one — position, bounds, extract, store per tile and row, which
/// took most of the output transform (perf, session 15: the transform was a third of
/// SqueezeNet's 16-channel Winograd layers).
static inline int block_segments(int t0, int count, int tw, float *y, int out_w, int out_rows, row_segment *seg) {
    int n = 0;
    for (int l0 = 0, ty = t0 / tw, tx = t0 - (t0 / tw) * tw; l0 < count; ty++, tx = 0, n++) {
        const int tiles = tw - tx < count - l0 ? tw - tx : count - l0, ox = 4 * tx;
        seg[n].first = 4 * l0;
        seg[n].last = seg[n].first + (4 * tiles < out_w - ox ? 4 * tiles : out_w - ox);
        seg[n].base = y + (long)(4 * ty) * out_w + ox - seg[n].first;
        seg[n].rows = out_rows - 4 * ty;
        l0 += tiles;
    }
    return n;
}

/// Float f of a row's sequence as a lane of the vector holding floats start … start + width − 1,
/// clamped to [0, width]: a segment [first, last) covers that vector's lanes [lane(first), lane(last)).
static inline int lane_of(int f, int start, int width) { return f - start < 0 ? 0 : f - start > width ? width : f - start; }

/// Lanes [from, to) of q to row[from] … row[to − 1] (0 ≤ from < to ≤ 8, not all 8): a whole
/// half as one 128-bit store, anything else under a mask built here (see output_block4_avx2).
__attribute__((target("avx2,fma"))) static inline void store_lanes(float *row, __m256 q, int from, int to) {
    if (from == 0 && to == 4)
        _mm_storeu_ps(row, _mm256_castps256_ps128(q));
    else if (from == 4 && to == 8)
        _mm_storeu_ps(row + 4, _mm256_extractf128_ps(q, 1));
    else
        _mm256_maskstore_ps(row,
                            _mm256_andnot_si256(_mm256_loadu_si256((const __m256i *)(tail_masks + 8 - from)),
                                                _mm256_loadu_si256((const __m256i *)(tail_masks + 8 - to))),
                            q);
}

/// 8 tiles t0 … t0 + 7 (`count` real) of a band: products loaded 8 tiles at a time (tile
/// t0's ξ = 0 product at p), the 4×4 outputs transposed back to one 4-float row piece per
/// tile; tiles cut by the output edge store only their inside part.
__attribute__((target("avx2,fma"))) static void output_block4_avx2(const float *p, long s, int tw, int t0, int count, float *y,
                                                                   int out_w, int out_rows, float bias, float lo,
                                                                   float hi) {
    const __m256i mask = _mm256_loadu_si256((const __m256i *)(tail_masks + 8 - count));
    __m256 a[4][6];
    for (int j = 0; j < 6; j++) {
        __m256 m[6];
        for (int i = 0; i < 6; i++)
            m[i] = count == 8 ? _mm256_loadu_ps(p + (6 * i + j) * s) : _mm256_maskload_ps(p + (6 * i + j) * s, mask);
        CK_W4_OUT(__m256, V_ADD, V_SUB, V_MUL, V_C, m[0], m[1], m[2], m[3], m[4], m[5], a[0][j], a[1][j], a[2][j], a[3][j]);
    }
    row_segment seg[8];
    const int segments = block_segments(t0, count, tw, y, out_w, out_rows, seg);
    const __m256 vb = _mm256_set1_ps(bias), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    for (int r = 0; r < 4; r++) {
        __m256 o[4], c[4];
        CK_W4_OUT(__m256, V_ADD, V_SUB, V_MUL, V_C, a[r][0], a[r][1], a[r][2], a[r][3], a[r][4], a[r][5], o[0], o[1], o[2],
                  o[3]);
        for (int k = 0; k < 4; k++) o[k] = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(o[k], vb), vlo), vhi);
        // o[k] = column k over tiles 0 … 7; the same in-lane transpose turns that into
        // c[l] = [tile l | tile l + 4] (4 columns each), and 128-bit permutes put the tiles in order.
        transpose_4x4_lanes(o, c);
        const __m256 q[4] = {_mm256_permute2f128_ps(c[0], c[1], 0x20), _mm256_permute2f128_ps(c[2], c[3], 0x20),
                             _mm256_permute2f128_ps(c[0], c[1], 0x31), _mm256_permute2f128_ps(c[2], c[3], 0x31)};
        for (int g = 0; g < segments; g++) {
            if (r >= seg[g].rows) continue;
            float *row = seg[g].base + (long)r * out_w;
            // Whole vectors store plain (vmaskmovps costs several times a store on AVX2 cores),
            // and so do whole halves: a segment starts and ends on a tile (4 floats) unless the
            // output's right edge cuts it. Only what is left takes a mask, built here rather
            // than for every segment and vector up front. Against masks built up front and
            // every partial vector masked (C harness, one thread, 16 channels' output transform,
            // alternating in one process, the same output bit for bit): 55×55 0.85–0.86 of the
            // time, 56×56 0.80–0.81, 27×27 0.83–0.85, 28×28 0.69–0.70, 13×13 0.93–0.94,
            // 14×14 0.94–1.00 (masks built lazily without the halves: 0.85, 0.83–0.85, 0.88,
            // 0.85, 0.88–0.90, 0.90; every partial vector stored without masks, the leftover
            // floats one by one: 0.91, 0.87–0.91, 0.88, 0.77, 0.92–0.95, 0.96–0.97). Whole
            // passes, the two versions alternating pass by pass in one process (AVX2 EPYC,
            // session 20): SqueezeNet 0.987 of the time at two threads, 0.991 at one;
            // ResNet-50 and DenseNet-121 0.997–0.998.
            for (int k = 0; k < 4; k++)
                if (8 * k >= seg[g].first && 8 * k + 8 <= seg[g].last)
                    _mm256_storeu_ps(row + 8 * k, q[k]);
                else if (8 * k < seg[g].last && 8 * k + 8 > seg[g].first)
                    store_lanes(row + 8 * k, q[k], lane_of(seg[g].first, 8 * k, 8), lane_of(seg[g].last, 8 * k, 8));
        }
    }
}

// ---- F(4×4) input transform on 16 tiles per zmm (AVX-512) ----
// The same gathers, in-lane transposes and arithmetic as the 8-tile AVX2 block, with four
// 128-bit lanes per vector instead of two: r[l] = [tile l | l + 4 | l + 8 | l + 12]. perf on
// SqueezeNet, one thread: input transform 3.8 → 2.7 % of all samples. The output transform
// runs 16 tiles a zmm too (output_block4_avx512, below): a first 16-tile version had measured
// the same as 8 tiles because both stored every tile's 4-float row pieces one by one (position,
// bounds, extract, store: most of the function). Stored as runs of whole rows instead, the
// transform of a 16 → 64 channel 55×55 layer went from 0.86 to 0.40 of its products' samples
// (perf, one thread, session 15); SqueezeNet at two threads 1.045 (benchmarks/turns.py
// against the old stores, quartiles 1.00–1.12). Fusing the products with it instead (P kept in
// L1 per 6-row panel and 32 tiles) left the transform's share unchanged: reading 36 planes
// from L2 was not its cost.
#define W_ADD(a, b) _mm512_add_ps(a, b)
#define W_SUB(a, b) _mm512_sub_ps(a, b)
#define W_MUL(a, b) _mm512_mul_ps(a, b)
#define W_C(x) _mm512_set1_ps(x)

/// transpose_4x4_lanes on four 128-bit lanes: c[j] = column j of tiles 0 … 15 in order.
CK_INLINE_AVX512 void transpose_4x4_lanes16(const __m512 r[4], __m512 c[4]) {
    const __m512 t0 = _mm512_unpacklo_ps(r[0], r[1]), t1 = _mm512_unpackhi_ps(r[0], r[1]);
    const __m512 t2 = _mm512_unpacklo_ps(r[2], r[3]), t3 = _mm512_unpackhi_ps(r[2], r[3]);
    c[0] = _mm512_shuffle_ps(t0, t2, 0x44);
    c[1] = _mm512_shuffle_ps(t0, t2, 0xEE);
    c[2] = _mm512_shuffle_ps(t1, t3, 0x44);
    c[3] = _mm512_shuffle_ps(t1, t3, 0xEE);
}

/// Four 4-float pieces a, b, c, d into one zmm [a | b | c | d].
CK_INLINE_AVX512 __m512 pieces4(const float *a, const float *b, const float *c, const float *d) {
    const __m512 lo = _mm512_castps256_ps512(_mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(a)), _mm_loadu_ps(b), 1));
    const __m256 hi = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(c)), _mm_loadu_ps(d), 1);
    return _mm512_insertf32x8(lo, hi, 1);
}

/// input_block4_avx2 for 16 tiles t0 … t0 + 15 (`count` ≤ 16 real).
static CK_AVX512 void input_block4_avx512(const float *strip, int sw, int tw, int t0, int count, float *out, long s) {
    const float *base[16];
    int tile_oy[16], tile_ox[16];
    tile_origins(t0, count, tw, tile_oy, tile_ox);
    for (int l = 0; l < 16; l++) {
        const int k = l < count ? l : count - 1;
        base[l] = strip + (long)tile_oy[k] * sw + tile_ox[k];
    }
    __m512 d[6][6];
    for (int i = 0; i < 6; i++) {
        __m512 lo[4], hi[4], c[4];
        for (int l = 0; l < 4; l++) {
            const long o = (long)i * sw;
            lo[l] = pieces4(base[l] + o, base[l + 4] + o, base[l + 8] + o, base[l + 12] + o);
            hi[l] = pieces4(base[l] + o + 4, base[l + 4] + o + 4, base[l + 8] + o + 4, base[l + 12] + o + 4);
        }
        transpose_4x4_lanes16(lo, c);
        for (int j = 0; j < 4; j++) d[i][j] = c[j];
        transpose_4x4_lanes16(hi, c);
        d[i][4] = c[0], d[i][5] = c[1];
    }
    __m512 a[6][6];
    for (int j = 0; j < 6; j++)
        CK_W4_IN(__m512, W_ADD, W_SUB, W_MUL, W_C, d[0][j], d[1][j], d[2][j], d[3][j], d[4][j], d[5][j], a[0][j], a[1][j],
                 a[2][j], a[3][j], a[4][j], a[5][j]);
    const __mmask16 mask = (__mmask16)((1u << count) - 1u);
    for (int i = 0; i < 6; i++) {
        __m512 o[6];
        CK_W4_IN(__m512, W_ADD, W_SUB, W_MUL, W_C, a[i][0], a[i][1], a[i][2], a[i][3], a[i][4], a[i][5], o[0], o[1], o[2],
                 o[3], o[4], o[5]);
        for (int j = 0; j < 6; j++) _mm512_mask_storeu_ps(out + (6 * i + j) * s, mask, o[j]);
    }
}


/// output_block4_avx2 for 16 tiles t0 … t0 + 15 (`count` ≤ 16 real), 16 tiles per zmm.
static CK_AVX512 void output_block4_avx512(const float *p, long s, int tw, int t0, int count, float *y, int out_w, int out_rows,
                                           float bias, float lo, float hi) {
    const __mmask16 live = count >= 16 ? 0xFFFF : (__mmask16)((1u << count) - 1u);
    __m512 a[4][6];
    for (int j = 0; j < 6; j++) {
        __m512 m[6];
        for (int i = 0; i < 6; i++) m[i] = _mm512_maskz_loadu_ps(live, p + (6 * i + j) * s);
        CK_W4_OUT(__m512, W_ADD, W_SUB, W_MUL, W_C, m[0], m[1], m[2], m[3], m[4], m[5], a[0][j], a[1][j], a[2][j], a[3][j]);
    }
    row_segment seg[16];
    const int segments = block_segments(t0, count, tw, y, out_w, out_rows, seg);
    __mmask16 keep[16][4];  // segment g's lanes of the row's k-th 16 floats
    for (int g = 0; g < segments; g++)
        for (int k = 0; k < 4; k++) {
            const int lo_lane = lane_of(seg[g].first, 16 * k, 16), hi_lane = lane_of(seg[g].last, 16 * k, 16);
            keep[g][k] = (__mmask16)(((1u << hi_lane) - 1u) & ~((1u << lo_lane) - 1u));
        }
    const __m512 vb = _mm512_set1_ps(bias), vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    for (int r = 0; r < 4; r++) {
        __m512 o[4], c[4];
        CK_W4_OUT(__m512, W_ADD, W_SUB, W_MUL, W_C, a[r][0], a[r][1], a[r][2], a[r][3], a[r][4], a[r][5], o[0], o[1], o[2],
                  o[3]);
        for (int k = 0; k < 4; k++) o[k] = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(o[k], vb), vlo), vhi);
        // o[k] = column k over tiles 0 … 15; the in-lane transpose gives c[l] = [tile l | l + 4 |
        // l + 8 | l + 12], and two rounds of 128-bit lane shuffles put the tiles in order.
        transpose_4x4_lanes16(o, c);
        const __m512 u0 = _mm512_shuffle_f32x4(c[0], c[1], _MM_SHUFFLE(1, 0, 1, 0));  // tiles 0 4 1 5
        const __m512 u1 = _mm512_shuffle_f32x4(c[2], c[3], _MM_SHUFFLE(1, 0, 1, 0));  // 2 6 3 7
        const __m512 u2 = _mm512_shuffle_f32x4(c[0], c[1], _MM_SHUFFLE(3, 2, 3, 2));  // 8 12 9 13
        const __m512 u3 = _mm512_shuffle_f32x4(c[2], c[3], _MM_SHUFFLE(3, 2, 3, 2));  // 10 14 11 15
        const __m512 q[4] = {_mm512_shuffle_f32x4(u0, u1, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_f32x4(u0, u1, _MM_SHUFFLE(3, 1, 3, 1)),
                             _mm512_shuffle_f32x4(u2, u3, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_f32x4(u2, u3, _MM_SHUFFLE(3, 1, 3, 1))};
        for (int g = 0; g < segments; g++) {
            if (r >= seg[g].rows) continue;
            float *row = seg[g].base + (long)r * out_w;
            for (int k = 0; k < 4; k++)
                if (keep[g][k]) _mm512_mask_storeu_ps(row + 16 * k, keep[g][k], q[k]);
        }
    }
}

#endif

void ck_wino4_input_tiles(const float *strip, int tiles_w, int first, int count, float *v, long plane_stride, int avx2) {
    const int sw = 4 * tiles_w + 2, end = first + count;
    int t = first;
#ifdef CK_X86
    if (avx2 && ck_has_avx512())
        for (; t < end; t += 16)
            input_block4_avx512(strip, sw, tiles_w, t, end - t < 16 ? end - t : 16, v + (t - first), plane_stride);
    else if (avx2)
        for (; t < end; t += 8) input_block4_avx2(strip, sw, tiles_w, t, end - t < 8 ? end - t : 8, v + (t - first), plane_stride);
#else
    (void)avx2;
#endif
    for (; t < end; t++) input_tile4(strip, sw, t / tiles_w, t % tiles_w, v + (t - first), plane_stride);
}

void ck_wino4_output_tiles(const float *p, long plane_stride, int tiles_w, int first, int count, float *y, int out_w,
                           int out_rows, float bias, float lo, float hi, int avx2) {
    const int end = first + count;
    int t = first;
#ifdef CK_X86
    if (avx2 && ck_has_avx512()) {
        for (; t < end; t += 16)
            output_block4_avx512(p + (t - first), plane_stride, tiles_w, t, end - t < 16 ? end - t : 16, y, out_w, out_rows,
                                 bias, lo, hi);
    } else if (avx2) {
        for (; t < end; t += 8)
            output_block4_avx2(p + (t - first), plane_stride, tiles_w, t, end - t < 8 ? end - t : 8, y, out_w, out_rows, bias,
                               lo, hi);
    }
#else
    (void)avx2;
#endif
    for (; t < end; t++) {
        const int ty = t / tiles_w, tx = t % tiles_w, oy = 4 * ty, ox = 4 * tx;
        if (oy >= out_rows) continue;
        const int r = out_rows - oy < 4 ? out_rows - oy : 4, c = out_w - ox < 4 ? out_w - ox : 4;
        output_tile4(p + (t - first), plane_stride, y + (long)oy * out_w + ox, out_w, r, c, bias, lo, hi);
    }
}
