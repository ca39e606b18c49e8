import CKernels

/// The instruction set the engine's C kernels chose on this machine ("avx2+fma" or
/// "portable"), for benchmark output and logs: a ratio measured on one ISA says nothing
/// about the other.
public enum InstructionSet {
    public static var name: String { String(cString: ck_isa_name()) }
}
