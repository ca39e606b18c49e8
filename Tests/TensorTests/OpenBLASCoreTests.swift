import Foundation
import TestSupport
@testable import Tensor
import XCTest

/// OpenBLAS's kernel choice: when the executable repairs it, and that the repair happens in a
/// real run of the executable on this machine.
final class OpenBLASCoreTests: XCTestCase {
    func testCorrectsOnlyAPreAVX2ChoiceOnACPUThatHasBetter() {
        // Debian 12's OpenBLAS on an Emerald Rapids Xeon: the case that cost 5× on sgemm.
        XCTAssertEqual(OpenBLASCore.correction(current: "Prescott", userSetting: nil, avx512: true, avx2FMA: true), "SkylakeX")
        XCTAssertEqual(OpenBLASCore.correction(current: "Nehalem", userSetting: nil, avx512: false, avx2FMA: true), "Haswell")
        XCTAssertEqual(OpenBLASCore.correction(current: "Sandybridge", userSetting: nil, avx512: false, avx2FMA: true), "Haswell")
        // The library's own AVX2 or AVX-512 choice stands, even where AVX-512 exists.
        for chosen in ["Haswell", "Zen", "SkylakeX", "Cooperlake"] {
            XCTAssertNil(OpenBLASCore.correction(current: chosen, userSetting: nil, avx512: true, avx2FMA: true), chosen)
        }
        // A CPU without AVX2 keeps what it got; a user's OPENBLAS_CORETYPE is never overridden.
        XCTAssertNil(OpenBLASCore.correction(current: "Prescott", userSetting: nil, avx512: false, avx2FMA: false))
        XCTAssertNil(OpenBLASCore.correction(current: "Prescott", userSetting: "Prescott", avx512: true, avx2FMA: true))
    }

    /// Runs the debug `cnncodes --help` with OPENBLAS_VERBOSE=2, which makes OpenBLAS print
    /// "Core: NAME" each time it loads: the last one is the kernel set the commands run on.
    func testExecutableRunsOnKernelsThatUseThisCPU() throws {
        let binary = try TestPaths.requireExecutable()
        let process = Process()
        process.executableURL = binary
        process.arguments = ["--help"]
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_CORETYPE"] = nil
        environment["OPENBLAS_VERBOSE"] = "2"
        process.environment = environment
        let stderr = Pipe(), stdout = Pipe()
        process.standardError = stderr
        process.standardOutput = stdout
        try process.run()
        let messages = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let help = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, messages)
        XCTAssertTrue(help.contains("USAGE: cnncodes"), "the restarted process still runs the command:\n\(help)")
        let cores = messages.split(separator: "\n").compactMap { line in
            line.hasPrefix("Core: ") ? String(line.dropFirst(6)).trimmingCharacters(in: .whitespaces) : nil
        }
        let final = try XCTUnwrap(cores.last, "OpenBLAS printed no core with OPENBLAS_VERBOSE=2:\n\(messages)")
        if OpenBLASCore.correction(current: cores[0], userSetting: nil, avx512: false, avx2FMA: true) == nil {
            XCTAssertEqual(cores.count, 1, "no restart when the first choice stands: \(cores)")
        }
        // Whatever the library first chose, the process that runs the command must not be on
        // a pre-AVX2 kernel set when this CPU has AVX2+FMA.
        XCTAssertNil(
            OpenBLASCore.correction(current: final, userSetting: nil, avx512: false, avx2FMA: OpenBLASCore.cpuHasAVX2FMA),
            "the executable runs OpenBLAS's \(final) kernels on a CPU with AVX2+FMA (cores seen: \(cores))")
    }
}
