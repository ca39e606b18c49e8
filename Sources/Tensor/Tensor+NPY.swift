import Foundation

/// Errors reading or writing `.npy` files; each names the file.
public enum NPYError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case malformed(path: String, reason: String)
    case unsupportedDType(path: String, descr: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): cannot read .npy: \(reason)"
        case let .malformed(path, reason): return "\(path): not a valid .npy file: \(reason)"
        case let .unsupportedDType(path, descr):
            return "\(path): unsupported .npy dtype '\(descr)' (supported: f2, f4, f8, i1, i2, i4, i8, u1, u2, u4, u8, b1)"
        }
    }
}

/// NumPy's `.npy` format (versions 1.0–3.0), the interchange format with numpy, scikit-learn,
/// FAISS and ONNX Runtime fixtures. Reading converts any numeric dtype to float32 (C order
/// only: Fortran-ordered arrays are transposed on read); writing produces `<f4`, version 1.0.
///
/// Layout: magic `\x93NUMPY`, major, minor, header length (u16 LE in 1.0, u32 LE in 2.0/3.0),
/// an ASCII Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`
/// padded with spaces and a final newline so the data starts at a multiple of 64 bytes.
public enum NPY {
    private static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]

    /// Reads an `.npy` file as a float32 tensor.
    public static func read(_ url: URL) throws -> Tensor {
        let bytes: Data
        do { bytes = try Data(contentsOf: url) } catch {
            throw NPYError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        return try decode(bytes, path: url.path)
    }

    /// Parses `.npy` bytes; `path` is used in error messages only.
    public static func decode(_ bytes: Data, path: String = "<memory>") throws -> Tensor {
        let b = [UInt8](bytes)
        guard b.count >= 10, Array(b[0..<6]) == magic else {
            throw NPYError.malformed(path: path, reason: "missing \\x93NUMPY magic")
        }
        let major = b[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(b[8]) | Int(b[9]) << 8
            headerStart = 10
        case 2, 3:
            guard b.count >= 12 else { throw NPYError.malformed(path: path, reason: "truncated header") }
            headerLength = Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24
            headerStart = 12
        default:
            throw NPYError.malformed(path: path, reason: "unknown format version \(major)")
        }
        guard headerStart + headerLength <= b.count,
            let header = String(bytes: b[headerStart..<(headerStart + headerLength)], encoding: .utf8)
        else { throw NPYError.malformed(path: path, reason: "truncated header") }

        guard let descr = field("descr", in: header).map({ $0.trimmingCharacters(in: CharacterSet(charactersIn: "'\"")) })
        else { throw NPYError.malformed(path: path, reason: "header has no 'descr'") }
        let fortran = field("fortran_order", in: header) == "True"
        guard let shapeText = shapeField(in: header) else {
            throw NPYError.malformed(path: path, reason: "header has no 'shape'")
        }
        let shape = try shapeText.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .map { (s: String) -> Int in
                guard let v = Int(s.replacingOccurrences(of: "L", with: "")), v >= 0 else {
                    throw NPYError.malformed(path: path, reason: "bad shape (\(shapeText))")
                }
                return v
            }
        let count = shape.reduce(1, *)
        let dataStart = headerStart + headerLength

        let endian = descr.first ?? "<"
        let kind = descr.dropFirst().first ?? "?"
        guard let width = Int(descr.dropFirst(2)) else {
            throw NPYError.unsupportedDType(path: path, descr: descr)
        }
        guard endian != ">" || width == 1 else {
            throw NPYError.unsupportedDType(path: path, descr: descr + " (big-endian)")
        }
        guard b.count - dataStart >= count * width else {
            throw NPYError.malformed(
                path: path, reason: "data holds \(b.count - dataStart) bytes, shape \(shape) of \(descr) needs \(count * width)")
        }
        var values = [Float](repeating: 0, count: count)
        try b.withUnsafeBytes { raw in
            let p = raw.baseAddress!.advanced(by: dataStart)
            func load<T>(_: T.Type, _ convert: (T) -> Float) {
                for i in 0..<count { values[i] = convert(p.loadUnaligned(fromByteOffset: i * width, as: T.self)) }
            }
            switch (kind, width) {
            case ("f", 4): load(Float.self) { $0 }
            case ("f", 8): load(Double.self) { Float($0) }
            case ("f", 2):
                for i in 0..<count {
                    values[i] = Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
                }
            case ("i", 1): load(Int8.self) { Float($0) }
            case ("i", 2): load(Int16.self) { Float($0) }
            case ("i", 4): load(Int32.self) { Float($0) }
            case ("i", 8): load(Int64.self) { Float($0) }
            case ("u", 1), ("b", 1): load(UInt8.self) { Float($0) }
            case ("u", 2): load(UInt16.self) { Float($0) }
            case ("u", 4): load(UInt32.self) { Float($0) }
            case ("u", 8): load(UInt64.self) { Float($0) }
            default: throw NPYError.unsupportedDType(path: path, descr: descr)
            }
        }
        if fortran && shape.count > 1 {
            // Fortran order is the transpose of C order over the reversed shape.
            let reversed = Tensor(shape: Array(shape.reversed()), data: values)
            return reversed.transposedReversingAxes()
        }
        return Tensor(shape: shape, data: values)
    }

    /// Writes `tensor` as a little-endian float32 `.npy` (version 1.0), atomically.
    public static func write(_ tensor: Tensor, to url: URL) throws {
        do { try encode(tensor).write(to: url, options: .atomic) } catch {
            throw NPYError.unreadable(path: url.path, reason: "cannot write: \(error.localizedDescription)")
        }
    }

    /// The `.npy` bytes of `tensor` as little-endian float32.
    public static func encode(_ tensor: Tensor) -> Data {
        let shapeText: String
        switch tensor.shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(tensor.shape[0]),)"
        default: shapeText = "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        }
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out = Data(magic)
        out.append(contentsOf: [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        out.append(contentsOf: Array(header.utf8))
        tensor.data.withUnsafeBufferPointer { out.append(UnsafeBufferPointer(start: UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: UInt8.self), count: $0.count * 4)) }
        return out
    }

    /// The raw text after `'key':` up to the next top-level comma.
    private static func field(_ key: String, in header: String) -> String? {
        guard let range = header.range(of: "'\(key)':") else { return nil }
        let rest = header[range.upperBound...].drop(while: { $0 == " " })
        let value = rest.prefix(while: { $0 != "," && $0 != "}" })
        return value.trimmingCharacters(in: .whitespaces)
    }

    /// The text inside the parentheses of `'shape': (...)`.
    private static func shapeField(in header: String) -> String? {
        guard let range = header.range(of: "'shape':"),
            let open = header[range.upperBound...].firstIndex(of: "("),
            let close = header[open...].firstIndex(of: ")")
        else { return nil }
        return String(header[header.index(after: open)..<close])
    }
}

extension Tensor {
    /// The transpose that reverses all axes (used to read Fortran-ordered arrays).
    func transposedReversingAxes() -> Tensor {
        let outShape = Array(shape.reversed())
        let inStrides = strides
        var out = Tensor(shape: outShape)
        let outStrides = out.strides
        let rank = shape.count
        var index = [Int](repeating: 0, count: rank)
        for flat in 0..<count {
            var rem = flat
            var src = 0
            for axis in 0..<rank {
                index[axis] = rem / outStrides[axis]
                rem %= outStrides[axis]
                src += index[axis] * inStrides[rank - 1 - axis]
            }
            out.data[flat] = data[src]
        }
        return out
    }
}
