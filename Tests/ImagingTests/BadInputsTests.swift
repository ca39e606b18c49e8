import Foundation
import Imaging
import TestSupport
import XCTest

/// Every file of ../shared/data/bad-inputs behaves as ../shared/data/README.md says.
final class BadInputsTests: XCTestCase {
    func file(_ name: String) throws -> URL {
        try TestPaths.requireShared("data/bad-inputs/\(name)")
    }

    func assertRefused(_ name: String, limits: DecodeLimits = .default,
                       _ check: (ImagingError, String) -> Bool, line: UInt = #line) throws {
        let url = try file(name)
        XCTAssertThrowsError(try ImageDecoder.decode(contentsOf: url, limits: limits), name, line: line) { error in
            guard let imagingError = error as? ImagingError else {
                return XCTFail("\(name): \(error) is not an ImagingError", line: line)
            }
            let message = imagingError.description
            XCTAssertTrue(check(imagingError, url.path), "\(name): unexpected error \(message)", line: line)
            XCTAssertTrue(message.hasPrefix(url.path + ": "), "message must start with the file: \(message)", line: line)
            XCTAssertFalse(message.contains("\n"), "message must be one line: \(message)", line: line)
        }
    }

    func testEmptyTextAndRandomBytesAreUnrecognizedOrCorrupt() throws {
        try assertRefused("bad-empty.jpg") { error, path in
            error == .unrecognizedFormat(file: path, reason: "empty file")
        }
        try assertRefused("bad-text.jpg") { error, _ in
            if case .unrecognizedFormat = error { return true } else { return false }
        }
        try assertRefused("bad-random-after-png-signature.png") { error, _ in
            if case .corrupt = error { return true } else { return false }
        }
    }

    func testTruncatedJPEGsAreErrorsNotGrayPixels() throws {
        for name in ["bad-truncated.jpg", "bad-jpeg-header-only.jpg"] {
            try assertRefused(name) { error, _ in
                if case let .corrupt(_, reason) = error { return reason.contains("Premature end") } else { return false }
            }
        }
    }

    func testDecompressionBombsAreRefusedFromTheHeader() throws {
        try assertRefused("bad-bomb-200000x200000.png") { error, path in
            error == .tooManyPixels(file: path, width: 200_000, height: 200_000, limit: DecodeLimits.pilMaxImagePixels)
        }
        try assertRefused("bad-bomb-65000x65000.jpg") { error, path in
            error == .tooManyPixels(file: path, width: 65_000, height: 65_000, limit: DecodeLimits.pilMaxImagePixels)
        }
        // The limit is configurable: a 500x333 image is refused under a 100k-pixel limit.
        try assertRefused("ok-baseline.jpg", limits: DecodeLimits(maxPixels: 100_000)) { error, path in
            error == .tooManyPixels(file: path, width: 500, height: 333, limit: 100_000)
        }
        try assertRefused("ok-rgb.png", limits: DecodeLimits(maxPixels: 100_000)) { error, path in
            error == .tooManyPixels(file: path, width: 500, height: 333, limit: 100_000)
        }
    }

    func testGIFAndBMPAreRefusedNamingTheFormat() throws {
        try assertRefused("unsupported-or-ok.gif") { error, path in error == .unsupportedFormat(file: path, format: "GIF") }
        try assertRefused("unsupported-or-ok.bmp") { error, path in error == .unsupportedFormat(file: path, format: "BMP") }
        let gif = try TestPaths.requireShared("data/hymenoptera/train/ants/imageNotFound.gif")
        XCTAssertThrowsError(try ImageDecoder.decode(contentsOf: gif)) { error in
            XCTAssertEqual(error as? ImagingError, .unsupportedFormat(file: gif.path, format: "GIF"))
        }
    }

    func testEveryOKFileDecodes() throws {
        let folder = try TestPaths.requireShared("data/bad-inputs")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix("ok") }.sorted()
        XCTAssertEqual(names.count, 15)
        let baseline = try ImageDecoder.decode(contentsOf: file("ok-baseline.jpg"))
        for name in names {
            let image = try ImageDecoder.decode(contentsOf: folder.appendingPathComponent(name))
            XCTAssertEqual(image.rgb.count, image.width * image.height * 3, name)
            switch name {
            case "ok-1x1.png": XCTAssertEqual([image.width, image.height], [1, 1])
            case "ok-extreme-aspect.jpg": XCTAssertEqual([image.width, image.height], [3000, 12])
            default: XCTAssertEqual([image.width, image.height], [baseline.width, baseline.height], name)
            }
        }
    }

    func testEXIFRotatedFileIsTurnedUpright() throws {
        let stored = try file("ok-exif-rotate90.jpg")
        let image = try ImageDecoder.decode(contentsOf: stored)
        XCTAssertEqual([image.width, image.height], [500, 333], "orientation 6 stores 333x500; upright is 500x333")
        // Pixel content: close to the baseline photo (same picture, re-encoded rotated).
        let baseline = try ImageDecoder.decode(contentsOf: file("ok-baseline.jpg"))
        let meanDifference = zip(image.rgb, baseline.rgb).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }
        XCTAssertLessThan(Double(meanDifference) / Double(image.rgb.count), 8, "rotated decode should look like the baseline")
    }

    func testTruncatedPNGIsAnError() throws {
        let data = try Data(contentsOf: file("ok-rgb.png"))
        for length in [data.count / 2, data.count - 20, 40] {
            XCTAssertThrowsError(try ImageDecoder.decode(data: data.prefix(length), name: "cut.png")) { error in
                guard case .corrupt(let name, _)? = error as? ImagingError else { return XCTFail("\(error)") }
                XCTAssertEqual(name, "cut.png")
            }
        }
    }

    func testMissingFileIsUnreadable() throws {
        let url = URL(fileURLWithPath: "/nonexistent/cnncodes/none.jpg")
        XCTAssertThrowsError(try ImageDecoder.decode(contentsOf: url)) { error in
            guard case .unreadable(let file, _)? = error as? ImagingError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, url.path)
        }
    }
}
