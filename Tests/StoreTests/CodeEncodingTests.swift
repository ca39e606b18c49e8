import Foundation
@testable import Store
import TestSupport
import XCTest

/// The value format of stored codes (`CodeEncoding`): dense or zero-bitmap packed, chosen by
/// length, bit-exact both ways, checked against a plain reference encoder written from the
/// format's description.
final class CodeEncodingTests: XCTestCase {
    /// The format spelled out the slow, obvious way: bitmap bit i%8 of byte i/8, nonzeros
    /// (bit pattern != 0 in the stored dtype) in order, packed only when strictly shorter.
    private func referenceEncode(_ code: [Float], _ dtype: CodeDType) -> [UInt8] {
        let elementBits: [UInt32] = code.map { dtype == .f32 ? $0.bitPattern : UInt32(Float16($0).bitPattern) }
        let width = dtype.byteWidth
        func bytes(_ bits: UInt32) -> [UInt8] { (0..<width).map { UInt8((bits >> (8 * UInt32($0))) & 0xFF) } }
        let dense = elementBits.flatMap(bytes)
        var bitmap = [UInt8](repeating: 0, count: (code.count + 7) / 8)
        var nonzeros: [UInt8] = []
        for (index, bits) in elementBits.enumerated() where bits != 0 {
            bitmap[index / 8] |= 1 << (index % 8)
            nonzeros += bytes(bits)
        }
        let packed = [1, 0, 0, 0] + bitmap + nonzeros
        return packed.count < dense.count ? packed : dense
    }

    private func encode(_ code: [Float], _ dtype: CodeDType) -> [UInt8] {
        let encoding = CodeEncoding(dim: code.count, dtype: dtype)
        var output = [UInt8](repeating: 0xAA, count: encoding.scratchBytes)
        let used = code.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBytes { encoding.encode(source, into: $0) }
        }
        return Array(output[0..<used])
    }

    /// Decodes `bytes` with an unaligned start (as LMDB values sit after an 8-byte key: here
    /// 1 byte off), or nil when the decoder rejects them.
    private func decode(_ bytes: [UInt8], dim: Int, _ dtype: CodeDType) -> [Float]? {
        let encoding = CodeEncoding(dim: dim, dtype: dtype)
        let shifted = [0x55] + bytes
        var output = [Float](repeating: .nan, count: dim)
        let ok = shifted.withUnsafeBytes { raw in
            output.withUnsafeMutableBufferPointer {
                encoding.decode(UnsafeRawBufferPointer(rebasing: raw[1...]), into: $0)
            }
        }
        return ok ? output : nil
    }

    /// Codes with every awkward value: -0.0 (kept: not the zero bit pattern), NaN with a
    /// payload, ±inf, subnormals, and runs of zeros.
    private func awkwardCode(dim: Int, zeroEvery: Int) -> [Float] {
        let specials: [Float] = [-0.0, Float(bitPattern: 0x7FC0_1234), .infinity, -.infinity,
                                 .leastNonzeroMagnitude, 3.5, 1e-30, 65504, 1e-8]
        return (0..<dim).map { index in
            index % zeroEvery == 0 ? 0 : specials[index % specials.count] * (index % 2 == 0 ? 1 : 1.5)
        }
    }

    func testRoundTripIsBitExactAndMatchesTheReferenceBytes() throws {
        for dtype in CodeDType.allCases {
            for dim in [1, 2, 7, 8, 9, 13, 64, 65, 127, 1280, 1281] {
                for zeroEvery in [1, 2, 3, 5, 1_000_000] {  // all zero … no zero except index 0
                    let code = awkwardCode(dim: dim, zeroEvery: zeroEvery)
                    let bytes = encode(code, dtype)
                    XCTAssertEqual(bytes, referenceEncode(code, dtype), "\(dtype) dim \(dim) zeroEvery \(zeroEvery)")
                    let back = try XCTUnwrap(decode(bytes, dim: dim, dtype), "\(dtype) dim \(dim) zeroEvery \(zeroEvery)")
                    let expected = dtype == .f32 ? code.map(\.bitPattern) : code.map { Float(Float16($0)).bitPattern }
                    XCTAssertEqual(back.map(\.bitPattern), expected, "\(dtype) dim \(dim) zeroEvery \(zeroEvery)")
                }
            }
        }
    }

    func testFormatIsChosenByLength() {
        let dim = 1280
        // All zeros: header + bitmap only.
        XCTAssertEqual(encode([Float](repeating: 0, count: dim), .f32).count, 4 + 160)
        // No zeros (-0.0 counts as nonzero): dense, byte for byte the old format.
        let negativeZeros = [Float](repeating: -0.0, count: dim)
        XCTAssertEqual(encode(negativeZeros, .f32), negativeZeros.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
        // Half zeros: 4 + 160 + 640 × 4.
        let half = (0..<dim).map { Float($0 % 2) }
        XCTAssertEqual(encode(half, .f32).count, 2724)
        XCTAssertEqual(encode(half, .f16).count, 4 + 160 + 640 * 2)
        // The break-even point: packed is used only while strictly shorter than dense.
        let encoding = CodeEncoding(dim: dim, dtype: .f32)
        let breakEven = (encoding.denseBytes - 4 - 160) / 4  // 1239: packed would be 5120 B
        for nonzeros in [breakEven - 1, breakEven, breakEven + 1] {
            let code = (0..<dim).map { $0 < nonzeros ? Float(1) : 0 }
            let length = encode(code, .f32).count
            XCTAssertEqual(length, nonzeros < breakEven ? 4 + 160 + 4 * nonzeros : 5120, "\(nonzeros) nonzeros")
            XCTAssertEqual(decode(encode(code, .f32), dim: dim, .f32), code)
        }
        // f16: values that round to +0 in binary16 are zeros of the f16 code.
        let tiny = [Float](repeating: 1e-9, count: 16)
        XCTAssertEqual(encode(tiny, .f16), [1, 0, 0, 0, 0, 0])
        XCTAssertEqual(decode([1, 0, 0, 0, 0, 0], dim: 16, .f16), [Float](repeating: 0, count: 16))
    }

    func testMalformedValuesAreRejectedWithAReason() {
        let dim = 13  // bitmap of 2 bytes, 3 padding bits
        let encoding = CodeEncoding(dim: dim, dtype: .f32)
        let code = (0..<dim).map { $0 % 3 == 0 ? Float($0) : 0 }  // nonzeros at 3, 6, 9, 12
        let good = encode(code, .f32)
        XCTAssertEqual(good.count, 4 + 2 + 4 * 4)
        XCTAssertNil(good.withUnsafeBytes { encoding.problem(with: $0) })
        var badTag = good; badTag[0] = 2
        var reserved = good; reserved[2] = 1
        var padding = good; padding[5] |= 0x80
        var extraBit = good; extraBit[4] |= 0x01  // 5 marked, 4 stored
        let cases: [(String, [UInt8], String)] = [
            ("tag", badTag, "header"), ("reserved", reserved, "header"), ("padding", padding, "past dimension"),
            ("popcount", extraBit, "marks 5 nonzeros but 4"), ("odd length", good.dropLast(1), "whole number"),
            ("too short", [1, 0, 0], "neither dense"), ("too long", good + [UInt8](repeating: 0, count: 4 * dim), "neither dense"),
        ]
        for (name, bytes, reason) in cases {
            XCTAssertNil(decode(bytes, dim: dim, .f32), name)
            let problem = bytes.withUnsafeBytes { encoding.problem(with: $0) }
            XCTAssertTrue(problem?.contains(reason) == true, "\(name): \(problem ?? "nil")")
        }
    }

    /// A store written before packing holds only dense values: they must read unchanged, and
    /// a collection may hold both formats (new codes appended to an old collection).
    func testOldDenseValuesStillReadAndMixWithPackedOnes() throws {
        let store = try FeatureStore(at: try TestPaths.temporaryDirectory(self))
        let dim = 96
        try store.ensureCollection("old", provenance: StoreFixtures.provenance(), dim: dim)
        let registered = try store.registerImages(StoreFixtures.images(20), collections: ["old"]).map(\.id)
        let (oldIDs, newIDs) = (Array(registered[0..<10]), Array(registered[10...]))
        // The old writer: raw dense f32 values, then done marks — exactly what it left on disk.
        let dbi = try store.database(of: "old")
        try store.codes.write { txn in
            for id in oldIDs {
                let code = StoreFixtures.code(for: id, dim: dim)
                try code.withUnsafeBytes { source in
                    try txn.put(dbi, id: id, byteCount: dim * 4) { $0.copyMemory(from: source) }
                }
            }
        }
        try store.markDone([CodeBatch(collection: "old", ids: oldIDs, matrix: [])],
                           records: [try store.requireCollection("old")])
        try store.putCodes(collection: "old", ids: newIDs, matrix: newIDs.flatMap { StoreFixtures.code(for: $0, dim: dim) })
        let lengths = try store.codes.read { txn in try registered.map { try txn.get(dbi, id: $0)?.count } }
        XCTAssertEqual(Array(lengths[0..<10]), [Int?](repeating: dim * 4, count: 10))
        for (id, length) in zip(newIDs, lengths[10...]) {
            let nonzeros = StoreFixtures.code(for: id, dim: dim).filter { $0 != 0 }.count
            XCTAssertEqual(length, 4 + 12 + 4 * nonzeros, "new code of image \(id) is packed")
        }
        let codes = try store.codes("old")
        XCTAssertEqual(codes.ids, registered)
        for (row, id) in codes.ids.enumerated() {
            XCTAssertEqual(codes.row(row).map(\.bitPattern), StoreFixtures.code(for: id, dim: dim).map(\.bitPattern), "image \(id)")
        }
        XCTAssertEqual(try store.code("old", id: oldIDs[3]), StoreFixtures.code(for: oldIDs[3], dim: dim))
        XCTAssertEqual(try store.code("old", id: newIDs[3]), StoreFixtures.code(for: newIDs[3], dim: dim))
        XCTAssertTrue(try store.verify().isConsistent)
    }

    /// A damaged value is reported by `verify` and by reads, naming the image, not crashed on.
    func testCorruptValueIsReportedNotCrashedOn() throws {
        let store = try FeatureStore(at: try TestPaths.temporaryDirectory(self))
        let dim = 32
        try store.ensureCollection("c", provenance: StoreFixtures.provenance(), dim: dim)
        let ids = try StoreFixtures.fill(store, collection: "c", images: StoreFixtures.images(3), dim: dim)
        let dbi = try store.database(of: "c")
        try store.codes.write { txn in
            try txn.put(dbi, id: ids[1], byteCount: 4 + 4 + 4) { $0.copyBytes(from: [1, 0, 0, 0, 0xFF, 0, 0, 0, 0, 0, 128, 63] as [UInt8]) }
        }
        XCTAssertThrowsError(try store.codes("c")) { error in
            XCTAssertEqual("\(error)", "collection 'c': code of image \(ids[1]) is corrupt: bitmap marks 8 nonzeros but 1 are stored")
        }
        XCTAssertThrowsError(try store.code("c", id: ids[1]))
        XCTAssertEqual(try store.code("c", id: ids[0]), StoreFixtures.code(for: ids[0], dim: dim))
        let problems = try store.verify().problems
        XCTAssertTrue(problems.contains { $0.contains("code of image \(ids[1]) is corrupt") }, "\(problems)")
    }
}
