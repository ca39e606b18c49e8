import CNNCodesCLI
import Tensor

/// The executable's entry point: the command tree lives in CNNCodesCLI so tests can drive it.
@main
enum Entry {
    static func main() async {
        // Before any BLAS call: a process that OpenBLAS put on kernels below this CPU restarts
        // itself on the right ones (OpenBLASCore says why and when).
        OpenBLASCore.restartIfMisdetected()
        await CNNCodesCommand.main()
    }
}
