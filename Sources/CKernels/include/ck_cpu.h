// CKernels: the engine's hand-vectorized hot loops, in C so that each one can be compiled for
// AVX2+FMA with `__attribute__((target("avx2,fma")))` and chosen at run time, while the
// package itself stays built for baseline x86-64 (the binary still runs on any x86-64 or
// arm64 machine). This is the dispatch scheme of ONNX Runtime's MLAS and of OpenBLAS.
// Every kernel has a portable fallback; callers never check CPU features themselves.
//
// Every header in this folder is part of the module (umbrella directory): a kernel family
// adds its own `ck_<family>.h` + `<family>.c`.
#ifndef CK_CPU_H
#define CK_CPU_H

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when this CPU runs AVX2 and FMA code (x86-64 only); decided once, then cached.
int ck_has_avx2_fma(void);

/// The instruction set the kernels use on this machine, for logs and benchmarks:
/// "avx2+fma" or "portable".
const char *ck_isa_name(void);

#ifdef __cplusplus
}
#endif
#endif
