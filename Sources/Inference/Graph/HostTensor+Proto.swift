import Foundation
import ONNXProto

extension HostTensor {
    /// Decodes an ONNX TensorProto: data in `raw_data` (little-endian), in the typed fields
    /// (`float_data`, `int32_data` which also carries int8/16, uint8/16, bool and float16 bits,
    /// `int64_data`, `double_data`, `uint64_data`), or in an external file beside the model
    /// (`location`, `offset`, `length` keys). Float types become float32, integer and bool
    /// types int64.
    init(proto: Onnx_TensorProto, directory: URL?) throws {
        let shape = proto.dims.map { Int($0) }
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw InferenceError.malformed(path: proto.name, reason: "negative dimension in \(proto.dims)")
        }
        let count = shape.reduce(1, *)
        let type = Int(proto.dataType)
        let name = proto.name

        var raw: Data? = proto.hasRawData ? proto.rawData : nil
        if proto.dataLocation == .external {
            raw = try HostTensor.externalBytes(proto, directory: directory)
        }
        guard let width = HostTensor.byteWidth(of: type) else {
            throw InferenceError.unsupportedDataType(tensor: name, dataType: type)
        }
        if let raw {
            guard raw.count >= count * width else {
                throw InferenceError.malformed(
                    path: name, reason: "raw data holds \(raw.count) bytes, shape \(shape) of type \(type) needs \(count * width)")
            }
            self = try raw.withUnsafeBytes { p -> HostTensor in
                func load<T>(_: T.Type) -> [T] {
                    (0..<count).map { p.loadUnaligned(fromByteOffset: $0 * width, as: T.self) }
                }
                switch type {
                case 1: return HostTensor(shape: shape, floats: load(Float.self))
                case 11: return HostTensor(shape: shape, floats: load(Double.self).map { Float($0) })
                case 10: return HostTensor(shape: shape, floats: load(UInt16.self).map { Float(Float16(bitPattern: $0)) })
                case 16: return HostTensor(shape: shape, floats: load(UInt16.self).map { Float(bitPattern: UInt32($0) << 16) })
                case 2, 9: return HostTensor(shape: shape, ints: load(UInt8.self).map { Int64($0) })
                case 3: return HostTensor(shape: shape, ints: load(Int8.self).map { Int64($0) })
                case 4: return HostTensor(shape: shape, ints: load(UInt16.self).map { Int64($0) })
                case 5: return HostTensor(shape: shape, ints: load(Int16.self).map { Int64($0) })
                case 6: return HostTensor(shape: shape, ints: load(Int32.self).map { Int64($0) })
                case 7: return HostTensor(shape: shape, ints: load(Int64.self))
                case 12: return HostTensor(shape: shape, ints: load(UInt32.self).map { Int64($0) })
                case 13: return HostTensor(shape: shape, ints: load(UInt64.self).map { Int64(truncatingIfNeeded: $0) })
                default: throw InferenceError.unsupportedDataType(tensor: name, dataType: type)
                }
            }
            return
        }
        func check(_ n: Int) throws {
            guard n == count else {
                throw InferenceError.malformed(path: name, reason: "holds \(n) values, shape \(shape) needs \(count)")
            }
        }
        switch type {
        case 1: try check(proto.floatData.count); self.init(shape: shape, floats: proto.floatData)
        case 11: try check(proto.doubleData.count); self.init(shape: shape, floats: proto.doubleData.map { Float($0) })
        case 10: try check(proto.int32Data.count)
            self.init(shape: shape, floats: proto.int32Data.map { Float(Float16(bitPattern: UInt16(truncatingIfNeeded: $0))) })
        case 16: try check(proto.int32Data.count)
            self.init(shape: shape, floats: proto.int32Data.map { Float(bitPattern: UInt32(truncatingIfNeeded: $0) << 16) })
        case 2, 3, 4, 5, 6, 9: try check(proto.int32Data.count); self.init(shape: shape, ints: proto.int32Data.map { Int64($0) })
        case 7: try check(proto.int64Data.count); self.init(shape: shape, ints: proto.int64Data)
        case 12, 13: try check(proto.uint64Data.count)
            self.init(shape: shape, ints: proto.uint64Data.map { Int64(truncatingIfNeeded: $0) })
        default: throw InferenceError.unsupportedDataType(tensor: name, dataType: type)
        }
    }

    /// Bytes per element in `raw_data` for the types the engine reads, nil otherwise.
    static func byteWidth(of type: Int) -> Int? {
        switch type {
        case 1, 6, 12: return 4
        case 7, 11, 13: return 8
        case 2, 3, 9: return 1
        case 4, 5, 10, 16: return 2
        default: return nil
        }
    }

    /// The bytes of an external-data tensor, read from the file named by `location`, which
    /// must stay inside the model's directory.
    private static func externalBytes(_ proto: Onnx_TensorProto, directory: URL?) throws -> Data {
        var keys: [String: String] = [:]
        for entry in proto.externalData { keys[entry.key] = entry.value }
        guard let location = keys["location"], !location.isEmpty else {
            throw InferenceError.externalData(tensor: proto.name, reason: "no 'location' key")
        }
        guard let directory else {
            throw InferenceError.externalData(tensor: proto.name, reason: "model loaded from memory; cannot resolve '\(location)'")
        }
        guard !location.hasPrefix("/"), !location.split(separator: "/").contains("..") else {
            throw InferenceError.externalData(tensor: proto.name, reason: "location '\(location)' leaves the model's directory")
        }
        let url = directory.appendingPathComponent(location)
        let file: Data
        do { file = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw InferenceError.externalData(tensor: proto.name, reason: "cannot read \(url.path): \(error.localizedDescription)")
        }
        let offset = Int(keys["offset"] ?? "0") ?? -1
        let length = keys["length"].flatMap { Int($0) } ?? (file.count - max(offset, 0))
        guard offset >= 0, length >= 0, offset + length <= file.count else {
            throw InferenceError.externalData(
                tensor: proto.name, reason: "offset \(offset) + length \(length) outside \(url.path) (\(file.count) bytes)")
        }
        return file.subdata(in: offset..<(offset + length))
    }
}

extension Attribute {
    init(proto a: Onnx_AttributeProto, directory: URL?) throws {
        switch a.type {
        case .int: self = .int(a.i)
        case .float: self = .float(a.f)
        case .string: self = .string(String(decoding: a.s, as: UTF8.self))
        case .ints: self = .ints(a.ints)
        case .floats: self = .floats(a.floats)
        case .tensor: self = .tensor(try HostTensor(proto: a.t, directory: directory))
        case .undefined:
            // Old exporters leave `type` unset; infer it from the field that is present.
            if !a.ints.isEmpty { self = .ints(a.ints) }
            else if !a.floats.isEmpty { self = .floats(a.floats) }
            else if a.hasT { self = .tensor(try HostTensor(proto: a.t, directory: directory)) }
            else if a.hasS { self = .string(String(decoding: a.s, as: UTF8.self)) }
            else if a.hasF { self = .float(a.f) }
            else { self = .int(a.i) }
        default: self = .other("\(a.type)")
        }
    }
}
