import ArgumentParser
import Foundation
import Tensor

/// `cnncodes npy-info FILE`: shape and summary statistics of an .npy file.
struct NPYInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "npy-info",
        abstract: "Print the shape and summary statistics of an .npy file."
    )

    @Argument(help: "The .npy file to describe.")
    var file: String

    func run() throws {
        let tensor = try NPY.read(URL(fileURLWithPath: file))
        let values = tensor.data
        let minimum = values.min() ?? 0
        let maximum = values.max() ?? 0
        let mean = values.isEmpty ? 0 : values.reduce(0, +) / Float(values.count)
        print("\(file): shape \(tensor.shape), min \(minimum), max \(maximum), mean \(mean)")
    }
}
