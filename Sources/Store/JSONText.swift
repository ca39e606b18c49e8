import Foundation

/// JSON text for the set-based catalog statements (`json_each(?)`), written by hand:
/// Foundation's `JSONEncoder` took ~10% of an import's CPU (~45 µs per image row) for what
/// is string concatenation plus escaping.
enum JSONText {
    /// Appends `value` as a JSON string literal: `"` and `\` escaped, control characters
    /// (< 0x20) as `\u00XX`, everything else as its UTF-8 bytes (valid JSON; SQLite's JSON
    /// functions read UTF-8).
    static func appendString(_ value: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                output.append(UInt8(ascii: "\\"))
                output.append(byte)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                output.append(contentsOf: Array(#"\u00"#.utf8))
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 0xF)])
            default:
                output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }

    /// `[[a, b, null], …]`: rows of optional strings (nil → `null`).
    static func rows(_ rows: [[String?]]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(rows.count * 96)
        output.append(UInt8(ascii: "["))
        for (rowIndex, row) in rows.enumerated() {
            if rowIndex > 0 { output.append(UInt8(ascii: ",")) }
            output.append(UInt8(ascii: "["))
            for (index, value) in row.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                if let value { appendString(value, to: &output) } else { output.append(contentsOf: Array("null".utf8)) }
            }
            output.append(UInt8(ascii: "]"))
        }
        output.append(UInt8(ascii: "]"))
        return String(decoding: output, as: UTF8.self)
    }
}
