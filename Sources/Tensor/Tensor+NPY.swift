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
    ///
    /// A little-endian float32 C-order file (what `write`, numpy and the exports produce) is
    /// read with `pread` straight into the tensor's buffer: no intermediate copy of the file
    /// and no per-element work (a 512 MB codes.npy otherwise went through three copies, which
    /// was 28% of an import's CPU). Any other dtype goes through `decode`.
    public static func read(_ url: URL) throws -> Tensor {
        let path = url.path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw NPYError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw NPYError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        let fileSize = Int(info.st_size)
        // The header: magic, version, length, dict (a few hundred bytes at most in practice).
        let lead = try readBytes(descriptor, offset: 0, count: min(fileSize, 12), path: path)
        let header = try Header.parse(lead + (lead.count >= 10 ? try readBytes(
            descriptor, offset: lead.count, count: min(fileSize, Header.prefixLength(lead)) - lead.count, path: path) : []),
            fileSize: fileSize, path: path)
        guard header.descr == "<f4" || header.descr == "=f4", !header.fortran || header.shape.count <= 1 else {
            let bytes: Data
            do { bytes = try Data(contentsOf: url) } catch {
                throw NPYError.unreadable(path: path, reason: error.localizedDescription)
            }
            return try decode(bytes, path: path)
        }
        let count = header.count
        let values = try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            var done = 0
            let raw = UnsafeMutableRawBufferPointer(buffer)
            while done < count * 4 {
                let got = pread(descriptor, raw.baseAddress! + done, count * 4 - done, off_t(header.dataStart + done))
                if got < 0, errno == EINTR { continue }
                guard got > 0 else {
                    throw NPYError.unreadable(path: path, reason: got < 0 ? String(cString: strerror(errno)) : "file shrank while reading")
                }
                done += got
            }
            initialized = count
        }
        return Tensor(shape: header.shape, data: values)
    }

    /// `count` bytes at `offset` of an open file.
    private static func readBytes(_ descriptor: Int32, offset: Int, count: Int, path: String) throws -> [UInt8] {
        guard count > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if got < 0, errno == EINTR { continue }
            guard got > 0 else {
                throw NPYError.unreadable(path: path, reason: got < 0 ? String(cString: strerror(errno)) : "unexpected end of file")
            }
            done += got
        }
        return bytes
    }

    /// The parsed header of an `.npy` file.
    private struct Header {
        var descr: String
        var fortran: Bool
        var shape: [Int]
        /// Byte offset of the data.
        var dataStart: Int
        var count: Int { shape.reduce(1, *) }

        /// Bytes up to the end of the header dict, from the first 10 (v1) or 12 (v2/v3) bytes;
        /// 0 when they are no `.npy` lead-in (`parse` then says why).
        static func prefixLength(_ b: [UInt8]) -> Int {
            guard b.count >= 10, Array(b[0..<6]) == magic else { return 0 }
            switch b[6] {
            case 1: return 10 + (Int(b[8]) | Int(b[9]) << 8)
            case 2, 3:
                guard b.count >= 12 else { return 0 }
                return 12 + (Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24)
            default: return 0
            }
        }

        /// Parses the header in `b` (the file's first bytes, at least through the dict) and
        /// checks that a file of `fileSize` bytes holds the data it announces.
        static func parse(_ b: [UInt8], fileSize: Int, path: String) throws -> Header {
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
            let parsed = Header(descr: descr, fortran: fortran, shape: shape, dataStart: headerStart + headerLength)
            guard let width = Int(descr.dropFirst(2)) else {
                throw NPYError.unsupportedDType(path: path, descr: descr)
            }
            guard (descr.first ?? "<") != ">" || width == 1 else {
                throw NPYError.unsupportedDType(path: path, descr: descr + " (big-endian)")
            }
            let (needed, overflow) = parsed.count.multipliedReportingOverflow(by: width)
            guard !overflow, fileSize - parsed.dataStart >= needed else {
                throw NPYError.malformed(
                    path: path, reason: "data holds \(fileSize - parsed.dataStart) bytes, shape \(shape) of \(descr) needs \(overflow ? "more" : String(needed))")
            }
            return parsed
        }
    }

    /// Parses `.npy` bytes; `path` is used in error messages only.
    public static func decode(_ bytes: Data, path: String = "<memory>") throws -> Tensor {
        let b = [UInt8](bytes)
        let header = try Header.parse(b, fileSize: b.count, path: path)
        let (descr, fortran, shape, dataStart, count) = (header.descr, header.fortran, header.shape, header.dataStart, header.count)
        let kind = descr.dropFirst().first ?? "?"
        guard let width = Int(descr.dropFirst(2)) else {
            throw NPYError.unsupportedDType(path: path, descr: descr)
        }
        var values = [Float](repeating: 0, count: count)
        try b.withUnsafeBytes { raw in
            let p = raw.baseAddress!.advanced(by: dataStart)
            func load<T>(_: T.Type, _ convert: (T) -> Float) {
                for i in 0..<count { values[i] = convert(p.loadUnaligned(fromByteOffset: i * width, as: T.self)) }
            }
            switch (kind, width) {
            case ("f", 4):
                // Little-endian f32 (checked above: no big-endian) is the in-memory layout.
                values.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: p, count: count * 4)) }
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
