import Foundation

/// The HNSW file format, version 1 (little-endian; every supported platform is).
///
///     header, 96 bytes:
///       0  magic "CNNCHNSW" (8 bytes)     8  version UInt32 = 1     12 header bytes UInt32 = 96
///       16 dim UInt32      20 metric UInt32 (0 cosine, 1 ip, 2 l2)    24 dtype UInt32 (0 float32)
///       28 M UInt32        32 maxM0 UInt32      36 efConstruction UInt32
///       40 count UInt64    48 deleted count UInt64   56 entry point Int64 (-1 when empty)
///       64 max level Int32 68 reserved UInt32 = 0   72 bytes per level-0 element UInt64
///       80 upper-level link words UInt64   88 level multiplier Float64
///     level 0:      count × bytesPerElement bytes (`HNSWLayout`, padding zeroed)
///     levels:       count × Int32
///     deleted:      count × UInt8 (0/1)
///     upper links:  for each element of level L ≥ 1, in id order, L × (1 + M) UInt32 words
///
/// `load` checks the magic, the version, every parameter against the layout it implies, the
/// exact file size, and every stored link, label and level, so a wrong, truncated or
/// corrupted file is rejected with a message instead of crashing a search later.
extension HNSWIndex {
    static let fileMagic: [UInt8] = Array("CNNCHNSW".utf8)
    static let fileVersion: UInt32 = 1
    static let headerBytes = 96

    /// Writes the index to `url` atomically (a temporary file renamed over it).
    public func save(to url: URL) throws {
        var header = Data(capacity: HNSWIndex.headerBytes)
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { header.append(contentsOf: $0) } }
        header.append(contentsOf: HNSWIndex.fileMagic)
        put(HNSWIndex.fileVersion)
        put(UInt32(HNSWIndex.headerBytes))
        put(UInt32(dim))
        put(metric.fileCode)
        put(ScalarType.float32.fileCode)
        put(UInt32(m))
        put(UInt32(layout.maxM0))
        put(UInt32(efConstruction))
        put(UInt64(count))
        put(UInt64(deletedCount))
        put(Int64(entryPoint))
        put(Int32(maxLevel))
        put(UInt32(0))
        put(UInt64(layout.bytesPerElement))
        put(UInt64(upperLinkWords))
        put(levelMultiplier.bitPattern)

        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
        guard FileManager.default.createFile(atPath: temporary.path, contents: header),
            let handle = try? FileHandle(forWritingTo: temporary)
        else { throw SearchError.unreadableFile(path: url.path, reason: "cannot create \(temporary.path)") }
        do {
            defer { try? handle.close() }
            try handle.seekToEnd()
            func write(_ pointer: UnsafeRawPointer, _ byteCount: Int) throws {
                // In 64 MB pieces: no copy of the whole level-0 block is ever made.
                var offset = 0
                while offset < byteCount {
                    let n = min(64 << 20, byteCount - offset)
                    try handle.write(contentsOf: Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: pointer + offset), count: n, deallocator: .none))
                    offset += n
                }
            }
            try write(level0, count * layout.bytesPerElement)
            try write(levels, count * 4)
            try write(deleted, count)
            for i in 0..<count where levels[i] > 0 {
                try write(upperLinks[i]!, Int(levels[i]) * layout.wordsPerUpperLevel * 4)
            }
            try handle.synchronize()
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw SearchError.unreadableFile(path: url.path, reason: "cannot write: \(error.localizedDescription)")
        }
        guard rename(temporary.path, url.path) == 0 else {
            try? FileManager.default.removeItem(at: temporary)
            throw SearchError.unreadableFile(path: url.path, reason: "cannot rename \(temporary.path) into place")
        }
    }

    private var upperLinkWords: Int {
        (0..<count).reduce(0) { $0 + Int(levels[$1]) } * layout.wordsPerUpperLevel
    }

    /// Reads an index written by `save`. Throws `SearchError.corruptFile` naming the problem.
    public static func load(from url: URL, threads: Int = 2) throws -> HNSWIndex {
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw SearchError.unreadableFile(path: url.path, reason: error.localizedDescription)
        }
        func corrupt(_ reason: String) -> SearchError { .corruptFile(path: url.path, reason: reason) }
        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> HNSWIndex in
            guard raw.count >= headerBytes else { throw corrupt("\(raw.count) bytes, shorter than the \(headerBytes)-byte header") }
            guard Array(raw[0..<8]) == fileMagic else { throw corrupt("missing the CNNCHNSW magic number") }
            func get<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T { T(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: T.self)) }
            let version = get(8, UInt32.self)
            guard version == fileVersion else { throw corrupt("format version \(version), this build reads version \(fileVersion)") }
            guard get(12, UInt32.self) == UInt32(headerBytes) else { throw corrupt("header size \(get(12, UInt32.self)), expected \(headerBytes)") }
            let dim = Int(get(16, UInt32.self))
            guard let metric = Metric(fileCode: get(20, UInt32.self)) else { throw corrupt("unknown metric code \(get(20, UInt32.self))") }
            guard get(24, UInt32.self) == ScalarType.float32.fileCode else { throw corrupt("unsupported dtype code \(get(24, UInt32.self)) (float32 only)") }
            let m = Int(get(28, UInt32.self))
            let maxM0 = Int(get(32, UInt32.self))
            let efConstruction = Int(get(36, UInt32.self))
            let count = Int(get(40, UInt64.self))
            let deletedCount = Int(get(48, UInt64.self))
            let entryPoint = Int(get(56, Int64.self))
            let maxLevel = Int(get(64, Int32.self))
            let bytesPerElement = Int(get(72, UInt64.self))
            let upperWords = Int(get(80, UInt64.self))
            let levelMultiplier = Double(bitPattern: get(88, UInt64.self))

            let index: HNSWIndex
            do { index = try HNSWIndex(dim: dim, metric: metric, m: m, efConstruction: efConstruction, threads: threads) } catch {
                throw corrupt("bad parameters: \(error)")
            }
            let layout = index.layout
            guard maxM0 == layout.maxM0, bytesPerElement == layout.bytesPerElement else {
                throw corrupt("maxM0 \(maxM0) / element size \(bytesPerElement) do not match M \(m) and dim \(dim)")
            }
            guard count < Int(UInt32.max), deletedCount <= count, upperWords >= 0, upperWords < raw.count,
                levelMultiplier == index.levelMultiplier
            else { throw corrupt("inconsistent counts (count \(count), deleted \(deletedCount))") }
            let (level0Bytes, o1) = count.multipliedReportingOverflow(by: bytesPerElement)
            guard !o1, level0Bytes <= raw.count else { throw corrupt("truncated: level 0 needs \(level0Bytes) bytes, the file has \(raw.count)") }
            let expected = headerBytes + level0Bytes + count * 5 + upperWords * 4
            guard raw.count == expected else {
                throw corrupt("size \(raw.count) bytes, expected \(expected) for \(count) elements of dim \(dim) (truncated or trailing data)")
            }
            guard (count == 0 && entryPoint == -1 && maxLevel == -1) || (0..<count).contains(entryPoint) else {
                throw corrupt("entry point \(entryPoint) out of range for \(count) elements")
            }

            index.reserve(max(count, 1))
            let base = raw.baseAddress!
            index.level0.copyMemory(from: base + headerBytes, byteCount: level0Bytes)
            var offset = headerBytes + level0Bytes
            var wordsSeen = 0
            var topLevel = -1
            for i in 0..<count {
                let level = Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 4 * i, as: Int32.self)))
                guard level >= 0, level <= 64 else { throw corrupt("element \(i) has level \(level)") }
                (index.levels + i).initialize(to: Int32(level))
                wordsSeen += level * layout.wordsPerUpperLevel
                topLevel = max(topLevel, level)
            }
            guard wordsSeen == upperWords else { throw corrupt("levels need \(wordsSeen) upper link words, header says \(upperWords)") }
            guard topLevel == maxLevel, count == 0 || Int(index.levels[entryPoint]) == maxLevel else {
                throw corrupt("max level \(maxLevel) does not match the elements' levels (top \(topLevel))")
            }
            offset += 4 * count
            var deletedSeen = 0
            for i in 0..<count {
                let flag = raw[offset + i]
                guard flag <= 1 else { throw corrupt("element \(i) has deleted flag \(flag)") }
                (index.deleted + i).initialize(to: flag == 1)
                deletedSeen += Int(flag)
            }
            guard deletedSeen == deletedCount else { throw corrupt("\(deletedSeen) elements marked deleted, header says \(deletedCount)") }
            offset += count
            for i in 0..<count {
                let level = Int(index.levels[i])
                guard level > 0 else { (index.upperLinks + i).initialize(to: nil); continue }
                let words = level * layout.wordsPerUpperLevel
                let links = UnsafeMutablePointer<UInt32>.allocate(capacity: words)
                UnsafeMutableRawPointer(links).copyMemory(from: base + offset, byteCount: words * 4)
                (index.upperLinks + i).initialize(to: links)
                offset += words * 4
            }
            // Set the count before validating links, so `deinit` frees what was allocated.
            index.count = count
            index.deletedCount = deletedCount
            index.entryPoint = entryPoint
            index.maxLevel = maxLevel
            for i in 0..<count {
                let node = UInt32(i)
                let id = index.label(node)
                guard index.internalOfID.updateValue(node, forKey: id) == nil else { throw corrupt("id \(id) appears twice") }
                for level in 0...Int(index.levels[i]) {
                    let list = index.linkList(node, level: level)
                    let n = Int(list[0])
                    guard n <= (level == 0 ? maxM0 : m) else { throw corrupt("element \(i) has \(n) links on level \(level)") }
                    for j in 0..<n where Int(list[1 + j]) >= count || Int(index.levels[Int(list[1 + j])]) < level {
                        throw corrupt("element \(i) links to \(list[1 + j]) on level \(level), which is not there")
                    }
                }
            }
            return index
        }
    }
}
