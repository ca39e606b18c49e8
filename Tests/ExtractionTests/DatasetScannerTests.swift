import Extraction
import Foundation
import TestSupport
import XCTest

final class DatasetScannerTests: XCTestCase {
    private func makeTree(_ files: [String]) throws -> URL {
        let root = try TestPaths.temporaryDirectory(self)
        for file in files {
            let url = root.appendingPathComponent(file)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data("x".utf8).write(to: url)
        }
        return root
    }

    func testSplitFolderLayoutGivesLabelsAndSplits() throws {
        let root = try makeTree(["train/ants/a.jpg", "train/bees/b.JPG", "val/ants/c.png", "val/bees/sub/d.jpeg",
                                 "train/ants/notes.txt", "train/.hidden/e.jpg", "val/ants/.f.jpg"])
        let images = try DatasetScanner.scan(folder: root)
        XCTAssertEqual(images.map(\.relativePath), ["train/ants/a.jpg", "train/bees/b.JPG", "val/ants/c.png", "val/bees/sub/d.jpeg"])
        XCTAssertEqual(images.map(\.label), ["ants", "bees", "ants", "bees"])
        XCTAssertEqual(images.map(\.split), ["train", "train", "val", "val"])
    }

    func testFolderPerClassAndPlainFiles() throws {
        let root = try makeTree(["cats/1.jpg", "dogs/2.png", "loose.jpg"])
        let images = try DatasetScanner.scan(folder: root)
        XCTAssertEqual(images.map(\.relativePath), ["cats/1.jpg", "dogs/2.png", "loose.jpg"])
        XCTAssertEqual(images.map(\.label), ["cats", "dogs", nil])
        XCTAssertEqual(images.map(\.split), [nil, nil, nil])
    }

    func testManifestWithHeaderQuotesAndRelativePaths() throws {
        let root = try makeTree(["imgs/a.jpg", "imgs/b c.jpg"])
        let manifest = root.appendingPathComponent("list.csv")
        try "path,label,split\nimgs/a.jpg,ants,train\n\"imgs/b c.jpg\",\"be,es\",val\n".write(to: manifest, atomically: true, encoding: .utf8)
        let images = try DatasetScanner.scan(manifest: manifest)
        XCTAssertEqual(images.map(\.relativePath), ["imgs/a.jpg", "imgs/b c.jpg"])
        XCTAssertEqual(images.map(\.label), ["ants", "be,es"])
        XCTAssertEqual(images.map(\.split), ["train", "val"])
        XCTAssertEqual(images[1].url.lastPathComponent, "b c.jpg")
    }

    func testErrorsNameTheFolder() throws {
        let root = try makeTree(["readme.txt"])
        XCTAssertThrowsError(try DatasetScanner.scan(folder: root)) { XCTAssertTrue("\($0)".contains(root.path)) }
        XCTAssertThrowsError(try DatasetScanner.scan(folder: root.appendingPathComponent("nope"))) {
            XCTAssertTrue("\($0)".contains("nope"))
        }
        let manifest = root.appendingPathComponent("m.csv")
        try "a.jpg,x,y,z\n".write(to: manifest, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try DatasetScanner.scan(manifest: manifest)) { XCTAssertTrue("\($0)".contains("m.csv:1")) }
    }

    func testHymenopteraCounts() throws {
        let root = try TestPaths.requireShared("data/hymenoptera")
        let images = try DatasetScanner.scan(folder: root)
        // 398 files: train ants 124, bees 121; val ants 70, bees 83 (../shared/data/README.md).
        XCTAssertEqual(images.count, 398)
        XCTAssertEqual(images.filter { $0.split == "train" && $0.label == "ants" }.count, 124)
        XCTAssertEqual(images.filter { $0.split == "train" && $0.label == "bees" }.count, 121)
        XCTAssertEqual(images.filter { $0.split == "val" && $0.label == "ants" }.count, 70)
        XCTAssertEqual(images.filter { $0.split == "val" && $0.label == "bees" }.count, 83)
    }
}

final class ContentDigestTests: XCTestCase {
    func testKnownSHA256Vectors() throws {
        XCTAssertEqual(ContentDigest.of(Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let dir = try TestPaths.temporaryDirectory(self)
        let file = dir.appendingPathComponent("f")
        try Data("abc".utf8).write(to: file)
        XCTAssertEqual(try ContentDigest.of(fileAt: file), ContentDigest.of(Data("abc".utf8)))
    }
}
