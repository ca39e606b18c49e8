import ArgumentParser
import Foundation
import Imaging
import Tensor

/// Options that choose a `Preprocessing`: a named profile or a JSON file, plus the
/// DCT-downscale switch and the pixel limit. Shared by every command that reads images.
struct PreprocessingOptions: ParsableArguments {
    @Option(help: "A named preprocessing profile: \(Preprocessing.profileNames.joined(separator: ", ")).")
    var profile: String?

    @Option(name: .customLong("preprocessing"), help: ArgumentHelp(
        "A JSON file describing a custom preprocessing (see `cnncodes preprocess --help`).",
        valueName: "file.json"))
    var preprocessingFile: String?

    @Flag(help: "Decode JPEGs at 1/2, 1/4 or 1/8 scale in the DCT domain when the resize allows it (faster, not bit-identical to PIL's full decode).")
    var dctDownscale = false

    @Option(help: "Refuse images whose header declares more pixels than this (decompression-bomb guard).")
    var maxPixels: Int = DecodeLimits.pilMaxImagePixels

    func validate() throws {
        if profile != nil && preprocessingFile != nil {
            throw ValidationError("give either --profile or --preprocessing, not both")
        }
        if let profile, !Preprocessing.profileNames.contains(profile) {
            throw ValidationError("unknown profile '\(profile)'; known: \(Preprocessing.profileNames.joined(separator: ", "))")
        }
        if maxPixels <= 0 {
            throw ValidationError("--max-pixels must be positive")
        }
    }

    /// The chosen preprocessing (default profile: efficientnet-lite).
    func preprocessing() throws -> Preprocessing {
        var value: Preprocessing
        if let preprocessingFile {
            value = try Preprocessing.load(json: URL(fileURLWithPath: preprocessingFile))
        } else {
            value = try Preprocessing.named(profile ?? "efficientnet-lite")
        }
        if dctDownscale { value.dctDownscale = true }
        return value
    }

    var limits: DecodeLimits { DecodeLimits(maxPixels: maxPixels) }
}

/// `cnncodes preprocess IMAGE --profile P --output x.npy`: one image's model input.
struct PreprocessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preprocess",
        abstract: "Decode one image and write the model input tensor as an .npy file.",
        discussion: """
            The tensor has shape [1, ...inputShape] (e.g. [1, 3, 224, 224] for NCHW), float32. \
            JPEG and PNG are decoded (format sniffed from the content; EXIF orientation \
            applied); GIF, BMP and WebP are refused. The resize is PIL's antialiased \
            bilinear, so the tensor matches PIL + numpy.

            A custom preprocessing is a JSON file:
              {"resize": {"shorterSide": 256}, "crop": {"width": 224, "height": 224},
               "scale": "0..255", "mean": [127, 127, 127], "std": [128, 128, 128],
               "channelOrder": "RGB", "layout": "NCHW", "dctDownscale": false}
            ("resize" may instead be {"width": W, "height": H}; mean/std are per output \
            channel, in output order, in the units of "scale").

            Example:
              cnncodes preprocess bee.jpg --profile efficientnet-lite --output bee.npy
            """
    )

    @Argument(help: "The image file.")
    var image: String

    @OptionGroup var options: PreprocessingOptions

    @Option(name: .shortAndLong, help: "Where to write the tensor (.npy).")
    var output: String

    @Flag(help: "Print the canonical JSON of the preprocessing used.")
    var showPreprocessing = false

    func run() throws {
        let preprocessing = try options.preprocessing()
        let url = URL(fileURLWithPath: image)
        let (tensor, width, height) = try preprocessing.load(url, limits: options.limits)
        let batch = tensor.reshaped([1] + tensor.shape)
        try NPY.write(batch, to: URL(fileURLWithPath: output))
        if showPreprocessing { print(preprocessing.canonicalJSON) }
        print("\(image): \(width)x\(height) -> tensor \(batch.shape) written to \(output)")
    }
}
