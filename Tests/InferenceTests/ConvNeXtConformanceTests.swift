import Foundation
import Inference
import Tensor
import TestSupport
import XCTest

/// A ConvNeXt-T-shaped model with synthetic weights (tools/fixtures/convnext_synthetic.py:
/// LayerNormalization channels-last and as LayerNorm2d, depthwise 7×7, GELU written out
/// through Erf, layer scale, residuals; 28.6 M parameters) against ONNX Runtime at full size:
/// logits and pooled features within max|ours − ort| <= 1e-4 · max|ort| + 1e-5, on one and
/// two threads, with every GELU folded into one Gelu step.
final class ConvNeXtConformanceTests: XCTestCase {
    func testMatchesONNXRuntime() throws {
        let modelURL = try TestPaths.requireGenerated("convnext_synthetic/convnext_tiny_synthetic.onnx")
        let base = modelURL.deletingLastPathComponent()
        let input = try NPY.read(base.appendingPathComponent("input.npy"))
        let model = try ONNXModel(contentsOf: modelURL)
        for threads in [1, 2] {
            let session = try InferenceSession(
                model: model, outputs: ["logits", "features"], inputShape: input.shape, threads: threads)
            let types = session.runtimeOpTypes
            XCTAssertEqual(types.filter { $0 == "Gelu" }.count, 18, "one Gelu step per block")
            XCTAssertFalse(types.contains("Erf"), "every written-out GELU folded")
            let results = try session.run(input)
            for name in ["logits", "features"] {
                let expected = try NPY.read(base.appendingPathComponent("\(name).npy"))
                let ours = try XCTUnwrap(results[name], name)
                XCTAssertEqual(ours.shape, expected.shape, name)
                let maxRef = expected.data.map(abs).max() ?? 0
                let maxDiff = zip(ours.data, expected.data).map { abs($0 - $1) }.max() ?? .infinity
                XCTAssertLessThanOrEqual(maxDiff, 1e-4 * maxRef + 1e-5, "\(name), \(threads) thread(s)")
                print("convnext conformance \(name), \(threads) thread(s): max|diff| / max|ORT| = \(maxDiff / maxRef)")
            }
        }
    }
}
