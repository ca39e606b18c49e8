// Pointwise convolution with the output channels in the vector lanes (AVX-512): the same
// product as ck_pointwise_conv, Y[m][j] = act(bias[m] (+ R[m][j]) + Σ_k W[m][k] · X[k][j]) on
// NCHW planes, for narrow planes (few pixels, many input channels) where ck_pointwise_conv's
// 32-pixel strips run partly empty (a 7×7 plane's 49 = 32 + 16 + 1) and its 16-pixel tiles
// are bound by their weight broadcasts. Here a tile is 32 output channels (two zmm of W per
// k; one for a last block of ≤ 16 rows) × up to 14 pixels (broadcast from X in place): 28
// accumulators, 16 loads per 28 FMAs, whatever the plane's width; the finished tile is
// transposed in registers (16 × 16) into rows of Y. Measured hot, one thread, against ck_pointwise_conv (GFLOP/s, M×K×N):
// 256×1024×49 124 → 165, 512×2048×49 117 → 145, 192×1152×49 93 → 112, 128×512×196 138 → 164;
// it loses where K is small against M or the plane is wide (its transpose and its partial
// sums are per tile, its tiles re-read X per 32 channels): 512×128×196 148 → 143,
// 256×64×784 156 → 119. ck_lanes_fits says where it runs.
#ifndef CK_LANES_H
#define CK_LANES_H

#include <stddef.h>
#include "ck_activation.h"
#include "ck_depthwise.h"  // ck_window

#ifdef __cplusplus
extern "C" {
#endif

/// Output channels per tile (and per packed block of W).
#define CK_LANES_BLOCK_ROWS 32

/// 1 where the channel-lanes kernel is the faster one for an [m × k] · [k × n] product on
/// this CPU (AVX-512 present and the shape narrow enough; see the header comment), else 0.
int ck_lanes_fits(int m, int k, int n);

/// Floats ck_lanes_pack writes: m rounded up to CK_LANES_BLOCK_ROWS, times k.
size_t ck_lanes_packed_floats(int m, int k);

/// Packs row-major W [m × k] into blocks of 32 rows, k-major inside a block (block b, column
/// kk, row r at (b·k + kk)·32 + r), rows past m zero: one k of a block is two aligned zmm.
/// (Any alignment works; 64-byte-aligned packed weights load each k in two whole lines.)
void ck_lanes_pack(const float *w, int m, int k, float *packed);

/// Rows [row_begin, row_end) and columns [col_begin, col_end) of Y = act(bias + R + W·X) with
/// W from ck_lanes_pack, X [k × n] with row stride ldx, Y and R with row stride ldy; bias may
/// be NULL; R may be NULL or Y itself (each element is read before it is written). Y must not
/// alias X. row_begin must be a multiple of CK_LANES_BLOCK_ROWS; threads may call with
/// disjoint row or column ranges. Returns 1, or 0 without touching Y when ck_has_avx512() is
/// 0 (the caller packed for this kernel on a CPU that has it; tests switch ISAs).
int ck_lanes_conv(const float *packed, const float *bias, const float *residual, const float *x, float *y, int m, int k, int ldx,
                  int ldy, int row_begin, int row_end, int col_begin, int col_end, ck_activation act);

/// Direct convolution (horizontal stride 1 or 2, any vertical stride, dilation 1, one group,
/// any kernel_h × kernel_w window and padding) on the same kernel, without a column matrix: W [M][C][kh][kw] as ONNX stores it
/// is an [M × K] matrix, K = C·kh·kw, packed by ck_lanes_pack; the input is first copied into
/// zero-padded planes (ck_lanes_pad), and column k of output pixel (oy, ox) is
/// xpad[koff[k] + oy·stride_h·pad_w + ox·stride_w] (ck_lanes_window_offsets). A tile's pixels (a piece of one
/// output row, or two whole rows of a 5 … 7-pixel-wide plane) are broadcast straight from the
/// padded planes, whose k-block (~11 channels) stays in L1.
/// 1 where this CPU has the kernel and it fits the layer: the strides above, dilation 1, and
/// the product's shape one ck_lanes_fits takes, or any plane with K ≥ 2M (and K ≥ 256).
int ck_lanes_window_fits(int m, int channels, const ck_window *window);

/// Images whose tiles fill one of the kernel's chunks (a chunk's tiles share each k-block of
/// the weights): 16 / the tiles of one image, at least 1 — four 7×7 images.
int ck_lanes_window_images_per_pass(const ck_window *window);

/// Floats of one image's zero-padded planes.
size_t ck_lanes_padded_floats(int channels, const ck_window *window);

/// One image's `channels` input planes (in_h × in_w, NCHW) into xpad, zero-padded as the
/// window says; every float of ck_lanes_padded_floats is written.
void ck_lanes_pad(const float *x, int channels, const ck_window *window, float *xpad);

/// koff[(c·kh + ky)·kw + kx] = offset of input (c, ky, kx) for output pixel (0, 0) in the
/// padded planes: C·kh·kw ints.
void ck_lanes_window_offsets(int channels, const ck_window *window, int *koff);

/// Rows [row_begin, row_end) and pixels [col_begin, col_end) of Y = act(bias + R + W ∗ X).
/// Pixels count through consecutive images (pixel q is image q / (out_h·out_w)): image i's
/// padded planes at xpad + i·x_image_stride, its output (and R) at y + i·y_image_stride with
/// row stride out_h·out_w, so one pass over the weights serves every image in the range.
/// Rows as in ck_lanes_conv (row_begin a multiple of CK_LANES_BLOCK_ROWS); bias may be NULL;
/// R may be NULL or Y. Returns 0 without touching Y when ck_has_avx512() is 0.
int ck_lanes_window_conv(const float *packed, const float *bias, const float *residual, const float *xpad, const int *koff,
                         float *y, int m, int k, const ck_window *window, long x_image_stride, long y_image_stride,
                         int row_begin, int row_end, long col_begin, long col_end, ck_activation act);

#ifdef __cplusplus
}
#endif
#endif
