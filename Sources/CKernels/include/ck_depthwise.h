// Depthwise 2-D convolution (group == C == M, NCHW) with bias and activation fused into the
// store. AVX2+FMA: 8 channels at a time, transposed to pixel-major order (any stride and
// dilation; planes of at least 8 pixels in and out), the channels left over one plane at a time
// for strides 1 and 2; portable C otherwise. Chosen per call by ck_has_avx2_fma().
#ifndef CK_DEPTHWISE_H
#define CK_DEPTHWISE_H

#include <stddef.h>
#include "ck_activation.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Sizes of one depthwise convolution window, in elements (ONNX padding already resolved).
typedef struct {
    int in_h, in_w, out_h, out_w;
    int kernel_h, kernel_w;
    int stride_h, stride_w;
    int dilation_h, dilation_w;
    int pad_top, pad_left, pad_bottom, pad_right;
} ck_window;

/// Floats of scratch one ck_depthwise_conv call needs: the zero-padded input plane plus
/// slack the vector loads may read past its end.
size_t ck_depthwise_scratch_floats(const ck_window *window);

/// Planes [plane_begin, plane_end) of a depthwise convolution. Plane p is image p / channels,
/// channel c = p % channels: input x + p·in_h·in_w, weights w + c·kernel_h·kernel_w
/// ([C, 1, kH, kW] as ONNX stores them), output y + p·out_h·out_w, which becomes
/// act(bias[c] + Σ w·x). `scratch` holds ck_depthwise_scratch_floats(window) floats, private
/// to this call (threads call with disjoint plane ranges and their own scratch).
void ck_depthwise_conv(const float *x, const float *w, const float *bias, float *y, long plane_begin, long plane_end,
                       int channels, const ck_window *window, ck_activation activation, float *scratch);

#ifdef __cplusplus
}
#endif
#endif
