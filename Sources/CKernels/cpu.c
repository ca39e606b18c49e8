#include "ck_cpu.h"

int ck_has_avx2_fma(void) {
#if defined(__x86_64__) || defined(__i386__)
    static int cached = -1;  // benign race: every thread computes the same value
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return cached;
#else
    return 0;
#endif
}

const char *ck_isa_name(void) { return ck_has_avx2_fma() ? "avx2+fma" : "portable"; }
