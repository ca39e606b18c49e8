import Foundation
import Tensor
import TestSupport
import XCTest

/// `.npy` reading checked against files numpy itself wrote (Tests/Fixtures/npy, made by
/// numpy 2.x: `np.save`), and writing checked by reading back.
final class NPYTests: XCTestCase {
    private func fixture(_ name: String) -> URL {
        TestPaths.committedFixtures.appendingPathComponent("npy/\(name)")
    }

    func testReadsFloat64WrittenByNumpy() throws {
        let t = try NPY.read(fixture("f8_2x3.npy"))
        XCTAssertEqual(t.shape, [2, 3])
        XCTAssertEqual(t.data, [1.5, -2, 3, 4, 5, 6.25])
    }

    func testReadsInt64AndFloat16() throws {
        XCTAssertEqual(try NPY.read(fixture("i8_4.npy")).data, [0, 1, -7, 9])
        XCTAssertEqual(try NPY.read(fixture("f2_3.npy")).data, [0.5, 1, -2])
    }

    func testFortranOrderIsReturnedInCOrder() throws {
        let t = try NPY.read(fixture("f4_fortran_2x3.npy"))
        XCTAssertEqual(t.shape, [2, 3])
        XCTAssertEqual(t.data, [1, 2, 3, 4, 5, 6])
    }

    func testWriteThenReadRoundTrips() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        let url = dir.appendingPathComponent("x.npy")
        let original = Tensor(shape: [2, 1, 3], data: [0, -1.25, 3e-8, 4, .greatestFiniteMagnitude, 6])
        try NPY.write(original, to: url)
        XCTAssertEqual(try NPY.read(url), original)
        // Data starts at a multiple of 64 bytes, as numpy >= 1.x writes it.
        let bytes = try Data(contentsOf: url)
        XCTAssertEqual((bytes.count - 6 * 4) % 64, 0)
    }

    func testRejectsGarbageWithPathInMessage() {
        XCTAssertThrowsError(try NPY.decode(Data("hello world".utf8), path: "/tmp/bad.npy")) { error in
            XCTAssertTrue("\(error)".contains("/tmp/bad.npy"), "\(error)")
        }
        var truncated = NPY.encode(Tensor(shape: [4], data: [1, 2, 3, 4]))
        truncated.removeLast(3)
        XCTAssertThrowsError(try NPY.decode(truncated, path: "t.npy"))
    }
}
