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

/// 1 when the kernels use their AVX2+FMA code: the CPU runs it (x86-64 only; decided once,
/// then cached), the environment does not say CNNCODES_ISA=portable, and
/// ck_force_portable(1) is not in effect.
int ck_has_avx2_fma(void);

/// 1 when the kernels that have an AVX-512 path use it: ck_has_avx2_fma() is 1, the CPU runs
/// AVX-512 as Skylake-SP and later do (ck_cpu_has_avx512_skylake), the environment does not
/// say CNNCODES_ISA=avx2, and ck_force_avx2(1) is not in effect. Kernels without an AVX-512
/// path run their AVX2 code on such a machine.
int ck_has_avx512(void);

/// Tests: 1 caps every kernel at its AVX2 path (as CNNCODES_ISA=avx2 does for a whole
/// process), 0 restores run-time detection. Not synchronized: set it while no kernel runs.
void ck_force_avx2(int on);

/// 1 when the CPU runs the AVX-512 subsets of Intel's Skylake-SP and later (F, CD, BW, DQ, VL)
/// and the OS saves their registers. Independent of CNNCODES_ISA and ck_force_portable: it
/// describes the machine (OpenBLASCore uses it to pick OpenBLAS's kernels), not the kernels'
/// choice.
int ck_cpu_has_avx512_skylake(void);

/// 1 when the CPU runs AVX2 and FMA (whatever CNNCODES_ISA says; see ck_cpu_has_avx512_skylake).
int ck_cpu_has_avx2_fma(void);

/// Tests: 1 forces every kernel onto its portable path, 0 restores run-time detection.
/// Not synchronized: set it while no kernel runs.
void ck_force_portable(int on);

/// The instruction set the kernels use on this machine, for logs and benchmarks:
/// "avx512" (some kernels have an AVX-512 path and use it; the rest run AVX2), "avx2+fma" or
/// "portable".
const char *ck_isa_name(void);

/// Threads the engine's loops may use when called from the calling thread: thread-local, so
/// two sessions on two threads (the service) each keep their own count, and a thread that
/// never set it (a worker inside a split) reads 1 and never splits again. Set by
/// InferenceSession before planning and before each run.
int ck_engine_threads(void);
void ck_set_engine_threads(int count);

#ifdef __cplusplus
}
#endif
#endif
