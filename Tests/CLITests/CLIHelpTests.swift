import ArgumentParser
@testable import CNNCodesCLI
import XCTest

/// Help texts are the CLI's manual: checked as text, as users read them.
final class CLIHelpTests: XCTestCase {
    func testRootHelpListsEveryUserCommandAndHidesBenchmarkDrivers() {
        let help = CNNCodesCommand.helpMessage()
        for command in ["inspect", "forward", "preprocess", "extract", "info", "failures", "export", "import",
                        "verify", "train", "evaluate", "predict", "search", "index"] {
            XCTAssertTrue(help.contains("\n  \(command) "), "root help lists \(command):\n\(help)")
        }
        for hidden in ["fit-npy", "search-npy", "preprocess-benchmark"] {
            XCTAssertFalse(help.contains(hidden), "\(hidden) is a benchmark driver, not for users")
        }
    }

    func testEveryCommandHasAnImperativeAbstractEndingInAPeriodAndAnExample() {
        for command in CNNCodesCommand.subcommandList where command.configuration.shouldDisplay {
            let abstract = command.configuration.abstract
            XCTAssertTrue(abstract.hasSuffix("."), "\(command): abstract ends with a period: \(abstract)")
            XCTAssertTrue(abstract.first?.isUppercase == true, "\(command): \(abstract)")
            let help = CNNCodesCommand.helpMessage(for: command)
            XCTAssertTrue(help.contains("cnncodes "), "\(command): help shows an example invocation")
        }
    }

    func testExtractHelpTeachesLayoutsAndResume() {
        let help = CNNCodesCommand.helpMessage(for: ExtractCommand.self)
        XCTAssertTrue(help.contains("USAGE: cnncodes extract [<options>] --model <model.onnx>"), help)
        XCTAssertTrue(help.contains("{train,val,test}"), help)
        XCTAssertTrue(help.contains("resumes"), help)
        XCTAssertTrue(help.contains("--pool <pool>"), help)
        XCTAssertTrue(help.contains("--dtype <dtype>"), help)
    }

    func testForwardHelpTeachesBenchmarkAndProfile() {
        let help = CNNCodesCommand.helpMessage(for: ForwardCommand.self)
        XCTAssertTrue(help.contains("--profile "), help)
        XCTAssertTrue(help.contains("--profile-steps <profile-steps>"), help)
        XCTAssertTrue(help.contains("CNNCODES_PROFILE_CLOCK=thread"), help)
        XCTAssertTrue(help.contains("cnncodes forward model.onnx --profile"), help)
    }
}

/// Argument validation gives clear messages before any work starts.
final class CLIValidationTests: XCTestCase {
    private func message(_ arguments: [String]) -> String {
        do {
            _ = try CNNCodesCommand.parseAsRoot(arguments)
            return "parsed"
        } catch {
            return CNNCodesCommand.message(for: error)
        }
    }

    func testExtractNeedsALayerAndExactlyOneSource() {
        XCTAssertTrue(message(["extract", "--model", "m.onnx", "--images", "d"]).contains("at least one --layer"))
        XCTAssertTrue(message(["extract", "--model", "m.onnx", "--layer", "x"]).contains("exactly one of --images"))
        XCTAssertTrue(message(["extract", "--model", "m.onnx", "--layer", "a", "--layer", "b", "--collection", "c", "--images", "d"])
            .contains("one --collection per --layer"))
        XCTAssertTrue(message(["extract", "--model", "m.onnx", "--layer", "a", "--images", "d", "--pool", "median"])
            .contains("median"))
        XCTAssertEqual(message(["extract", "--model", "m.onnx", "--layer", "a", "--images", "d"]), "parsed")
    }

    func testForwardValidation() {
        XCTAssertTrue(message(["forward", "m.onnx", "--profile", "--seconds", "0"]).contains("positive"))
        XCTAssertTrue(message(["forward", "m.onnx"]).contains("--input is required"))
        XCTAssertTrue(message(["forward", "m.onnx", "--profile", "--profile-steps", "0"]).contains("--profile-steps must be positive"))
        XCTAssertEqual(message(["forward", "m.onnx", "--profile", "--profile-steps", "40"]), "parsed")
        // --turns (benchmarks/turns.py's protocol) only with --benchmark.
        XCTAssertTrue(message(["forward", "m.onnx", "--turns"]).contains("--turns goes with --benchmark"))
        XCTAssertTrue(message(["forward", "m.onnx", "--benchmark", "--profile", "--turns"]).contains("--turns goes with --benchmark"))
        XCTAssertEqual(message(["forward", "m.onnx", "--benchmark", "--turns"]), "parsed")
    }

    func testSearchAndTrainValidation() {
        XCTAssertTrue(message(["search", "--collection", "c"]).contains("exactly one query"))
        XCTAssertTrue(message(["search", "--collection", "c", "--id", "1", "--filter", "color=red"]).contains("label or split"))
        XCTAssertTrue(message(["train", "--collection", "c", "--name", "n", "--C", "0"]).contains("positive"))
        XCTAssertTrue(message(["train", "--collection", "c", "--name", "n", "--cv", "1"]).contains("2 folds"))
        XCTAssertTrue(message(["predict", "--classifier", "n"]).contains("image files or --id"))
    }

    func testDefaultCollectionNameIsReadableAndSafe() {
        XCTAssertEqual(ExtractCommand.defaultCollectionName(model: "/m/efficientnet_lite0.onnx", layer: "/_avg_pooling/GlobalAveragePool_output_0"),
                       "efficientnet_lite0-GlobalAveragePool_output_0")
        XCTAssertEqual(ExtractCommand.defaultCollectionName(model: "net.onnx", layer: "pool/AvgPool:0"), "net-AvgPool_0")
    }
}
