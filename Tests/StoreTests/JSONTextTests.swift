import Foundation
@testable import Store
import XCTest

final class JSONTextTests: XCTestCase {
    /// The hand-written JSON parses back (with Foundation's parser) to exactly the input,
    /// for every kind of character a path or label may hold.
    func testRowsParseBackToTheInput() throws {
        let tricky = ["plain.jpg", "quote\"d", #"back\slash"#, "tab\tnew\nline\r\u{1}\u{1F}", "ünïcødé/蜂/🐝.jpg",
                      "", " ", "/", "null", "\u{7F}\u{80}"]
        let rows: [[String?]] = tricky.map { [$0, nil, "x"] } + [[nil, nil], []]
        let text = JSONText.rows(rows)
        let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[Any]])
        XCTAssertEqual(parsed.count, rows.count)
        for (row, parsedRow) in zip(rows, parsed) {
            XCTAssertEqual(parsedRow.count, row.count)
            for (value, parsedValue) in zip(row, parsedRow) {
                if let value {
                    XCTAssertEqual(parsedValue as? String, value)
                } else {
                    XCTAssertTrue(parsedValue is NSNull, "\(parsedValue)")
                }
            }
        }
        XCTAssertEqual(JSONText.rows([["a\"b", nil]]), #"[["a\"b",null]]"#)
        XCTAssertEqual(JSONText.rows([["\u{1}"]]), #"[["\u0001"]]"#)
    }
}
