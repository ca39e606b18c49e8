import ArgumentParser
import Foundation
import Imaging

/// `cnncodes preprocess-benchmark FOLDER --threads N`: decode + preprocess throughput
/// (hidden; used by benchmarks/imaging).
struct PreprocessBenchmarkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preprocess-benchmark",
        abstract: "Decode and preprocess every image of a folder on N threads and print images/s.",
        discussion: """
            Files are found recursively and processed in sorted order, each exactly once per \
            pass; refused files count as failures. Nothing is written.

            Example:
              cnncodes preprocess-benchmark ../shared/data/hymenoptera --threads 2
            """,
        shouldDisplay: false
    )

    @Argument(help: "The folder of images.")
    var folder: String

    @OptionGroup var options: PreprocessingOptions

    @Option(help: "Worker threads.")
    var threads: Int = 1

    @Option(help: "Passes over the folder (the figure is for all passes).")
    var passes: Int = 1

    @Flag(help: "Only decode (no resize, crop or normalisation), to see where the time goes.")
    var decodeOnly = false

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard passes >= 1 else { throw ValidationError("--passes must be at least 1") }
    }

    func run() throws {
        let preprocessing = try options.preprocessing()
        let limits = options.limits
        let root = URL(fileURLWithPath: folder)
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else {
            throw ValidationError("\(folder): cannot list the folder")
        }
        var files: [URL] = []
        for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            files.append(url)
        }
        files.sort { $0.path < $1.path }
        let work = Array(repeating: files, count: passes).flatMap { $0 }

        // Workers take the next index under `lock`; `failures` is guarded by the same lock.
        let lock = NSLock()
        var next = 0, failures = 0
        let start = DispatchTime.now().uptimeNanoseconds
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            while true {
                lock.lock()
                let index = next
                next += 1
                lock.unlock()
                guard index < work.count else { return }
                do {
                    if decodeOnly {
                        _ = try ImageDecoder.decode(contentsOf: work[index], limits: limits,
                                                    sizeHint: preprocessing.decodeSizeHint)
                    } else {
                        _ = try preprocessing.load(work[index], limits: limits)
                    }
                } catch {
                    lock.lock()
                    failures += 1
                    lock.unlock()
                }
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let done = work.count - failures
        print(String(format: "cnncodes: %d images (%d refused) in %.3f s with %d thread(s): %.1f images/s",
                     done, failures, seconds, threads, Double(work.count) / seconds))
    }
}
