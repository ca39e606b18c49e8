// Winograd F(2×2, 3×3) and F(4×4, 3×3) transforms for WinogradConvKernel
// (Sources/Inference/Kernels/Conv+Winograd.swift, which explains the algorithm and layouts).
// `avx2` selects the AVX2 code (pass
// ck_has_avx2_fma(); tests pass 0 and 1 to check both paths); 8 tiles per vector.
#ifndef CK_WINOGRAD_H
#define CK_WINOGRAD_H

#ifdef __cplusplus
extern "C" {
#endif

/// Input transform of one channel over a band of `rows` tile rows of `tiles_w` tiles.
/// strip: 2·rows + 2 rows of 2·tiles_w + 2 floats each, the band's zero-padded input rows.
/// Writes the 16 values of tile t = ty·tiles_w + tx to v[ξ·plane_stride + t], ξ = 0 … 15.
void ck_wino2_input(const float *strip, int rows, int tiles_w, float *v, long plane_stride, int avx2);

/// Output transform of one output channel over a band of `rows` tile rows: reads tile t's
/// 16 products at p[ξ·plane_stride + t], writes its 2×2 outputs plus `bias`, clamped to
/// [lo, hi] (±∞ for none), into y: the band's first output row of the channel's plane,
/// `out_w` wide, `out_rows` rows available (odd sizes drop a tile's last row / column).
void ck_wino2_output(const float *p, long plane_stride, int rows, int tiles_w, float *y, int out_w, int out_rows,
                     float bias, float lo, float hi, int avx2);

/// F(4×4, 3×3), the same contract with 6×6 input tiles 4 apart and 36 values per tile
/// (ξ = 6·i + j = 0 … 35), over tiles first ..< first + count of the strip's rows in raster
/// order (`tiles_w` a row; the run may start and end inside a row, so a thread can own any
/// contiguous run of an image's tiles): tile t's values go to v[ξ·plane_stride + t − first].
/// strip: 4·rows + 2 rows of 4·tiles_w + 2 floats each for the rows the run touches, plus
/// CK_WINO4_STRIP_SLACK floats after the last row (the AVX2 code loads 4 floats past a tile's 6).
#define CK_WINO4_STRIP_SLACK 8
void ck_wino4_input_tiles(const float *strip, int tiles_w, int first, int count, float *v, long plane_stride, int avx2);

/// F(4×4, 3×3) output transform of the same run: tile t's 36 products at
/// p[ξ·plane_stride + t − first], its 4×4 outputs (rows and columns past out_rows / out_w
/// dropped) plus bias, clamped to [lo, hi], into y (the first output row of the strip's rows).
void ck_wino4_output_tiles(const float *p, long plane_stride, int tiles_w, int first, int count, float *y, int out_w,
                           int out_rows, float bias, float lo, float hi, int avx2);

#ifdef __cplusplus
}
#endif
#endif
