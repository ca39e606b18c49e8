// Pointwise (1×1) convolution as a matrix product with the epilogue fused:
// Y[m][j] = act(bias[m] (+ R[m][j]) + Σ_k W[m][k] · X[k][j]) for one image (X = the NCHW input as a
// [C × H·W] matrix, Y = the output as [M × H·W]). The weights are packed once at load time;
// X is read in place (no packing) and Y is written once (no zeroing pass, no separate bias /
// activation pass over it). Micro-kernels of 6 rows × 16 columns (AVX2+FMA) or 6 rows × 32
// columns (AVX-512, where ck_has_avx512()); nothing without AVX2+FMA.
// The same function is the engine's packed GEMM for the Winograd products (bias NULL, no
// activation) and for im2col convolutions (X = the column matrix).
#ifndef CK_POINTWISE_H
#define CK_POINTWISE_H

#include <stddef.h>
#include "ck_activation.h"
#include "ck_depthwise.h"  // ck_window

#ifdef __cplusplus
extern "C" {
#endif

/// Rows of W per packed panel (the micro-kernel's row count).
#define CK_PW_PANEL_ROWS 6

/// Floats ck_pointwise_pack writes for a [m × k] weight matrix: m rounded up to a whole
/// panel, times k.
size_t ck_pointwise_packed_floats(int m, int k);

/// Packs row-major W [m × k] into panels of CK_PW_PANEL_ROWS rows, k-major inside a panel,
/// grouped by the kernel's k-blocks: block b (columns [k0, k0 + kb)) holds every panel's kb
/// columns in turn (panel p, column k0 + kk, row r at k0·P + (p·kb + kk)·6 + r, P = m rounded
/// up to whole panels), so each block's weights are one sequential stream; rows past m are 0.
void ck_pointwise_pack(const float *w, int m, int k, float *packed);

/// Rows [row_begin, row_end) and columns [col_begin, col_end) of Y = act(bias + R + W·X), W
/// given packed, X [k × n] with row stride ldx, Y and R with row stride ldy; bias may be NULL
/// (zero); R (a fused residual Add) may be NULL, or Y itself (each element is read before it
/// is written). Large k runs in k-blocks that accumulate in Y, so Y must not alias X or W and
/// its rows/columns outside the range are untouched. row_begin must be a multiple
/// of CK_PW_PANEL_ROWS; threads may call with disjoint row or column ranges. Returns 1, or 0
/// without touching Y when ck_has_avx2_fma() is 0 (callers then use sgemm + an epilogue).
int ck_pointwise_conv(const float *packed, const float *bias, const float *residual, const float *x, float *y, int m, int k,
                      int ldx, int ldy, int row_begin, int row_end, int col_begin, int col_end, ck_activation activation);

/// ck_pointwise_conv, then: the packed weights [then_m × then_k] of the call that will follow
/// on this thread (same rows), whose first k-block the last block here fetches into L2 while
/// it computes (AVX-512 path), as each block already fetches its successor. For runs of
/// products over different weights (the Winograd positions), each of whose first blocks would
/// otherwise come cold from memory. then_packed NULL = no hint.
int ck_pointwise_conv_then(const float *packed, const float *bias, const float *residual, const float *x, float *y, int m, int k,
                           int ldx, int ldy, int row_begin, int row_end, int col_begin, int col_end, ck_activation activation,
                           const float *then_packed, int then_m, int then_k);

/// A convolution's im2col GEMM without the im2col matrix (implicit GEMM): rows [row_begin,
/// row_end) of output channels and output pixels [pixel_begin, pixel_end) of one image and
/// group, Y[m][p] = act(bias[m] + Σ_r W[m][r] · col[r][p]) with col as ck_im2col defines it
/// (r over channels·kernel_h·kernel_w patch rows), W packed by ck_pointwise_pack [m × r]. Each
/// k-block's 32-pixel strip of col is gathered from x into L1 just before the panels use it,
/// so the column matrix is never stored (nor read back from L2 or beyond). y is the group's
/// first output plane (row stride out_h·out_w); threads may call with disjoint row or pixel
/// ranges. AVX-512 only (gathers are slow or microcoded on the AVX2 machines): returns 0 without
/// touching y when ck_has_avx512() is 0, and the caller takes ck_im2col + ck_pointwise_conv.
int ck_implicit_conv(const float *packed, const float *bias, const float *x, int channels, const ck_window *window, float *y, int m,
                     int row_begin, int row_end, long pixel_begin, long pixel_end, ck_activation act);

#ifdef __cplusplus
}
#endif
#endif
