extension Preprocessing {
    /// Names accepted by `named(_:)`, in the order help texts list them.
    public static let profileNames = ["torchvision", "efficientnet-lite", "caffe", "open-nsfw"]

    /// A named profile:
    /// - `torchvision`: shorter side 256, crop 224, 0..1, ImageNet mean
    ///   [0.485, 0.456, 0.406] / std [0.229, 0.224, 0.225], RGB, NCHW (torchvision's
    ///   ImageNet models).
    /// - `efficientnet-lite`: shorter side 256, crop 224, 0..255, (x - 127) / 128, RGB, NCHW
    ///   (`../shared/models/efficientnet_lite0.onnx`).
    /// - `caffe`: shorter side 256, crop 224, 0..255, BGR minus [104, 117, 123] (B, G, R),
    ///   std 1, NCHW (BVLC Caffe ImageNet models).
    /// - `open-nsfw`: resize to 256×256, crop 224, 0..255, BGR minus [104, 117, 123], NHWC
    ///   (`../shared/models/open-nsfw.onnx`).
    public static func named(_ profile: String) throws -> Preprocessing {
        let crop224 = Size(width: 224, height: 224)
        switch profile {
        case "torchvision":
            return Preprocessing(resize: .shorterSide(256), crop: crop224, scale: .unit,
                                 mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225],
                                 channelOrder: .rgb, layout: .nchw)
        case "efficientnet-lite":
            return Preprocessing(resize: .shorterSide(256), crop: crop224, scale: .byte,
                                 mean: [127, 127, 127], std: [128, 128, 128],
                                 channelOrder: .rgb, layout: .nchw)
        case "caffe":
            return Preprocessing(resize: .shorterSide(256), crop: crop224, scale: .byte,
                                 mean: [104, 117, 123], std: [1, 1, 1],
                                 channelOrder: .bgr, layout: .nchw)
        case "open-nsfw":
            return Preprocessing(resize: .exact(width: 256, height: 256), crop: crop224, scale: .byte,
                                 mean: [104, 117, 123], std: [1, 1, 1],
                                 channelOrder: .bgr, layout: .nhwc)
        default:
            throw ImagingError.invalidPreprocessing(
                source: "profile '\(profile)'",
                reason: "unknown profile; known: \(profileNames.joined(separator: ", "))")
        }
    }
}
