// Vectorized erf, GELU, exp and sigmoid over float arrays: the element-wise activations of
// newer CNN exports (ConvNeXt's GELU is written out through Erf; EfficientNet-B0's Swish and
// squeeze-excitation gates through Sigmoid). libm's scalar erff and expf cost ~20–40 ns an
// element: a ConvNeXt-T pass spent 47 of its 139 ms in Erf before this file.
//
// The polynomials were fitted for this file (least squares on Chebyshev nodes in double
// precision, then checked in float32 arithmetic against scipy):
// - erf(x) = x · P(x²) for |x| < 1 (P of degree 6);
// - erf(x) = 1 − e^(−x²) · G(1/x) for 1 ≤ |x| < 3.92 (G of degree 8; e^(−x²)·G is erfc);
// - erf(x) = ±1 beyond 3.92, where erfc < 2⁻²⁴ and float erf rounds to 1;
// - e^x = 2ⁿ · E(r), n = round(x / ln 2), r = x − n ln 2 in two parts (E of degree 6).
// Worst errors over a dense grid (C harness against double libm; VectorMathTests checks every
// path): erf 1.4e-7 absolute (libm's erff: 5e-8), e^x 9e-8 relative, sigmoid 9e-8 absolute,
// GELU 3e-7 absolute at x ≈ 5 (libm: 4.5e-7). NaN stays NaN; e^x is +inf above 88.72 and 0
// below −87.34 (where float would go subnormal).
//
// The portable path calls libm (erff, expf): it is the reference the vector paths are tested
// against, and it runs only where AVX2 is absent.
#include "ck_vmath.h"
#include "ck_cpu.h"

#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>
#include "ck_avx2_common.h"
#endif

static const float ERF_P[7] = {7.933493894e-05f,  -8.034846651e-04f, 5.191218377e-03f, -2.685539945e-02f,
                               1.128362573e-01f,  -3.761262988e-01f, 1.128379167e+00f};
static const float ERF_G[9] = {-7.995059135e-03f, 2.116690446e-02f,  3.977871943e-02f,
                               -2.612839505e-01f, 5.111928553e-01f,  -4.781195561e-01f,
                               4.377910644e-02f,  5.587775939e-01f,  2.869468912e-04f};
static const float EXP_E[7] = {1.394858082e-03f, 8.375128890e-03f, 4.166621827e-02f, 1.666641548e-01f,
                               5.000000108e-01f, 1.000000038e+00f, 1.000000000e+00f};
#define ERF_SPLIT 1.0f
#define ERF_ONE 3.92f
#define EXP_MAX 88.7228f
#define EXP_MIN -87.3365f
#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693145751953125f
#define LN2_LO 1.428606765330187e-06f
#define SQRT_HALF 0.70710678118654752f

// MARK: portable (libm)

static float gelu_scalar(float x) { return 0.5f * x * (1.0f + erff(x * SQRT_HALF)); }
static float sigmoid_scalar(float x) { return 1.0f / (1.0f + expf(-x)); }

#if defined(__x86_64__)

// MARK: AVX2 + FMA, 8 lanes

static CK_AVX2 inline __m256 horner8(const float *c, int degree, __m256 x) {
    __m256 p = _mm256_set1_ps(c[0]);
    for (int i = 1; i <= degree; i++) p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(c[i]));
    return p;
}

static CK_AVX2 inline __m256 exp8(__m256 x) {
    const __m256 clamped = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(EXP_MIN)), _mm256_set1_ps(EXP_MAX));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(clamped, _mm256_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), clamped);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    // 2ⁿ as two factors 2^⌊n/2⌋ · 2^(n−⌊n/2⌋): n reaches 128 just below EXP_MAX, one past
    // the largest float exponent, and −126 at EXP_MIN; each half stays a normal float.
    const __m256i ni = _mm256_cvtps_epi32(n), n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
    __m256 y = _mm256_mul_ps(_mm256_mul_ps(horner8(EXP_E, 6, r), s1), s2);
    y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, _mm256_set1_ps(EXP_MAX), _CMP_GT_OQ));
    y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, _mm256_set1_ps(EXP_MIN), _CMP_LT_OQ));
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));  // NaN in, NaN out
}

static CK_AVX2 inline __m256 erf8(__m256 x) {
    const __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f));
    const __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    const __m256 a2 = _mm256_mul_ps(a, a);
    const __m256 small = _mm256_mul_ps(a, horner8(ERF_P, 6, a2));
    // Past ERF_ONE the tail term is below half a float step of 1: clamp so e^(−x²) stays normal.
    const __m256 t = _mm256_min_ps(a, _mm256_set1_ps(ERF_ONE));
    const __m256 g = horner8(ERF_G, 8, _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_max_ps(t, _mm256_set1_ps(ERF_SPLIT))));
    const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(t, t)));
    __m256 large = _mm256_fnmadd_ps(e, g, _mm256_set1_ps(1.0f));
    large = _mm256_blendv_ps(large, _mm256_set1_ps(1.0f), _mm256_cmp_ps(a, _mm256_set1_ps(ERF_ONE), _CMP_GE_OQ));
    const __m256 y = _mm256_or_ps(_mm256_blendv_ps(large, small, _mm256_cmp_ps(a, _mm256_set1_ps(ERF_SPLIT), _CMP_LT_OQ)), sign);
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

typedef enum { OP_ERF, OP_GELU, OP_EXP, OP_SIGMOID } vmath_op;

static CK_AVX2 inline __m256 apply8(vmath_op op, __m256 x) {
    switch (op) {
    case OP_ERF: return erf8(x);
    case OP_GELU: {
        const __m256 half_x = _mm256_mul_ps(x, _mm256_set1_ps(0.5f));
        return _mm256_fmadd_ps(half_x, erf8(_mm256_mul_ps(x, _mm256_set1_ps(SQRT_HALF))), half_x);
    }
    case OP_EXP: return exp8(x);
    case OP_SIGMOID:
        return _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
    }
    return x;
}

static CK_AVX2 void run_avx2(vmath_op op, const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, apply8(op, _mm256_loadu_ps(x + i)));
    if (i < n) {
        const __m256i mask = _mm256_loadu_si256((const __m256i *)(tail_masks + 8 - (n - i)));
        _mm256_maskstore_ps(y + i, mask, apply8(op, _mm256_maskload_ps(x + i, mask)));
    }
}

// MARK: AVX-512, 16 lanes

static CK_AVX512 inline __m512 horner16(const float *c, int degree, __m512 x) {
    __m512 p = _mm512_set1_ps(c[0]);
    for (int i = 1; i <= degree; i++) p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(c[i]));
    return p;
}

static CK_AVX512 inline __m512 exp16(__m512 x) {
    const __m512 clamped = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(EXP_MIN)), _mm512_set1_ps(EXP_MAX));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(clamped, _mm512_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), clamped);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    const __m512i ni = _mm512_cvtps_epi32(n), n1 = _mm512_srai_epi32(ni, 1), n2 = _mm512_sub_epi32(ni, n1);
    const __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n1, _mm512_set1_epi32(127)), 23));
    const __m512 s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n2, _mm512_set1_epi32(127)), 23));
    __m512 y = _mm512_mul_ps(_mm512_mul_ps(horner16(EXP_E, 6, r), s1), s2);
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, _mm512_set1_ps(EXP_MAX), _CMP_GT_OQ), _mm512_set1_ps(INFINITY));
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, _mm512_set1_ps(EXP_MIN), _CMP_LT_OQ), _mm512_setzero_ps());
    return _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
}

static CK_AVX512 inline __m512 erf16(__m512 x) {
    const __m512i sign_bit = _mm512_set1_epi32((int)0x80000000u);
    const __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), sign_bit);
    const __m512 a = _mm512_castsi512_ps(_mm512_andnot_si512(sign_bit, _mm512_castps_si512(x)));
    const __m512 small = _mm512_mul_ps(a, horner16(ERF_P, 6, _mm512_mul_ps(a, a)));
    const __m512 t = _mm512_min_ps(a, _mm512_set1_ps(ERF_ONE));
    const __m512 g = horner16(ERF_G, 8, _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_max_ps(t, _mm512_set1_ps(ERF_SPLIT))));
    const __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(t, t)));
    __m512 large = _mm512_fnmadd_ps(e, g, _mm512_set1_ps(1.0f));
    large = _mm512_mask_mov_ps(large, _mm512_cmp_ps_mask(a, _mm512_set1_ps(ERF_ONE), _CMP_GE_OQ), _mm512_set1_ps(1.0f));
    const __m512 magnitude = _mm512_mask_mov_ps(large, _mm512_cmp_ps_mask(a, _mm512_set1_ps(ERF_SPLIT), _CMP_LT_OQ), small);
    const __m512 y = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(magnitude), sign));
    return _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
}

static CK_AVX512 inline __m512 apply16(vmath_op op, __m512 x) {
    switch (op) {
    case OP_ERF: return erf16(x);
    case OP_GELU: {
        const __m512 half_x = _mm512_mul_ps(x, _mm512_set1_ps(0.5f));
        return _mm512_fmadd_ps(half_x, erf16(_mm512_mul_ps(x, _mm512_set1_ps(SQRT_HALF))), half_x);
    }
    case OP_EXP: return exp16(x);
    case OP_SIGMOID:
        return _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), exp16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
    }
    return x;
}

static CK_AVX512 void run_avx512(vmath_op op, const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, apply16(op, _mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, apply16(op, _mm512_maskz_loadu_ps(m, x + i)));
    }
}

#else
typedef enum { OP_ERF, OP_GELU, OP_EXP, OP_SIGMOID } vmath_op;
#endif

// MARK: dispatch

static void run(vmath_op op, const float *x, float *y, size_t n) {
#if defined(__x86_64__)
    if (ck_has_avx512()) {
        run_avx512(op, x, y, n);
        return;
    }
    if (ck_has_avx2_fma()) {
        run_avx2(op, x, y, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++) {
        switch (op) {
        case OP_ERF: y[i] = erff(x[i]); break;
        case OP_GELU: y[i] = gelu_scalar(x[i]); break;
        case OP_EXP: y[i] = expf(x[i]); break;
        case OP_SIGMOID: y[i] = sigmoid_scalar(x[i]); break;
        }
    }
}

void ck_erf(const float *x, float *y, size_t n) { run(OP_ERF, x, y, n); }
void ck_gelu(const float *x, float *y, size_t n) { run(OP_GELU, x, y, n); }
void ck_exp(const float *x, float *y, size_t n) { run(OP_EXP, x, y, n); }
void ck_sigmoid(const float *x, float *y, size_t n) { run(OP_SIGMOID, x, y, n); }
