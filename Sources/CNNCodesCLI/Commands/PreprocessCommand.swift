import ArgumentParser
import Foundation
import Imaging
import Tensor

/// Options that choose a `Preprocessing`: a named profile or a JSON file (default: the
/// efficientnet-lite profile), individual overrides, the DCT-downscale switch and the pixel
/// limit. Shared by every command that reads images.
struct PreprocessingOptions: ParsableArguments {
    @Option(help: "A named preprocessing profile: \(Preprocessing.profileNames.joined(separator: ", ")).")
    var profile: String?

    @Option(name: .customLong("preprocessing"), help: ArgumentHelp(
        "A JSON file describing a custom preprocessing (see `cnncodes preprocess --help`).",
        valueName: "file.json"))
    var preprocessingFile: String?

    @Option(help: ArgumentHelp("Override the resize: the shorter side (e.g. 256) or an exact size (e.g. 256x256).", valueName: "S|WxH"))
    var resize: String?

    @Option(help: ArgumentHelp("Override the center crop: a side (e.g. 224), a size (e.g. 224x192) or 'none'.", valueName: "S|WxH|none"))
    var crop: String?

    @Option(help: ArgumentHelp("Override the pixel scale before mean/std: 0..1 or 0..255.", valueName: "0..1|0..255"))
    var scale: String?

    @Option(help: ArgumentHelp("Override the mean: one value or three comma-separated, in output channel order.", valueName: "m|m1,m2,m3"))
    var mean: String?

    @Option(help: ArgumentHelp("Override the std: one value or three comma-separated, in output channel order.", valueName: "s|s1,s2,s3"))
    var std: String?

    @Option(help: ArgumentHelp("Override the channel order: RGB or BGR.", valueName: "RGB|BGR"))
    var channelOrder: String?

    @Option(help: ArgumentHelp("Override the layout: NCHW or NHWC.", valueName: "NCHW|NHWC"))
    var layout: String?

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
        // Check the overrides against the profile now; a JSON file is read (and checked) in run().
        if preprocessingFile == nil {
            _ = try overridden(Preprocessing.named(profile ?? "efficientnet-lite"))
        }
    }

    /// `base` with the override flags applied (each flag parsed and checked here).
    func overridden(_ base: Preprocessing) throws -> Preprocessing {
        var value = base
        func size(_ text: String, _ flag: String) throws -> (Int, Int?) {
            let parts = text.lowercased().split(separator: "x").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            switch parts.count {
            case 1: if let s = parts[0], s > 0 { return (s, nil) }
            case 2: if let w = parts[0], let h = parts[1], w > 0, h > 0 { return (w, h) }
            default: break
            }
            throw ValidationError("\(flag) '\(text)': expected a positive size S or WxH")
        }
        func channels(_ text: String, _ flag: String) throws -> [Float] {
            let values = text.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
            guard values.count == 1 || values.count == 3, values.allSatisfy({ $0?.isFinite == true }) else {
                throw ValidationError("\(flag) '\(text)': expected one number or three comma-separated numbers")
            }
            let numbers = values.compactMap { $0 }
            return numbers.count == 1 ? Array(repeating: numbers[0], count: 3) : numbers
        }
        if let resize {
            let (a, b) = try size(resize, "--resize")
            value.resize = b.map { .exact(width: a, height: $0) } ?? .shorterSide(a)
        }
        if let crop {
            if crop.lowercased() == "none" {
                value.crop = nil
            } else {
                let (a, b) = try size(crop, "--crop")
                value.crop = .init(width: a, height: b ?? a)
            }
        }
        if let scale {
            guard let parsed = Preprocessing.PixelScale(rawValue: scale) else {
                throw ValidationError("--scale '\(scale)': expected 0..1 or 0..255")
            }
            value.scale = parsed
        }
        if let mean { value.mean = try channels(mean, "--mean") }
        if let std { value.std = try channels(std, "--std") }
        if let channelOrder {
            guard let parsed = Preprocessing.ChannelOrder(rawValue: channelOrder.uppercased()) else {
                throw ValidationError("--channel-order '\(channelOrder)': expected RGB or BGR")
            }
            value.channelOrder = parsed
        }
        if let layout {
            guard let parsed = Preprocessing.Layout(rawValue: layout.uppercased()) else {
                throw ValidationError("--layout '\(layout)': expected NCHW or NHWC")
            }
            value.layout = parsed
        }
        if dctDownscale { value.dctDownscale = true }
        do {
            try value.validate(source: "the preprocessing flags")
        } catch let error as ImagingError {
            throw ValidationError(error.description)
        }
        return value
    }

    /// The chosen preprocessing (default profile: efficientnet-lite) with the overrides.
    func preprocessing() throws -> Preprocessing {
        let base: Preprocessing
        if let preprocessingFile {
            base = try Preprocessing.load(json: URL(fileURLWithPath: preprocessingFile))
        } else {
            base = try Preprocessing.named(profile ?? "efficientnet-lite")
        }
        return try overridden(base)
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
            channel, in output order, in the units of "scale"). Flags such as --resize, \
            --crop, --mean, --std, --channel-order and --layout override single values of the \
            profile or file.

            Example:
              cnncodes preprocess bee.jpg --profile efficientnet-lite --output bee.npy
              cnncodes preprocess bee.jpg --profile caffe --layout NHWC --output bee.npy
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
