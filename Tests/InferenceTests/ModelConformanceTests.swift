import Foundation
import Inference
import Tensor
import TestSupport
import XCTest

/// The 11 real models of ../shared/models against ONNX Runtime (references written by
/// tools/fixtures/onnx_reference.py): final output and intermediate tensors must satisfy
/// max|ours − ort| <= 1e-4 · max|ort| + 1e-5.
final class ModelConformanceTests: XCTestCase {
    struct Manifest: Decodable {
        struct Entry: Decodable {
            struct TensorRef: Decodable {
                let name: String; let file: String; let shape: [Int]
                /// Set for a Softmax output whose logits are too large for float32 to decide it
                /// (see onnx_reference.py): the logits are checked instead, and this output
                /// against the softmax of our logits.
                let softmax_of: String?
            }
            let model: String
            let input: String
            let input_shape: [Int]
            let tensors: [TensorRef]
        }
        let models: [Entry]
    }

    /// Runs one model of the manifest and checks every reference tensor; returns the worst
    /// relative difference for the log.
    func check(_ stem: String) throws {
        let manifestURL = try TestPaths.requireGenerated("onnx_reference/manifest.json")
        let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: manifestURL))
        guard let entry = manifest.models.first(where: { $0.model.hasSuffix("/\(stem).onnx") }) else {
            throw XCTSkip("\(stem) not in the manifest; re-run tools/make-fixtures")
        }
        let modelURL = try TestPaths.requireShared(entry.model)
        let base = manifestURL.deletingLastPathComponent()
        let input = try NPY.read(base.appendingPathComponent(entry.input))
        XCTAssertEqual(input.shape, entry.input_shape)
        let model = try ONNXModel(contentsOf: modelURL)
        let session = try InferenceSession(
            model: model, outputs: entry.tensors.map(\.name), inputShape: entry.input_shape, threads: 2)
        let results = try session.run(input)
        for ref in entry.tensors {
            let expected = try NPY.read(base.appendingPathComponent(ref.file))
            guard let ours = results[ref.name] else { XCTFail("\(stem): no output \(ref.name)"); continue }
            XCTAssertEqual(ours.shape, expected.shape, "\(stem) \(ref.name)")
            guard ours.count == expected.count else { continue }
            if let logitsName = ref.softmax_of, let logits = results[logitsName] {
                let n = logits.shape.count > 1 ? logits.shape[1...].reduce(1, *) : logits.count
                for row in 0..<(logits.count / n) {
                    let slice = logits.data[(row * n)..<((row + 1) * n)].map(Double.init)
                    let top = slice.max() ?? 0
                    let sum = slice.reduce(0) { $0 + exp($1 - top) }
                    for (k, v) in slice.enumerated() {
                        XCTAssertEqual(Double(ours.data[row * n + k]), exp(v - top) / sum, accuracy: 1e-6, "\(stem) \(ref.name)")
                    }
                }
                print("conformance \(stem) \(ref.name): ill-conditioned softmax, checked through \(logitsName)")
                continue
            }
            var maxDiff: Float = 0, maxRef: Float = 0
            for i in 0..<ours.count {
                maxDiff = max(maxDiff, abs(ours.data[i] - expected.data[i]))
                maxRef = max(maxRef, abs(expected.data[i]))
            }
            let tolerance = 1e-4 * maxRef + 1e-5
            print("conformance \(stem) \(ref.name) \(ours.shape): max|diff| \(maxDiff), max|ort| \(maxRef), ratio \(maxDiff / max(maxRef, 1e-30))")
            XCTAssertLessThanOrEqual(maxDiff, tolerance, "\(stem) \(ref.name): max|ours − ort| = \(maxDiff), max|ort| = \(maxRef)")
        }
    }

    func testEfficientNetLite0() throws { try check("efficientnet_lite0") }
    func testOpenNSFW() throws { try check("open-nsfw") }
    func testLightAlexNet() throws { try check("light_bvlc_alexnet") }
    func testLightDenseNet121() throws { try check("light_densenet121") }
    func testLightInceptionV1() throws { try check("light_inception_v1") }
    func testLightInceptionV2() throws { try check("light_inception_v2") }
    func testLightResNet50() throws { try check("light_resnet50") }
    func testLightShuffleNet() throws { try check("light_shufflenet") }
    func testLightSqueezeNet() throws { try check("light_squeezenet") }
    func testLightVGG19() throws { try check("light_vgg19") }
    func testLightZFNet512() throws { try check("light_zfnet512") }

    /// A dynamic-batch model gives each image the same code alone and inside a larger batch.
    func testBatchSizesAgree() throws {
        let url = try TestPaths.requireShared("models/efficientnet_lite0.onnx")
        let model = try ONNXModel(contentsOf: url)
        XCTAssertEqual(model.inputs.first?.shape, [nil, 3, 224, 224])
        let layer = "/_avg_pooling/GlobalAveragePool_output_0"
        var batch = Tensor(shape: [3, 3, 224, 224])
        for i in 0..<batch.count { batch.data[i] = sin(Float(i) * 0.001) }
        let three = try InferenceSession(model: model, outputs: [layer], inputShape: [3, 3, 224, 224], threads: 2)
        let one = try InferenceSession(model: model, outputs: [layer], inputShape: [1, 3, 224, 224], threads: 1)
        let all = try XCTUnwrap(try three.run(batch)[layer])
        XCTAssertEqual(all.shape, [3, 1280, 1, 1])
        for image in 0..<3 {
            let alone = try XCTUnwrap(try one.run(batch.rows(image..<(image + 1)))[layer])
            let inBatch = all.rows(image..<(image + 1))
            let diff = zip(alone.data, inBatch.data).map { abs($0 - $1) }.max() ?? .nan
            XCTAssertLessThan(diff, 1e-4, "image \(image)")
        }
        // A fixed-batch model refuses another batch size.
        let fixed = try ONNXModel(contentsOf: try TestPaths.requireShared("models/light/light_bvlc_alexnet.onnx"))
        XCTAssertThrowsError(try InferenceSession(model: fixed, inputShape: [2, 3, 224, 224])) { error in
            guard case .invalidInputShape? = error as? InferenceError else { return XCTFail("\(error)") }
        }
    }

    /// A batch of 4 on 2 threads runs as single-image passes in two lanes and gives each image
    /// the same outputs (a pooled layer and the logits) as running it alone; so does a batch
    /// of 3 (whichever lane is free takes the next image: one runs two, the other one) and a
    /// batch of 4 on one thread.
    func testLanesAgree() throws {
        let url = try TestPaths.requireShared("models/efficientnet_lite0.onnx")
        let model = try ONNXModel(contentsOf: url)
        let layers = ["/_avg_pooling/GlobalAveragePool_output_0"] + model.outputs.map(\.name)
        var batch = Tensor(shape: [4, 3, 224, 224])
        for i in 0..<batch.count { batch.data[i] = cos(Float(i) * 0.0007) }
        let four = try InferenceSession(model: model, outputs: layers, inputShape: [4, 3, 224, 224], threads: 2)
        XCTAssertEqual(four.imagesPerPass, 1)
        XCTAssertEqual(four.laneCount, 2)
        let one = try InferenceSession(model: model, outputs: layers, inputShape: [1, 3, 224, 224], threads: 1)
        XCTAssertEqual(one.imagesPerPass, 1)
        XCTAssertEqual(one.laneCount, 1)
        XCTAssertEqual(four.flopsPerRun, 4 * one.flopsPerRun, "FLOPs count the whole batch, not one pass")
        let alone = try (0..<4).map { image in try one.run(batch.rows(image..<(image + 1))) }
        let three = try InferenceSession(model: model, outputs: layers, inputShape: [3, 3, 224, 224], threads: 2)
        let fourOnOne = try InferenceSession(model: model, outputs: layers, inputShape: [4, 3, 224, 224], threads: 1)
        XCTAssertEqual(fourOnOne.laneCount, 1)
        for (session, input) in [(four, batch), (three, batch.rows(0..<3)), (fourOnOne, batch)] {
            let all = try session.run(input)
            let count = input.shape[0]
            for layer in layers {
                let inBatch = try XCTUnwrap(all[layer])
                XCTAssertEqual(inBatch.shape.first, count, layer)
                for image in 0..<count {
                    let expected = try XCTUnwrap(alone[image][layer])
                    let diff = zip(expected.data, inBatch.rows(image..<(image + 1)).data).map { abs($0 - $1) }.max() ?? .nan
                    XCTAssertLessThan(diff, 1e-4, "\(layer) image \(image) of \(count)")
                }
            }
        }
    }

    /// Two sessions with different thread counts running at the same time on two threads each
    /// give exactly the results they give alone (the engine's thread count is per thread).
    func testConcurrentSessionsAgreeWithSerialRuns() throws {
        let model = try ONNXModel(contentsOf: try TestPaths.requireShared("models/efficientnet_lite0.onnx"))
        var batch = Tensor(shape: [2, 3, 224, 224])
        for i in 0..<batch.count { batch.data[i] = sin(Float(i) * 0.0011) }
        let sessions = try [(1, [1, 3, 224, 224]), (2, [1, 3, 224, 224]), (2, [2, 3, 224, 224]), (1, [2, 3, 224, 224])].map {
            try InferenceSession(model: model, inputShape: $0.1, threads: $0.0)
        }
        let inputs = sessions.map { $0.inputShape[0] == 1 ? batch.rows(0..<1) : batch }
        let serial = try zip(sessions, inputs).map { try $0.run($1) }
        let concurrent = try (0..<3).flatMap { _ in
            var results = [[String: Tensor]?](repeating: nil, count: sessions.count)
            let lock = NSLock()
            DispatchQueue.concurrentPerform(iterations: sessions.count) { i in
                let out = try? sessions[i].run(inputs[i])
                lock.lock(); results[i] = out; lock.unlock()
            }
            return try results.map { try XCTUnwrap($0) }
        }
        for (i, result) in concurrent.enumerated() {
            let expected = serial[i % sessions.count]
            for (name, tensor) in expected {
                XCTAssertEqual(result[name]?.data, tensor.data, "session \(i % sessions.count), output \(name)")
            }
        }
    }

    /// `profile` times every step of the plan; its FLOPs add up to the plan's.
    func testProfileCoversEveryStep() throws {
        let model = try ONNXModel(contentsOf: try TestPaths.requireShared("models/efficientnet_lite0.onnx"))
        for (threads, batch) in [(2, 1), (2, 4)] {
            let session = try InferenceSession(model: model, inputShape: [batch, 3, 224, 224], threads: threads)
            let steps = try session.profile(Tensor(shape: [batch, 3, 224, 224]), passes: 2)
            XCTAssertLessThanOrEqual(steps.count, session.runtimeOpTypes.count, "views (Reshape, Flatten) run no kernel")
            XCTAssertTrue(steps.allSatisfy { $0.seconds > 0 }, "every step took time")
            XCTAssertEqual(steps.reduce(0) { $0 + $1.flops } * batch / session.imagesPerPass, session.flopsPerRun)
            XCTAssertEqual(steps.filter { $0.opType == "Conv" }.count, 49, "EfficientNet-Lite0 has 49 convolutions")
        }
    }

    /// Pruning: asking for an early layer runs only the nodes before it.
    func testEarlyLayerRunsOnlyItsPrefix() throws {
        let url = try TestPaths.requireShared("models/efficientnet_lite0.onnx")
        let model = try ONNXModel(contentsOf: url)
        let full = try InferenceSession(model: model, inputShape: [1, 3, 224, 224], threads: 1)
        let early = try InferenceSession(
            model: model, outputs: ["/_blocks.0/_depthwise_conv/Conv_output_0"], inputShape: [1, 3, 224, 224], threads: 1)
        XCTAssertLessThanOrEqual(early.runtimeNodeCount, 3, "\(early.runtimeOpTypes)")
        XCTAssertGreaterThan(full.runtimeNodeCount, 40)
        // Pads, Clips and the residual Adds are folded into the convolutions: only Conv, pooling,
        // the flattening Reshape (a buffer alias) and Gemm remain.
        XCTAssertEqual(Set(full.runtimeOpTypes), ["Conv", "GlobalAveragePool", "Reshape", "Gemm"], "\(Set(full.runtimeOpTypes))")
    }

    /// DenseNet-121's 62 BatchNormalization → Mul → Add → Relu chains after its Concats run as
    /// one ChannelAffine step each (their values are checked against ONNX Runtime by
    /// testLightDenseNet121); the BatchNorms after convolutions are folded into them.
    func testDenseNetAffineChainsRunAsOneStep() throws {
        let counts = try runtimeOpCounts("models/light/light_densenet121.onnx")
        XCTAssertEqual(counts["ChannelAffine"], 62, "\(counts)")
        XCTAssertNil(counts["BatchNormalization"], "\(counts)")
        XCTAssertNil(counts["Mul"], "\(counts)")
        XCTAssertNil(counts["Add"], "\(counts)")
        XCTAssertNil(counts["Relu"], "\(counts)")
    }

    /// The Caffe2-exported ResNet-50 writes its 16 residual connections as two-input `Sum`s:
    /// they and the Relus after them fold into the convolutions (values checked against ONNX
    /// Runtime by testLightResNet50).
    func testResNetResidualSumsFoldIntoConvolutions() throws {
        let counts = try runtimeOpCounts("models/light/light_resnet50.onnx")
        XCTAssertEqual(counts["Conv"], 53, "\(counts)")
        XCTAssertNil(counts["Sum"], "\(counts)")
        XCTAssertNil(counts["Relu"], "\(counts)")
    }

    /// How many steps of each op type a batch-1 224² plan of the shared model runs.
    private func runtimeOpCounts(_ sharedPath: String) throws -> [String: Int] {
        let model = try ONNXModel(contentsOf: try TestPaths.requireShared(sharedPath))
        let session = try InferenceSession(model: model, inputShape: [1, 3, 224, 224], threads: 1)
        return Dictionary(grouping: session.runtimeOpTypes) { $0 }.mapValues(\.count)
    }
}
