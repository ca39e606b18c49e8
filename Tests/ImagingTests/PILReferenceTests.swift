import Foundation
import Imaging
import Tensor
import TestSupport
import XCTest

/// Our decode + resize + crop against PIL's, on every real image (tools/fixtures/pil_reference.py).
final class PILReferenceTests: XCTestCase {
    struct Manifest: Decodable {
        struct Entry: Decodable {
            let path: String
            let format: String
            let width: Int?
            let height: Int?
            let crop: String?
            let draft: String?
            let reduction: Int?
        }
        let images: [Entry]
    }

    /// Mean and max absolute difference in gray levels between two byte arrays. (Unsafe
    /// buffers: this test target is built without optimisation and runs over 60M values.)
    static func difference(_ a: [UInt8], _ b: [Float]) -> (mean: Double, max: Int) {
        precondition(a.count == b.count, "sizes differ: \(a.count) vs \(b.count)")
        var total = 0, largest = 0
        a.withUnsafeBufferPointer { x in
            b.withUnsafeBufferPointer { y in
                for i in 0..<x.count {
                    let d = abs(Int(x[i]) - Int(y[i]))
                    total += d
                    if d > largest { largest = d }
                }
            }
        }
        return (Double(total) / Double(max(a.count, 1)), largest)
    }

    func loadManifest() throws -> (URL, Manifest) {
        let manifestURL = try TestPaths.requireGenerated("pil_reference/manifest.json")
        let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: manifestURL))
        return (manifestURL.deletingLastPathComponent(), manifest)
    }

    /// The exact path: for every image PIL opens, mean |ours - PIL| <= 0.5 and max <= 2
    /// gray levels on the 224×224×3 crop (efficientnet-lite geometry); formats we refuse
    /// must be refused naming the format.
    func testExactPathMatchesPILOnEveryImage() throws {
        let (folder, manifest) = try loadManifest()
        let data = try TestPaths.requireShared("data")
        let profile = try Preprocessing.named("efficientnet-lite")
        var compared = 0, identical = 0, worstMean = 0.0, worstMax = 0, sumMean = 0.0
        for entry in manifest.images {
            let url = data.appendingPathComponent(entry.path)
            guard let cropFile = entry.crop else {
                XCTAssertThrowsError(try ImageDecoder.decode(contentsOf: url)) { error in
                    XCTAssertEqual(error as? ImagingError, .unsupportedFormat(file: url.path, format: entry.format))
                }
                continue
            }
            let image = try ImageDecoder.decode(contentsOf: url)
            XCTAssertEqual(image.width, entry.width, entry.path)
            XCTAssertEqual(image.height, entry.height, entry.path)
            let ours = profile.croppedPixels(from: image)
            let reference = try NPY.read(folder.appendingPathComponent(cropFile))
            XCTAssertEqual(reference.shape, [224, 224, 3], entry.path)
            XCTAssertEqual([ours.height, ours.width, 3], reference.shape, entry.path)
            let d = Self.difference(ours.rgb, reference.data)
            XCTAssertLessThanOrEqual(d.mean, 0.5, "\(entry.path): mean |ours - PIL| = \(d.mean)")
            XCTAssertLessThanOrEqual(d.max, 2, "\(entry.path): max |ours - PIL| = \(d.max)")
            compared += 1
            if d.max == 0 { identical += 1 }
            sumMean += d.mean
            worstMean = max(worstMean, d.mean)
            worstMax = max(worstMax, d.max)
        }
        XCTAssertGreaterThan(compared, 400)
        print("PIL exact path: \(compared) images, \(identical) bit-identical, mean |d| averaged \(sumMean / Double(compared)), worst mean \(worstMean), worst max \(worstMax)")
    }

    /// The DCT-domain fast path: compared with PIL's own draft path (same reduction, same
    /// box) it must match to the same tolerance; against PIL's exact path the difference
    /// is measured and printed (the fast path is not exact by design).
    func testFastPathMatchesPILDraftAndMeasuresDistanceToExact() throws {
        let (folder, manifest) = try loadManifest()
        let data = try TestPaths.requireShared("data")
        var profile = try Preprocessing.named("efficientnet-lite")
        profile.dctDownscale = true
        var reduced = 0, worstDraftMax = 0, worstExactMax = 0, sumExactMean = 0.0
        for entry in manifest.images {
            guard let draftFile = entry.draft, let cropFile = entry.crop else { continue }
            let url = data.appendingPathComponent(entry.path)
            let image = try ImageDecoder.decode(contentsOf: url, sizeHint: profile.decodeSizeHint)
            XCTAssertEqual(image.reduction, entry.reduction, entry.path)
            // Unreduced images take the exact path, compared in the test above.
            guard image.reduction > 1 else { continue }
            let ours = profile.croppedPixels(from: image)
            let draft = try NPY.read(folder.appendingPathComponent(draftFile))
            let d = Self.difference(ours.rgb, draft.data)
            XCTAssertLessThanOrEqual(d.mean, 0.5, "\(entry.path): mean |ours - PIL draft| = \(d.mean)")
            XCTAssertLessThanOrEqual(d.max, 2, "\(entry.path): max |ours - PIL draft| = \(d.max)")
            worstDraftMax = max(worstDraftMax, d.max)
            reduced += 1
            let exact = try NPY.read(folder.appendingPathComponent(cropFile))
            let e = Self.difference(ours.rgb, exact.data)
            sumExactMean += e.mean
            worstExactMax = max(worstExactMax, e.max)
        }
        print("DCT fast path: \(reduced) images reduced; vs PIL draft worst max \(worstDraftMax); vs PIL exact on reduced images: mean |d| averaged \(reduced > 0 ? sumExactMean / Double(reduced) : 0), worst max \(worstExactMax)")
    }
}
