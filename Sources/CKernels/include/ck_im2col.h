// im2col: the column matrix that turns a convolution into a GEMM, for one image and one group
// of channels, over a band of output rows. AVX2 paths for horizontal strides 1, 2 (two loads
// and a permute keep the even floats) and ≥ 3 (a gather); a portable path otherwise; chosen
// per call by ck_has_avx2_fma(). Also the subsampled input of a strided 1×1 convolution,
// which is the im2col matrix of a 1×1 window.
#ifndef CK_IM2COL_H
#define CK_IM2COL_H

#include "ck_depthwise.h"  // ck_window, shared by every windowed kernel

#ifdef __cplusplus
extern "C" {
#endif

/// Patch rows [patch_begin, patch_end) of the im2col matrix of output pixels
/// [pixel_begin, pixel_end) (pixel p = oy·out_w + ox; a range may start or end inside an
/// output row): with r = (c·kernel_h + ky)·kernel_w + kx,
///   col[r·ld + p − pixel_begin] = x[c][oy·stride_h − pad_top + ky·dilation_h][ox·stride_w − pad_left + kx·dilation_w],
/// zero where that position is outside the in_h × in_w plane. x holds `channels` planes of
/// in_h × in_w floats (NCHW, one image's group); patch rows run over channels·kernel_h·kernel_w.
/// ld ≥ pixel_end − pixel_begin is the row stride of col; the floats between a row's end and
/// the next row (the gap) may be overwritten, and when the gap has 7 floats or more the whole
/// rows are written in 8-float vectors (faster: no scalar tails). Reads only inside x's
/// planes. Threads may fill disjoint patch-row ranges of the same `col`.
void ck_im2col(const float *x, int channels, const ck_window *window, long pixel_begin, long pixel_end, int patch_begin,
               int patch_end, float *col, long ld);

#ifdef __cplusplus
}
#endif
#endif
