// CKernels, vector math: erf, GELU, exp and sigmoid over float arrays (Sources/CKernels/vmath.c
// has the polynomials and their measured errors). AVX-512 or AVX2+FMA when the CPU has them
// (ck_cpu.h), libm otherwise. x and y may be the same array.
#ifndef CK_VMATH_H
#define CK_VMATH_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// y[i] = erf(x[i]); within 1.4e-7 of the exact value.
void ck_erf(const float *x, float *y, size_t n);

/// y[i] = x[i] · ½(1 + erf(x[i] / √2)): GELU, exact form (not the tanh approximation).
void ck_gelu(const float *x, float *y, size_t n);

/// y[i] = e^x[i]; within 9e-8 relative; +inf above 88.72, 0 below −87.34, NaN stays NaN.
void ck_exp(const float *x, float *y, size_t n);

/// y[i] = 1 / (1 + e^−x[i]).
void ck_sigmoid(const float *x, float *y, size_t n);

#ifdef __cplusplus
}
#endif

#endif
