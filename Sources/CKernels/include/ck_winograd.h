// Winograd F(2×2, 3×3) transforms for WinogradConvKernel
// (Sources/Inference/Kernels/Conv+Winograd.swift, which explains the algorithm and layouts).
// The 16 GEMMs between them stay in OpenBLAS. `avx2` selects the AVX2 code (pass
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

#ifdef __cplusplus
}
#endif
#endif
