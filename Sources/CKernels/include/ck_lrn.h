// Local response normalization across channels (ONNX LRN, NCHW) for beta = 0.75, the value
// of every network that uses it (AlexNet, GoogLeNet, ZFNet). AVX2 with a portable fallback,
// chosen per call by ck_has_avx2_fma().
#ifndef CK_LRN_H
#define CK_LRN_H

#ifdef __cplusplus
extern "C" {
#endif

/// Largest window (`size`) ck_lrn_075 handles: the ring of squared channels it keeps.
enum { CK_LRN_MAX_SIZE = 16 };

/// Columns [column_begin, column_end) of y = x / (bias + alpha/size · Σ x²)^0.75, the sum over
/// channels [c − ⌊(size−1)/2⌋, c + ⌈(size−1)/2⌉] ∩ [0, channels) in ascending order. A column
/// is 16 consecutive positions of one image's planes (ck_lrn_columns counts them), so threads
/// split the work by columns. x and y hold images × channels × inner floats and must not
/// overlap; 1 <= size <= CK_LRN_MAX_SIZE.
void ck_lrn_075(const float *x, float *y, int channels, long inner, int size, float alpha, float bias, long column_begin,
                long column_end);

/// Columns of `images` images of `inner` positions per plane.
long ck_lrn_columns(long images, long inner);

#ifdef __cplusplus
}
#endif
#endif
