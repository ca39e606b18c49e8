#include "ck_cpu.h"

#include <stdlib.h>
#include <string.h>

/// -1: not forced; 0/1: ck_force_portable's last argument.
static int forced_portable = -1;

void ck_force_portable(int on) { forced_portable = on ? 1 : 0; }

/// 1 while ck_force_avx2(1) caps the kernels at AVX2.
static int forced_avx2 = 0;

void ck_force_avx2(int on) { forced_avx2 = on ? 1 : 0; }

int ck_has_avx2_fma(void) {
    if (forced_portable == 1) return 0;
#if defined(__x86_64__) || defined(__i386__)
    static int cached = -1;  // benign race: every thread computes the same value
    if (cached < 0) {
        const char *isa = getenv("CNNCODES_ISA");
        if (isa && strcmp(isa, "portable") == 0) {
            cached = 0;
        } else {
            cached = ck_cpu_has_avx2_fma();
        }
    }
    return cached;
#else
    return 0;
#endif
}

int ck_cpu_has_avx512_skylake(void) {
#if defined(__x86_64__) || defined(__i386__)
    // The compiler runtime's feature bits already account for the OS (XCR0 must enable the
    // opmask and ZMM state for the avx512 bits to be set).
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}

int ck_cpu_has_avx2_fma(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

int ck_has_avx512(void) {
    if (forced_avx2 == 1 || !ck_has_avx2_fma()) return 0;
#if defined(__x86_64__)
    static int cached = -1;  // benign race, as in ck_has_avx2_fma
    if (cached < 0) {
        const char *isa = getenv("CNNCODES_ISA");
        cached = isa && strcmp(isa, "avx2") == 0 ? 0 : ck_cpu_has_avx512_skylake();
    }
    return cached;
#else
    return 0;
#endif
}

const char *ck_isa_name(void) { return ck_has_avx512() ? "avx512" : ck_has_avx2_fma() ? "avx2+fma" : "portable"; }

static _Thread_local int engine_threads = 1;

int ck_engine_threads(void) { return engine_threads; }

void ck_set_engine_threads(int count) { engine_threads = count > 1 ? count : 1; }
