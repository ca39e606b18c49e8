import Foundation
import Inference
import Tensor
import TestSupport
import XCTest

/// Attribute edge cases, one small model per case (Tests/Fixtures/onnx-ops, made by
/// tools/fixtures/onnx_ops.py with ONNX Runtime outputs): max|ours − ort| <= 1e-4 · max|ort| + 1e-5.
final class OperatorTests: XCTestCase {
    struct Manifest: Decodable {
        struct Case: Decodable { let name: String; let output: String; let what: String; let shape: [Int] }
        let cases: [Case]
    }

    static let directory = TestPaths.committedFixtures.appendingPathComponent("onnx-ops")

    func testEveryCaseMatchesONNXRuntime() throws {
        let manifest = try JSONDecoder().decode(
            Manifest.self, from: Data(contentsOf: OperatorTests.directory.appendingPathComponent("manifest.json")))
        XCTAssertGreaterThanOrEqual(manifest.cases.count, 50)
        for c in manifest.cases {
            let dir = OperatorTests.directory
            let input = try NPY.read(dir.appendingPathComponent("\(c.name).input.npy"))
            let expected = try NPY.read(dir.appendingPathComponent("\(c.name).output.npy"))
            do {
                let model = try ONNXModel(contentsOf: dir.appendingPathComponent("\(c.name).onnx"))
                for threads in [1, 2] {
                    let session = try InferenceSession(model: model, outputs: [c.output], inputShape: input.shape, threads: threads)
                    guard let ours = try session.run(input)[c.output] else { XCTFail("\(c.name): no output"); continue }
                    XCTAssertEqual(ours.shape, expected.shape, "\(c.name) (\(c.what))")
                    guard ours.count == expected.count else { continue }
                    let maxRef = expected.data.map(abs).max() ?? 0
                    let maxDiff = zip(ours.data, expected.data).map { abs($0 - $1) }.max() ?? 0
                    XCTAssertLessThanOrEqual(
                        maxDiff, 1e-4 * maxRef + 1e-5, "\(c.name) (\(c.what)), threads \(threads): max diff \(maxDiff)")
                }
            } catch {
                XCTFail("\(c.name) (\(c.what)): \(error)")
            }
        }
    }

    /// A batch of 4 on 2 threads is split into single-image passes (lanes) only when the graph treats
    /// images independently; these two mix the batch (their values are checked above).
    func testBatchMixingGraphsRunAsOneBatch() throws {
        let dir = OperatorTests.directory
        for (name, shape) in [("batch_mixing_softmax_axis0", [4, 2, 5, 5]), ("batch_mixing_transpose", [4, 3, 4, 4])] {
            let session = try InferenceSession(
                model: ONNXModel(contentsOf: dir.appendingPathComponent("\(name).onnx")), inputShape: shape, threads: 2)
            XCTAssertEqual(session.imagesPerPass, 4, name)
        }
        let local = try InferenceSession(
            model: ONNXModel(contentsOf: dir.appendingPathComponent("batch_local_conv_softmax.onnx")), inputShape: [4, 2, 5, 5],
            threads: 2)
        XCTAssertEqual(local.imagesPerPass, 1, "a plain conv graph runs single images")
        XCTAssertEqual(local.laneCount, 2, "in one lane per thread")
    }

    /// Fusion happened where the cases say it should (the fused results are checked above).
    func testFusionPasses() throws {
        let dir = OperatorTests.directory
        let bn = try InferenceSession(
            model: ONNXModel(contentsOf: dir.appendingPathComponent("conv_bn_relu_fused.onnx")), inputShape: [1, 3, 6, 6])
        XCTAssertEqual(bn.runtimeOpTypes, ["Conv"])
        let pad = try InferenceSession(
            model: ONNXModel(contentsOf: dir.appendingPathComponent("pad_conv_fused.onnx")), inputShape: [1, 2, 5, 6])
        XCTAssertEqual(pad.runtimeOpTypes, ["Conv"])
        let gemm = try InferenceSession(
            model: ONNXModel(contentsOf: dir.appendingPathComponent("gemm_relu.onnx")), inputShape: [2, 6])
        XCTAssertEqual(gemm.runtimeOpTypes, ["Gemm"])
        let folded = try InferenceSession(
            model: ONNXModel(contentsOf: dir.appendingPathComponent("shape_arithmetic_reshape.onnx")), inputShape: [2, 3, 4])
        XCTAssertEqual(folded.runtimeOpTypes, ["Reshape"])
        // GELU written out through Erf becomes one Gelu step, in both orders of the halving…
        let convnext = try InferenceSession(
            model: ONNXModel(contentsOf: dir.appendingPathComponent("convnext_block.onnx")), inputShape: [2, 8, 9, 9])
        XCTAssertEqual(convnext.runtimeOpTypes.filter { ["Gelu", "Erf", "Div"].contains($0) }, ["Gelu"])
        let geluModel = try ONNXModel(contentsOf: dir.appendingPathComponent("gelu_written_out_half_first.onnx"))
        XCTAssertEqual(try InferenceSession(model: geluModel, inputShape: [2, 3, 5]).runtimeOpTypes, ["Gelu"])
        // …but not where an intermediate tensor was asked for.
        let kept = try InferenceSession(model: geluModel, outputs: ["y", "e"], inputShape: [2, 3, 5])
        XCTAssertTrue(kept.runtimeOpTypes.contains("Erf"), "\(kept.runtimeOpTypes)")
    }

    /// Concat inputs are computed straight into their slices (values checked above): of the
    /// four Concats only the one reading the graph input copies, at batch 1 and in the
    /// single-image lanes a batch of 2 runs in.
    func testConcatsRunInPlace() throws {
        let dir = OperatorTests.directory
        for (name, shape, threads, copies) in [
            ("concat_in_place_chain", [1, 4, 6, 6], 1, 1), ("concat_in_place_batch", [2, 4, 6, 6], 1, 1),
            ("concat_in_place_batch", [2, 4, 6, 6], 2, 1),
        ] {
            let session = try InferenceSession(
                model: ONNXModel(contentsOf: dir.appendingPathComponent("\(name).onnx")), inputShape: shape, threads: threads)
            XCTAssertEqual(session.runtimeOpTypes.filter { $0 == "Concat" }.count, 4, name)
            XCTAssertEqual(session.executedOpTypes.filter { $0 == "Concat" }.count, copies, "\(name) threads \(threads)")
        }
    }
}

/// Malformed and unsupported models give one clear error naming what is wrong.
final class ModelErrorTests: XCTestCase {
    let dir = OperatorTests.directory

    func testTruncatedFile() {
        XCTAssertThrowsError(try ONNXModel(contentsOf: dir.appendingPathComponent("bad_truncated.onnx"))) { error in
            guard case .malformed(let path, _)? = error as? InferenceError else { return XCTFail("\(error)") }
            XCTAssertTrue(path.hasSuffix("bad_truncated.onnx"))
            XCTAssertTrue("\(error)".contains("truncated"), "\(error)")
        }
    }

    func testUnknownOperatorsAreListedTogether() {
        XCTAssertThrowsError(try ONNXModel(contentsOf: dir.appendingPathComponent("bad_unknown_ops.onnx"))) { error in
            guard case .unsupportedOperators(let list)? = error as? InferenceError else { return XCTFail("\(error)") }
            XCTAssertEqual(list.count, 2)
            let text = "\(error)"
            for part in ["FancyNorm", "norm1", "WarpField", "warp7", "opset 13"] {
                XCTAssertTrue(text.contains(part), "'\(part)' missing from: \(text)")
            }
        }
    }

    func testMissingInitializer() {
        XCTAssertThrowsError(try ONNXModel(contentsOf: dir.appendingPathComponent("bad_missing_initializer.onnx"))) { error in
            XCTAssertEqual(error as? InferenceError, .missingTensor(name: "missing_weight", node: "conv_a"))
            XCTAssertTrue("\(error)".contains("missing_weight"))
        }
    }

    func testMissingFile() {
        XCTAssertThrowsError(try ONNXModel(contentsOf: dir.appendingPathComponent("no-such-model.onnx"))) { error in
            guard case .unreadable? = error as? InferenceError else { return XCTFail("\(error)") }
        }
    }

    func testUnknownOutputAndWrongInputShape() throws {
        let model = try ONNXModel(contentsOf: dir.appendingPathComponent("conv_asymmetric_pads.onnx"))
        XCTAssertThrowsError(try InferenceSession(model: model, outputs: ["nope"], inputShape: [1, 3, 7, 8])) { error in
            XCTAssertEqual(error as? InferenceError, .unknownTensor(name: "nope"))
        }
        XCTAssertThrowsError(try InferenceSession(model: model, inputShape: [1, 3, 7])) { error in
            guard case .invalidInputShape? = error as? InferenceError else { return XCTFail("\(error)") }
        }
        let session = try InferenceSession(model: model, inputShape: [1, 3, 7, 8])
        XCTAssertThrowsError(try session.run(Tensor(shape: [1, 3, 8, 8]))) { error in
            XCTAssertEqual(error as? InferenceError, .inputShapeMismatch(expected: [1, 3, 7, 8], got: [1, 3, 8, 8]))
        }
    }

    func testDescribeListsEveryTensor() throws {
        let model = try ONNXModel(contentsOf: dir.appendingPathComponent("conv_bn_relu_fused.onnx"))
        let rows = try model.describe(inputShape: [1, 3, 6, 6])
        XCTAssertEqual(rows.map(\.name), ["x", "c", "n", "y"])
        XCTAssertEqual(rows.map(\.opType), ["Input", "Conv", "BatchNormalization", "Relu"])
        XCTAssertEqual(rows.last?.shape, [1, 4, 4, 4])
    }
}
