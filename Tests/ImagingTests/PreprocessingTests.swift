import Foundation
import Imaging
import Tensor
import TestSupport
import XCTest

/// Profiles, layout/order/mean/std, geometry, JSON — on tiny synthetic images.
final class PreprocessingTests: XCTestCase {
    /// A 3×2 image whose pixel (x, y) is (R, G, B) = (10x + y, 100 + 10x + y, 200 + x + y).
    let image: DecodedImage = {
        var rgb: [UInt8] = []
        for y in 0..<2 { for x in 0..<3 { rgb += [UInt8(10 * x + y), UInt8(100 + 10 * x + y), UInt8(200 + x + y)] } }
        return DecodedImage(width: 3, height: 2, rgb: rgb)
    }()

    func pixel(_ x: Int, _ y: Int) -> [Float] {
        [Float(10 * x + y), Float(100 + 10 * x + y), Float(200 + x + y)]
    }

    /// The profile with its geometry replaced by an identity resize (3×2, no crop), so the
    /// tensor shows the value transform alone.
    func identity(_ name: String) throws -> Preprocessing {
        var p = try Preprocessing.named(name)
        p.resize = .exact(width: 3, height: 2)
        p.crop = nil
        return p
    }

    func testEachProfileAppliesItsOrderMeanStdAndLayout() throws {
        struct Expectation { let name: String; let bgr: Bool; let nhwc: Bool; let divisor: Float; let mean: [Float]; let std: [Float] }
        let expectations = [
            Expectation(name: "torchvision", bgr: false, nhwc: false, divisor: 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]),
            Expectation(name: "efficientnet-lite", bgr: false, nhwc: false, divisor: 1, mean: [127, 127, 127], std: [128, 128, 128]),
            Expectation(name: "caffe", bgr: true, nhwc: false, divisor: 1, mean: [104, 117, 123], std: [1, 1, 1]),
            Expectation(name: "open-nsfw", bgr: true, nhwc: true, divisor: 1, mean: [104, 117, 123], std: [1, 1, 1]),
        ]
        XCTAssertEqual(expectations.map(\.name), Preprocessing.profileNames)
        for e in expectations {
            let tensor = try identity(e.name).tensor(from: image)
            XCTAssertEqual(tensor.shape, e.nhwc ? [2, 3, 3] : [3, 2, 3], e.name)
            for y in 0..<2 {
                for x in 0..<3 {
                    let rgb = pixel(x, y)
                    for o in 0..<3 {
                        let source = e.bgr ? rgb[2 - o] : rgb[o]
                        let expected = (source / e.divisor - e.mean[o]) / e.std[o]
                        let actual = e.nhwc ? tensor[y, x, o] : tensor[o, y, x]
                        XCTAssertEqual(actual, expected, accuracy: 1e-6, "\(e.name) channel \(o) at (\(x), \(y))")
                    }
                }
            }
        }
    }

    func testProfileGeometryAndInputShapes() throws {
        XCTAssertEqual(try Preprocessing.named("efficientnet-lite").inputShape, [3, 224, 224])
        XCTAssertEqual(try Preprocessing.named("torchvision").inputShape, [3, 224, 224])
        XCTAssertEqual(try Preprocessing.named("caffe").inputShape, [3, 224, 224])
        XCTAssertEqual(try Preprocessing.named("open-nsfw").inputShape, [224, 224, 3])
        XCTAssertEqual(try Preprocessing.named("open-nsfw").resize, .exact(width: 256, height: 256))
        for name in Preprocessing.profileNames { XCTAssertNoThrow(try Preprocessing.named(name).validate()) }
        XCTAssertThrowsError(try Preprocessing.named("vgg")) { error in
            XCTAssertTrue("\(error)".contains("unknown profile"), "\(error)")
        }
    }

    func testShorterSideRoundsHalfToEvenLikePython() {
        // 3 * (3 / 2) = 4.5 -> 4 and 5 * 1.5 = 7.5 -> 8 (Python's round), not 5 and 8.
        XCTAssertEqual(ResizeMode.shorterSide(3).outputSize(width: 3, height: 2).width, 4)
        XCTAssertEqual(ResizeMode.shorterSide(3).outputSize(width: 5, height: 2).width, 8)
        XCTAssertEqual(ResizeMode.shorterSide(256).outputSize(width: 500, height: 333).width, 384)
        XCTAssertEqual(ResizeMode.shorterSide(256).outputSize(width: 500, height: 333).height, 256)
        XCTAssertEqual(ResizeMode.shorterSide(256).outputSize(width: 333, height: 500).height, 384)
    }

    func testCenterCropOffsetsUseFloorDivision() throws {
        var p = try Preprocessing.named("efficientnet-lite")
        let g = p.geometry(width: 500, height: 333)
        XCTAssertEqual([g.resizedWidth, g.resizedHeight, g.cropX, g.cropY], [384, 256, 80, 16])
        // A crop larger than the resize: negative offsets floor, padding is zero.
        p.resize = .exact(width: 3, height: 2)
        p.crop = .init(width: 4, height: 4)
        let h = p.geometry(width: 3, height: 2)
        XCTAssertEqual([h.cropX, h.cropY], [-1, -1])
        let padded = p.croppedPixels(from: image)
        XCTAssertEqual(padded.rgb.count, 4 * 4 * 3)
        XCTAssertEqual(Array(padded.rgb[0..<3]), [0, 0, 0])
        let inside = ((1 * 4) + 1) * 3  // window (1, 1) = image (0, 0)
        XCTAssertEqual(Array(padded.rgb[inside..<(inside + 3)]), [0, 100, 200])
    }

    func testCanonicalJSONIsStableAndRoundTrips() throws {
        let p = try Preprocessing.named("efficientnet-lite")
        XCTAssertEqual(p.canonicalJSON, #"{"channelOrder":"RGB","crop":{"height":224,"width":224},"dctDownscale":false,"layout":"NCHW","mean":[127,127,127],"resize":{"shorterSide":256},"scale":"0..255","std":[128,128,128]}"#)
        for name in Preprocessing.profileNames {
            let value = try Preprocessing.named(name)
            let back = try Preprocessing.decode(json: Data(value.canonicalJSON.utf8), source: name)
            XCTAssertEqual(back, value, name)
            XCTAssertEqual(back.canonicalJSON, value.canonicalJSON, name)
        }
        var fast = p
        fast.dctDownscale = true
        XCTAssertNotEqual(fast.canonicalJSON, p.canonicalJSON, "the fast path changes pixels, so provenance")
    }

    func testCustomJSONFileWithScalarMeanAndFixedResize() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        let url = dir.appendingPathComponent("p.json")
        try Data(#"{"resize": {"width": 300, "height": 200}, "scale": "0..1", "mean": 0.5, "std": [0.25, 0.5, 1], "channelOrder": "BGR", "layout": "NHWC"}"#.utf8).write(to: url)
        let p = try Preprocessing.load(json: url)
        XCTAssertEqual(p, Preprocessing(resize: .exact(width: 300, height: 200), crop: nil, scale: .unit,
                                        mean: [0.5, 0.5, 0.5], std: [0.25, 0.5, 1], channelOrder: .bgr, layout: .nhwc))
        XCTAssertEqual(p.inputShape, [200, 300, 3])
    }

    func testInvalidJSONIsRefusedWithAReason() throws {
        let cases: [(String, String)] = [
            (#"{"resize": {"shorterSide": 256}, "scale": "0..255", "mean": 1, "std": 1, "channelOrder": "RGB", "layout": "NCHW"}"#, "needs a crop"),
            (#"{"resize": {"shorterSide": 256}, "crop": {"width": 224, "height": 224}, "scale": "0..9", "mean": 1, "std": 1, "channelOrder": "RGB", "layout": "NCHW"}"#, "scale"),
            (#"{"resize": {"shorterSide": 256}, "crop": {"width": 224, "height": 224}, "scale": "0..1", "mean": 1, "std": 0, "channelOrder": "RGB", "layout": "NCHW"}"#, "non-zero"),
            (#"{"resize": {"shorterSide": 256}, "crop": {"width": 224, "height": 224}, "scale": "0..1", "mean": [1, 2], "std": 1, "channelOrder": "RGB", "layout": "NCHW"}"#, "3 values"),
            (#"{"crop": {"width": 224, "height": 224}, "scale": "0..1", "mean": 1, "std": 1, "channelOrder": "RGB", "layout": "NCHW"}"#, "resize"),
        ]
        for (text, reason) in cases {
            XCTAssertThrowsError(try Preprocessing.decode(json: Data(text.utf8), source: "p.json")) { error in
                let message = "\(error)"
                XCTAssertTrue(message.hasPrefix("p.json: invalid preprocessing"), message)
                XCTAssertTrue(message.contains(reason), "\(message) should mention \(reason)")
            }
        }
    }

    /// `load` runs concurrently (the extraction pipeline calls it from several threads):
    /// the same files on 4 threads give the same tensors as one thread.
    func testConcurrentLoadsGiveTheSameTensors() throws {
        let folder = try TestPaths.requireShared("data/bad-inputs")
        let names = ["ok-baseline.jpg", "ok-cmyk.jpg", "ok-progressive.jpg", "ok-rgba.png", "ok-palette.png", "ok-exif-rotate90.jpg"]
        let urls = names.map { folder.appendingPathComponent($0) }
        let p = try Preprocessing.named("torchvision")
        let serial = try urls.map { try p.load($0).tensor }
        let lock = NSLock()
        var results = [Int: Tensor]()
        DispatchQueue.concurrentPerform(iterations: urls.count * 4) { i in
            let tensor = try? p.load(urls[i % urls.count]).tensor
            lock.lock()
            if let tensor, results[i] == nil { results[i] = tensor }
            lock.unlock()
        }
        XCTAssertEqual(results.count, urls.count * 4)
        for (i, tensor) in results { XCTAssertEqual(tensor, serial[i % urls.count], names[i % urls.count]) }
    }
}
