// Pointwise convolution for narrow images (few pixels, e.g. 7×7 maps): the same product as
// ck_pointwise_conv, Y[m][j] = act(bias[m] (+ R[m][j]) + Σ_k W[m][k] · X[k][j]), with the
// vectors running over output channels instead of pixels. ck_pointwise_conv puts 16 pixels in
// a tile's two vectors, so 49 pixels fill 3 tiles and a 1-pixel remainder that costs half a
// tile (49 of 56 lanes busy); here a tile is 6 pixels × 16 channels and a remainder of r
// pixels costs r/6 of a tile. X is copied transposed ([pixel tile][k][6]) once per call;
// W is packed at load in panels of 16 channels ([panel][k][16]). AVX2+FMA only.
#ifndef CK_POINTWISE_NARROW_H
#define CK_POINTWISE_NARROW_H

#include <stddef.h>
#include "ck_activation.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Output channels per packed panel (the vectors of a tile).
#define CK_PWN_PANEL_CHANNELS 16
/// Pixels per tile (broadcast rows of a tile).
#define CK_PWN_TILE_PIXELS 6

/// Floats ck_pointwise_narrow_pack writes for a [m × k] weight matrix (m rounded up to 16).
size_t ck_pointwise_narrow_packed_floats(int m, int k);

/// Packs row-major W [m × k] into panels of 16 channels: panel p, column kk, channel c at
/// (p·k + kk)·16 + c; channels past m are zero.
void ck_pointwise_narrow_pack(const float *w, int m, int k, float *packed);

/// Scratch floats one call needs for n pixels and k input channels (X transposed).
size_t ck_pointwise_narrow_scratch_floats(int k, int n);

/// Output channels [row_begin, row_end) (row_begin a multiple of 16) of all n pixels: X [k × n]
/// with row stride ldx, Y and R [m × n] with row stride ldy; bias may be NULL (zero), R NULL or
/// Y itself. `scratch` holds ck_pointwise_narrow_scratch_floats(k, n) floats private to the call.
/// Returns 1, or 0 without touching Y when ck_has_avx2_fma() is 0.
int ck_pointwise_narrow_conv(const float *packed, const float *bias, const float *residual, const float *x, float *y, int m,
                             int k, int n, int ldx, int ldy, int row_begin, int row_end, ck_activation activation,
                             float *scratch);

#ifdef __cplusplus
}
#endif
#endif
