// Max pooling (NCHW): AVX2 row by row from the input in place (horizontal strides 1 and 2;
// 3×3 stride 1 pad 1 on whole planes), otherwise on a −∞-padded copy of each plane (portable
// C, or AVX2 for dilated windows); chosen per call by ck_has_avx2_fma().
#ifndef CK_POOL_H
#define CK_POOL_H

#include <stddef.h>
#include "ck_depthwise.h"  // ck_window

#ifdef __cplusplus
extern "C" {
#endif

/// Floats of scratch one ck_max_pool call needs: two −∞-padded row buffers or a plane of
/// horizontal maxima (row path), or the plane padded with −∞ to cover every window (ceil_mode
/// windows may reach past the end padding) plus slack for vector reads.
size_t ck_max_pool_scratch_floats(const ck_window *window);

/// Planes [plane_begin, plane_end): y[p] = max over each window of x[p] (−∞ where a window
/// holds no input). `scratch` holds ck_max_pool_scratch_floats(window) floats, private to the call.
void ck_max_pool(const float *x, float *y, long plane_begin, long plane_end, const ck_window *window, float *scratch);

#ifdef __cplusplus
}
#endif
#endif
