@testable import Inference
import TestSupport
import XCTest

/// ExecutionPlan puts a fused-residual 1×1 conv's output in its residual's buffer exactly when
/// that is safe (`ExecutionPlan.overwrittenInput`). The model (Tests/Fixtures/onnx-ops/
/// residual_in_place, tools/fixtures/onnx_ops.py) has four fused residual Adds: two whose
/// residual is last read there (in place), one whose residual is also the conv's input and one
/// whose residual is read again later (own buffers). Its values against ONNX Runtime are
/// checked with the other operator cases (OperatorTests).
final class ResidualInPlaceTests: XCTestCase {
    let directory = TestPaths.committedFixtures.appendingPathComponent("onnx-ops")

    func testOutputTakesTheResidualsBufferOnlyWhenSafe() throws {
        for (name, shape, threads) in [("residual_in_place", [1, 8, 9, 11], 1), ("residual_in_place_batch", [3, 8, 9, 11], 2)] {
            let model = try ONNXModel(contentsOf: directory.appendingPathComponent("\(name).onnx"))
            let session = try InferenceSession(model: model, inputShape: shape, threads: threads)
            let fused = session.plan.steps.filter { $0.opType == "Conv" && $0.inputs.count > 3 && $0.inputs[3] != nil }
            XCTAssertEqual(fused.count, 4, "\(name): fused residual Adds")
            let inPlace = fused.filter { $0.inputs[3] == $0.outputs[0] }
            // Without AVX2 the residual is added in a second pass after the conv has written
            // its output (ResidualEpilogueKernel), so nothing may run in place.
            XCTAssertEqual(inPlace.count, InstructionSet.hasAVX2 ? 2 : 0, name)
            for step in session.plan.steps {
                let others = step.inputs.enumerated().filter { $0.offset != 3 }.compactMap { $0.element?.buffer }
                XCTAssertFalse(others.contains(step.outputs[0].buffer), "\(name): \(step.label) writes over an input it reads")
            }
        }
    }
}
