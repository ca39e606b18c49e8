import CKernels

/// The instruction set the engine's C kernels chose on this machine ("avx512", "avx2+fma" or
/// "portable"), for benchmark output and logs: a ratio measured on one ISA says nothing
/// about the other.
public enum InstructionSet {
    public static var name: String { String(cString: ck_isa_name()) }

    /// The kernels run their AVX2+FMA code (also true where some run AVX-512).
    static var hasAVX2: Bool { ck_has_avx2_fma() != 0 }

    /// The kernels that have an AVX-512 path (the packed GEMM) run it.
    static var hasAVX512: Bool { ck_has_avx512() != 0 }

    /// Tests: true caps every C kernel at its AVX2 path (as CNNCODES_ISA=avx2 does for a whole
    /// process), false restores run-time detection. Set it while no kernel runs.
    static func forceAVX2(_ on: Bool) { ck_force_avx2(on ? 1 : 0) }

    /// Tests: the instruction-set caps to run a kernel under, each in turn: "avx2" always,
    /// "avx512" too where this CPU runs it. Returns with no cap set.
    static func eachVectorPath(_ body: (String) throws -> Void) rethrows {
        defer { forceAVX2(false) }
        forceAVX2(true)
        try body("avx2")
        forceAVX2(false)
        if hasAVX512 { try body("avx512") }
    }

    /// Tests: true runs every C kernel on its portable path (as CNNCODES_ISA=portable does for
    /// a whole process), false restores run-time detection. Set it while no kernel runs.
    static func forcePortable(_ on: Bool) { ck_force_portable(on ? 1 : 0) }
}
