import Foundation
import Imaging
import Tensor
import TestSupport
import XCTest

/// Every PNG layout, every EXIF orientation and PIL's resize on small synthetic images
/// (tools/fixtures/pil_small_images.py; needs only numpy + Pillow).
final class SmallImagesTests: XCTestCase {
    struct Manifest: Decodable {
        let png: [String]
        let jpeg: [String]
    }

    struct ResizeCase: Decodable {
        let file: String
        let width: Int
        let height: Int
        let box: [Float]?
    }

    func folder() throws -> URL {
        try TestPaths.requireGenerated("pil_small_images/manifest.json").deletingLastPathComponent()
    }

    func bytes(_ tensor: Tensor) -> [UInt8] { tensor.data.map { UInt8($0) } }

    /// PNG: bit-identical to PIL's convert("RGB") for gray 1/2/4/8/16, gray+alpha, RGB,
    /// RGBA (8 and 16 bit), palette, palette + tRNS, each plain and Adam7-interlaced.
    func testEveryPNGLayoutMatchesPIL() throws {
        let dir = try folder()
        let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: dir.appendingPathComponent("manifest.json")))
        XCTAssertEqual(manifest.png.count, 28)
        for name in manifest.png {
            let image = try ImageDecoder.decode(contentsOf: dir.appendingPathComponent("png/\(name).png"))
            let reference = try NPY.read(dir.appendingPathComponent("png/\(name).npy"))
            XCTAssertEqual([image.height, image.width, 3], reference.shape, name)
            XCTAssertEqual(image.rgb, bytes(reference), name)
        }
    }

    /// JPEG EXIF orientations 1–8 give PIL's `ImageOps.exif_transpose` result.
    func testEveryEXIFOrientationMatchesPILExifTranspose() throws {
        let dir = try folder()
        for n in 1...8 {
            let image = try ImageDecoder.decode(contentsOf: dir.appendingPathComponent("jpeg/orient\(n).jpg"))
            let reference = try NPY.read(dir.appendingPathComponent("jpeg/orient\(n).npy"))
            XCTAssertEqual([image.height, image.width, 3], reference.shape, "orientation \(n)")
            let maxDifference = zip(image.rgb, reference.data).map { abs(Float($0) - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(maxDifference, 1, "orientation \(n)")
        }
    }

    /// The DCT-reduced decode keeps its bookkeeping through EXIF rotation: decoding
    /// orientation N reduced equals orientation 1 reduced then turned (the files share one
    /// stored picture), and the full size is the upright one.
    func testReducedDecodeWithEXIFOrientation() throws {
        let dir = try folder()
        // Stored 40×24; a shorter side of 5 lets PIL's rule reduce by 4 (to 10×6).
        let hint = DecodeSizeHint(resize: .shorterSide(5))
        let upright = try ImageDecoder.decode(contentsOf: dir.appendingPathComponent("jpeg/orient1.jpg"), sizeHint: hint)
        XCTAssertEqual([upright.width, upright.height, upright.reduction, upright.fullWidth, upright.fullHeight], [10, 6, 4, 40, 24])
        for n in 2...8 {
            let image = try ImageDecoder.decode(contentsOf: dir.appendingPathComponent("jpeg/orient\(n).jpg"), sizeHint: hint)
            let expected = try XCTUnwrap(OrientationAccess.apply(n, to: upright))
            XCTAssertEqual(image, expected, "orientation \(n)")
            XCTAssertEqual([image.fullWidth, image.fullHeight], n >= 5 ? [24, 40] : [40, 24], "orientation \(n)")
            var profile = try Preprocessing.named("efficientnet-lite")
            profile.resize = .shorterSide(5)
            profile.crop = .init(width: 4, height: 4)
            profile.dctDownscale = true
            XCTAssertEqual(profile.tensor(from: image).shape, [3, 4, 4])
        }
    }

    /// PIL's BILINEAR resize (down, up, mixed, with fractional boxes, both pass orders)
    /// reproduced exactly, whole and as a crop window.
    func testResizeIsBitIdenticalToPIL() throws {
        let dir = try folder().appendingPathComponent("resize")
        let source = try NPY.read(dir.appendingPathComponent("source.npy"))
        let image = DecodedImage(width: source.shape[1], height: source.shape[0], rgb: bytes(source))
        let cases = try JSONDecoder().decode([ResizeCase].self, from: Data(contentsOf: dir.appendingPathComponent("manifest.json")))
        for item in cases {
            let reference = try NPY.read(dir.appendingPathComponent(item.file))
            let box = item.box.map { ($0[0], $0[1], $0[2], $0[3]) } ?? (0, 0, Float(image.width), Float(image.height))
            let ours = PILResizeAccess.resize(image, box: box, width: item.width, height: item.height)
            XCTAssertEqual(ours, bytes(reference), "\(item.file): \(item.width)x\(item.height) box \(String(describing: item.box))")
            // A crop window of the same resize equals the crop of the full result.
            if item.width > 2 && item.height > 2 {
                let window = PILResizeAccess.resize(image, box: box, width: item.width, height: item.height,
                                                    crop: (1, 1, item.width - 2, item.height - 1))
                var expected: [UInt8] = []
                for y in 1..<item.height { expected += ours[((y * item.width + 1) * 3)..<((y * item.width + item.width - 1) * 3)] }
                XCTAssertEqual(window, expected, item.file)
            }
        }
    }
}
