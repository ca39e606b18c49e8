import CKernels

/// The instruction-set paths of the C kernels (Sources/CKernels) this CPU can run, each with
/// the switch that selects it: portable, AVX2+FMA (ck_force_avx2 caps the dispatch) and
/// AVX-512. Tests run a kernel under each and compare it with a reference; call `reset()` in
/// tearDown so later tests get the CPU's own choice again.
public enum KernelPaths {
    public static func available() -> [(name: String, select: () -> Void)] {
        var paths: [(String, () -> Void)] = [("portable", { ck_force_portable(1); ck_force_avx2(0) })]
        if ck_cpu_has_avx2_fma() != 0 { paths.append(("avx2", { ck_force_portable(0); ck_force_avx2(1) })) }
        if ck_cpu_has_avx2_fma() != 0 && ck_cpu_has_avx512_skylake() != 0 {
            paths.append(("avx512", { ck_force_portable(0); ck_force_avx2(0) }))
        }
        return paths
    }

    public static func reset() {
        ck_force_portable(0)
        ck_force_avx2(0)
    }
}
