import Crypto
import Foundation

/// SHA-256 of file contents, hex-encoded: how the store recognises an image it already holds
/// (resume skips it) and a file that changed under the same path (re-extracted), and how a
/// collection records which model file made its codes.
public enum ContentDigest {
    /// The digest of `data`.
    public static func of(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    /// The digest of a file, read in 1 MiB chunks (model files can be hundreds of MB).
    public static func of(fileAt url: URL) throws -> String {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
