// A network's stem: a convolution over few input channels (an RGB image) and the max pooling
// after it, row by row with the output channels in the vector lanes (see stem.c).
#ifndef CK_STEM_H
#define CK_STEM_H

#include <stddef.h>

#include "ck_activation.h"
#include "ck_depthwise.h"  // ck_window

#ifdef __cplusplus
extern "C" {
#endif

/// One stem: the convolution (weights packed by ck_stem_pack, `m` output channels, a multiple
/// of 16), its activation, and the max pooling over its output.
typedef struct {
    const float *packed;  // [channels · kernel_h · kernel_w][m]
    const float *bias;    // [m] or NULL
    int channels, m;
    ck_window conv;       // over the whole input image
    ck_window pool;       // over the convolution's output (in_h = conv.out_h, in_w = conv.out_w)
    ck_activation act;
} ck_stem;

/// Whether this CPU and shape take the kernel: AVX-512, m a multiple of 16, the packed
/// weights within L1 (≤ 40 KB), no dilation of the pooling.
int ck_stem_applies(int channels, int m, const ck_window *conv, const ck_window *pool);

/// Floats of ck_stem_pack's output: taps × m.
size_t ck_stem_packed_floats(int m, int taps);
/// W [m][taps] (ONNX's [M][C][kh][kw]) → [taps][m]: one tap's m weights are one row of vectors.
void ck_stem_pack(const float *w, int m, int taps, float *packed);

/// Floats of scratch one ck_stem_run call needs (one per thread).
size_t ck_stem_scratch_floats(const ck_stem *stem);

/// Pooled rows [pooled_begin, pooled_end) of one image: x its input planes [channels][in_h][in_w],
/// y its output planes [m][pool.out_h][pool.out_w]. Each output value depends only on the
/// input (never on the row range), so threads may split the rows anywhere. Returns 0
/// (touching nothing) without AVX-512.
int ck_stem_run(const ck_stem *stem, const float *x, float *y, int pooled_begin, int pooled_end, float *scratch);

#ifdef __cplusplus
}
#endif
#endif
