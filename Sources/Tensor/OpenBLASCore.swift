import CBLAS
import CKernels

#if canImport(Glibc)
import Glibc
#endif

/// Which of OpenBLAS's kernel sets runs, and the repair when the library picked the wrong one.
///
/// OpenBLAS (built with DYNAMIC_ARCH, as Debian ships it) picks its kernels once, when the
/// library loads, from the CPU's family and model numbers. A release does not know the CPUs
/// that came after it: Debian 12's 0.3.21 runs an Emerald Rapids Xeon (family 6, model 207)
/// on its "Prescott" kernels (SSE3), and a 4096³ sgemm there reaches 42 GFLOP/s on 2 threads
/// where its SkylakeX (AVX-512) kernels reach 233 and its Haswell (AVX2) ones 95–119
/// (measured 2026-12-01, `cnncodes forward --sgemm-peak`). Every im2col convolution, Winograd
/// product and fully connected layer of the engine, and the batched search and classifier
/// training, go through that sgemm.
///
/// The library's documented switch is the environment variable OPENBLAS_CORETYPE, and it is
/// read only at load time, so the repair is to set it and start the process again
/// (`restartIfMisdetected`, called first thing by the `cnncodes` executable). Only the clear
/// case is repaired: the library chose a pre-AVX2 kernel set on a CPU that runs AVX2+FMA. A
/// core type the user set is never overridden.
public enum OpenBLASCore {
    /// The kernel set OpenBLAS chose when it loaded ("SkylakeX", "Haswell", "Prescott", …).
    public static var current: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// The kernel sets OpenBLAS falls back to for a CPU it does not recognise, or that predate
    /// AVX2 (Sandybridge has AVX but no FMA): on a CPU with AVX2+FMA they leave most of its
    /// arithmetic unused.
    static let preAVX2Cores: Set<String> = [
        "prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai", "coppermine", "northwood", "banias",
        "sandybridge", "unknown",
    ]

    /// The OPENBLAS_CORETYPE to run with instead of `current`, or nil when OpenBLAS's choice
    /// stands: the user set the variable, the chosen set already uses AVX2, or the CPU has
    /// nothing better.
    static func correction(current: String, userSetting: String?, avx512: Bool, avx2FMA: Bool) -> String? {
        guard userSetting == nil, preAVX2Cores.contains(current.lowercased()) else { return nil }
        if avx512 { return "SkylakeX" }
        if avx2FMA { return "Haswell" }
        return nil
    }

    /// The CPU runs AVX-512 as Skylake-SP and later do (F, CD, BW, DQ, VL).
    static var cpuHasAVX512: Bool { ck_cpu_has_avx512_skylake() != 0 }
    /// The CPU runs AVX2 and FMA.
    static var cpuHasAVX2FMA: Bool { ck_cpu_has_avx2_fma() != 0 }

    /// `correction` for this process and this CPU.
    static var correctionForThisMachine: String? {
        correction(
            current: current, userSetting: getenv("OPENBLAS_CORETYPE").map { String(cString: $0) },
            avx512: cpuHasAVX512, avx2FMA: cpuHasAVX2FMA)
    }

    /// When OpenBLAS chose a kernel set below the CPU (`correctionForThisMachine`), sets
    /// OPENBLAS_CORETYPE and replaces the process by a new run of the same executable with the
    /// same arguments (same PID, nothing has run yet). Call it before anything else; it returns
    /// when there is nothing to repair, or when the restart fails (then the process goes on
    /// with the slower kernels, after saying so on stderr). The new process finds the variable
    /// set and does not restart again. Linux only (/proc/self/exe); elsewhere it does nothing.
    public static func restartIfMisdetected() {
        #if os(Linux)
        guard let core = correctionForThisMachine else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        let reason = String(cString: strerror(errno))
        fputs("cnncodes: OpenBLAS chose its \(current) kernels for this CPU; restarting with OPENBLAS_CORETYPE=\(core) failed (\(reason)), going on with them\n", stderr)
        #endif
    }
}
