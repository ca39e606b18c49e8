/// Checks shared by every solver's options, so each `Options.validate()` states only what is
/// its own.
enum SolverParameters {
    static func validate(C: Double, tolerance: Double, maxIterations: Int) throws {
        guard C > 0, C.isFinite else { throw LearningError.invalidParameter(name: "C", reason: "must be > 0, got \(C)") }
        guard tolerance > 0 else {
            throw LearningError.invalidParameter(name: "tolerance", reason: "must be > 0, got \(tolerance)")
        }
        guard maxIterations > 0 else {
            throw LearningError.invalidParameter(name: "max iterations", reason: "must be > 0, got \(maxIterations)")
        }
    }
}
