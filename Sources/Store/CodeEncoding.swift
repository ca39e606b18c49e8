import Foundation

/// Bytes of a stored code: `dim` little-endian elements, f32 (IEEE binary32) or f16
/// (IEEE binary16, round-to-nearest-even from f32; values beyond ±65504 become ±inf).
/// Both supported hosts (x86-64, arm64) are little-endian, so f32 is a plain copy.
enum CodeEncoding {
    static func encode(_ code: UnsafeBufferPointer<Float>, as dtype: CodeDType, into destination: UnsafeMutableRawBufferPointer) {
        switch dtype {
        case .f32:
            destination.copyMemory(from: UnsafeRawBufferPointer(code))
        case .f16:
            let output = destination.bindMemory(to: UInt16.self)
            for index in 0..<code.count {
                output[index] = Float16(code[index]).bitPattern.littleEndian
            }
        }
    }

    /// `source` may be unaligned (LMDB values sit after an 8-byte key in the page).
    static func decode(_ source: UnsafeRawBufferPointer, as dtype: CodeDType, into output: UnsafeMutableBufferPointer<Float>) {
        switch dtype {
        case .f32:
            UnsafeMutableRawBufferPointer(output).copyMemory(from: source)
        case .f16:
            for index in 0..<output.count {
                let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
                output[index] = Float(Float16(bitPattern: bits))
            }
        }
    }
}
