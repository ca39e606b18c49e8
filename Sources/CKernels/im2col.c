// im2col (see ck_im2col.h). Each patch row (c, ky, kx) is written as segments of output rows:
// the columns whose input lies left of the plane are zero, then the valid run [lo, hi) is
// copied from input row iy at horizontal stride S, then zeros; output rows whose iy is outside
// the plane are all zero. The valid run depends on kx only, so it is computed once per patch
// row. A pixel range may start and end inside an output row (bands of whole 16-column strips,
// see ConvKernel), so the first and last segments can be partial rows.
//
// Why C: the Swift loop it replaces copied stride-2 rows one float at a time (ResNet-50's
// 7×7 s2 stem spent ~0.5 ms of its 4.7 ms there); the vector paths below need AVX2 intrinsics.
#include "ck_im2col.h"
#include "ck_cpu.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#include "ck_avx2_common.h"
#endif

/// The valid output columns [lo, hi) of patch column kx (input column off + ox·stride_w inside
/// [0, in_w)), and off itself (the input column of ox = 0, may be negative).
typedef struct {
    int lo, hi, off;
} run;

static inline run valid_columns(const ck_window *w, int kx) {
    const int s = w->stride_w, o = kx * w->dilation_w - w->pad_left;
    int l = o >= 0 ? 0 : (-o + s - 1) / s;
    if (l > w->out_w) l = w->out_w;
    // Last valid ox is floor((in_w − 1 − o) / s); C division truncates, so guard the negative case.
    int h = w->in_w - o <= 0 ? 0 : (w->in_w - o + s - 1) / s;
    if (h > w->out_w) h = w->out_w;
    return (run){l, h > l ? h : l, o};
}

/// Input row of output row oy for kernel row ky, or −1 when it lies in the top/bottom padding.
static inline int input_row(const ck_window *w, int oy, int ky) {
    const int iy = oy * w->stride_h - w->pad_top + ky * w->dilation_h;
    return iy >= 0 && iy < w->in_h ? iy : -1;
}

static inline int max_int(int a, int b) { return a > b ? a : b; }
static inline int min_int(int a, int b) { return a < b ? a : b; }

/// Calls SEGMENT(oy, ox0, ox1, dst) for each output-row piece of pixels [p0, p1), dst being
/// where column ox0 of that piece goes.
#define FOR_EACH_SEGMENT(w, p0, p1, dst0, SEGMENT)                                   \
    do {                                                                             \
        float *dst_ = (dst0);                                                        \
        long left_ = (p1) - (p0);                                                    \
        int oy_ = (int)((p0) / (w)->out_w), ox0_ = (int)((p0) % (w)->out_w);         \
        for (; left_ > 0; oy_++, ox0_ = 0) {                                         \
            const int ox1_ = left_ < (w)->out_w - ox0_ ? ox0_ + (int)left_ : (w)->out_w; \
            SEGMENT(oy_, ox0_, ox1_, dst_);                                          \
            dst_ += ox1_ - ox0_;                                                     \
            left_ -= ox1_ - ox0_;                                                    \
        }                                                                            \
    } while (0)

static void patch_row_portable(const float *plane, const ck_window *w, int ky, int kx, long p0, long p1, float *dst0) {
    const int s = w->stride_w;
    const run v = valid_columns(w, kx);
#define PORTABLE_SEGMENT(oy, ox0, ox1, dst)                                             \
    {                                                                                   \
        const int iy = input_row(w, oy, ky);                                            \
        const int a = iy < 0 ? ox1 : min_int(max_int(v.lo, ox0), ox1);                  \
        const int b = iy < 0 ? ox1 : max_int(a, min_int(v.hi, ox1));                    \
        for (int ox = ox0; ox < a; ox++) dst[ox - ox0] = 0;                             \
        if (iy >= 0) {                                                                  \
            const float *row = plane + (size_t)iy * w->in_w;                            \
            for (int ox = a; ox < b; ox++) dst[ox - ox0] = row[v.off + ox * s];         \
        }                                                                               \
        for (int ox = b; ox < ox1; ox++) dst[ox - ox0] = 0;                             \
    }
    FOR_EACH_SEGMENT(w, p0, p1, dst0, PORTABLE_SEGMENT);
#undef PORTABLE_SEGMENT
}

#if defined(__x86_64__)

/// The first n lanes (0…8) set, for masked loads.
CK_INLINE_AVX2 __m256i lanes(int n) { return _mm256_loadu_si256((const __m256i *)(tail_masks + 8 - n)); }

/// The even floats of a (8 floats) and b (the next 8): a0 a2 a4 a6 b0 b2 b4 b6.
CK_INLINE_AVX2 __m256 even_floats(__m256 a, __m256 b) {
    const __m256 even = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));  // a0 a2 b0 b2 | a4 a6 b4 b6
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), _MM_SHUFFLE(3, 1, 2, 0)));
}

/// Output columns [ox, ox + n) (n = 1…8) of input row `row` at horizontal stride S (1, 2, 4, or
/// 0 = any other, by a gather), zeros in lanes ≥ n. When ox + 8 <= vend every float of the
/// full-width loads lies inside the row; otherwise only the floats the n lanes use are loaded
/// (masked loads never touch the others).
CK_INLINE_AVX2 __m256 load_columns(const float *row, int off, int ox, int n, int vend, int s, __m256i step, const int S) {
    const float *q = row + (off + ox * s);
    const int used = (n - 1) * s + 1;  // floats from q that the n lanes read
    if (ox + 8 <= vend) {
        if (S == 1) return _mm256_loadu_ps(q);
        if (S == 2) return even_floats(_mm256_loadu_ps(q), _mm256_loadu_ps(q + 8));
        if (S == 4)
            return even_floats(even_floats(_mm256_loadu_ps(q), _mm256_loadu_ps(q + 8)),
                               even_floats(_mm256_loadu_ps(q + 16), _mm256_loadu_ps(q + 24)));
        return _mm256_i32gather_ps(q, step, 4);
    }
#define CK_PART(i) _mm256_maskload_ps(q + 8 * (i), lanes(min_int(8, max_int(0, used - 8 * (i)))))
    if (S == 1) return CK_PART(0);
    if (S == 2) return even_floats(CK_PART(0), CK_PART(1));
    if (S == 4) return even_floats(even_floats(CK_PART(0), CK_PART(1)), even_floats(CK_PART(2), CK_PART(3)));
#undef CK_PART
    return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), q, step, _mm256_castsi256_ps(lanes(n)), 4);
}

/// One output-row segment [ox0, ox1) of a patch row at dst (dst[0] is column ox0), from input
/// row `row` (NULL: the row is in the padding, all zeros), valid columns [v.lo, v.hi).
/// With `spill`, every store is a whole vector and may write up to 7 floats past the segment:
/// left to right, so a spill lands where a later store of the same patch row writes, or in
/// the gap after its last pixel (the caller checks that the two hold 7 floats). Without, the tail is written one float at a time: masked
/// stores (vmaskmovps) are microcoded on the EPYC (Zen 3) and made short rows 50 % slower.
CK_INLINE_AVX2 void segment_avx2(const float *row, run v, int vend, int ox0, int ox1, float *dst, int spill, __m256i step,
                                 const int S) {
    const int s = S ? S : (int)_mm256_extract_epi32(step, 1);
    const __m256 zero = _mm256_setzero_ps();
    const int a = row ? min_int(max_int(v.lo, ox0), ox1) : ox1;  // first valid column
    const int b = row ? max_int(a, min_int(v.hi, ox1)) : ox1;    // end of the valid columns
    if (spill) {
        for (int ox = ox0; ox < a; ox += 8) _mm256_storeu_ps(dst + (ox - ox0), zero);
        for (int ox = a; ox < b; ox += 8)
            _mm256_storeu_ps(dst + (ox - ox0), load_columns(row, v.off, ox, min_int(8, b - ox), vend, s, step, S));
        for (int ox = b; ox < ox1; ox += 8) _mm256_storeu_ps(dst + (ox - ox0), zero);
        return;
    }
    int ox = ox0;
    for (; ox + 8 <= a; ox += 8) _mm256_storeu_ps(dst + (ox - ox0), zero);
    for (; ox < a; ox++) dst[ox - ox0] = 0;
    for (; ox + 8 <= b; ox += 8) _mm256_storeu_ps(dst + (ox - ox0), load_columns(row, v.off, ox, 8, vend, s, step, S));
    for (; ox < b; ox++) dst[ox - ox0] = row[v.off + ox * s];
    for (; ox + 8 <= ox1; ox += 8) _mm256_storeu_ps(dst + (ox - ox0), zero);
    for (; ox < ox1; ox++) dst[ox - ox0] = 0;
}

/// One patch row over pixels [p0, p1) at horizontal stride S (see load_columns). `gap`: floats
/// after p1's column that may be overwritten (the row stride's slack).
CK_INLINE_AVX2 void patch_row_avx2(const float *plane, const ck_window *w, int ky, int kx, long p0, long p1, float *dst,
                                   long gap, const int S) {
    const int s = w->stride_w, ow = w->out_w;
    const run v = valid_columns(w, kx);
    // Full-width loads at ox need ox + 8 <= vend: a vector at stride S ≥ 2 loads 8·S floats,
    // up to off + S·ox + 8·S − 1, which must be < in_w (the gather loads only what it uses).
    int vend = v.hi;
    if (S == 2 || S == 4) {
        const int room = w->in_w - v.off - 8 * S;
        vend = min_int(vend, room < 0 ? v.lo : room / S + 8);
    }
    const __m256i step = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(s));
    long left = p1 - p0;
    int oy = (int)(p0 / ow), ox0 = (int)(p0 % ow);
    for (; left > 0; oy++, ox0 = 0) {
        const int ox1 = left < ow - ox0 ? ox0 + (int)left : ow;
        const int iy = input_row(w, oy, ky);
        left -= ox1 - ox0;
        // A spill of up to 7 floats must stay inside this patch row's pixels or its gap.
        segment_avx2(iy < 0 ? 0 : plane + (size_t)iy * w->in_w, v, vend, ox0, ox1, dst, left + gap >= 7, step, S);
        dst += ox1 - ox0;
    }
}

static CK_AVX2 void im2col_avx2(const float *x, const ck_window *w, long p0, long p1, int patch_begin, int patch_end,
                                float *col, size_t ld) {
    const size_t plane = (size_t)w->in_h * w->in_w;
    const int taps = w->kernel_h * w->kernel_w;
    for (int r = patch_begin; r < patch_end; r++) {
        const int c = r / taps, ky = r % taps / w->kernel_w, kx = r % w->kernel_w;
        const float *p = x + c * plane;
        float *dst = col + r * ld;
        const long gap = (long)ld - (p1 - p0);
        switch (w->stride_w) {
        case 1: patch_row_avx2(p, w, ky, kx, p0, p1, dst, gap, 1); break;
        case 2: patch_row_avx2(p, w, ky, kx, p0, p1, dst, gap, 2); break;
        case 4: patch_row_avx2(p, w, ky, kx, p0, p1, dst, gap, 4); break;
        default: patch_row_avx2(p, w, ky, kx, p0, p1, dst, gap, 0); break;
        }
    }
}

#endif

void ck_im2col(const float *x, int channels, const ck_window *w, long pixel_begin, long pixel_end, int patch_begin,
               int patch_end, float *col, long ld) {
    const int patches = channels * w->kernel_h * w->kernel_w;
    const long pixels = (long)w->out_h * w->out_w;
    if (patch_end > patches) patch_end = patches;
    if (pixel_end > pixels) pixel_end = pixels;
    if (pixel_begin >= pixel_end || patch_begin >= patch_end) return;
#if defined(__x86_64__)
    if (ck_has_avx2_fma()) {
        im2col_avx2(x, w, pixel_begin, pixel_end, patch_begin, patch_end, col, (size_t)ld);
        return;
    }
#endif
    const size_t plane = (size_t)w->in_h * w->in_w;
    const int taps = w->kernel_h * w->kernel_w;
    for (int r = patch_begin; r < patch_end; r++) {
        const int c = r / taps, ky = r % taps / w->kernel_w, kx = r % w->kernel_w;
        patch_row_portable(x + c * plane, w, ky, kx, pixel_begin, pixel_end, col + (size_t)r * ld);
    }
}
