import CNNCodesCLI

/// The executable's entry point: the command tree lives in CNNCodesCLI so tests can drive it.
@main
extension CNNCodesCommand {}
