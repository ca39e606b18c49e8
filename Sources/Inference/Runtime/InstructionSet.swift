import CKernels

/// The instruction set the engine's C kernels chose on this machine ("avx2+fma" or
/// "portable"), for benchmark output and logs: a ratio measured on one ISA says nothing
/// about the other.
public enum InstructionSet {
    public static var name: String { String(cString: ck_isa_name()) }

    /// Tests: true runs every C kernel on its portable path (as CNNCODES_ISA=portable does for
    /// a whole process), false restores run-time detection. Set it while no kernel runs.
    static func forcePortable(_ on: Bool) { ck_force_portable(on ? 1 : 0) }
}
