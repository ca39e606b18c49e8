/// The geometry of a 2-D sliding window (convolution or pooling) over an NCHW tensor, with
/// ONNX's padding rules resolved: explicit `pads` [top, left, bottom, right], `auto_pad`
/// SAME_UPPER (extra padding at the end), SAME_LOWER (extra at the start), VALID, and pooling's
/// `ceil_mode`.
struct Window: Equatable {
    var kernelH: Int, kernelW: Int
    var strideH: Int, strideW: Int
    var dilationH: Int, dilationW: Int
    var padTop: Int, padLeft: Int, padBottom: Int, padRight: Int
    var inH: Int, inW: Int
    var outH: Int, outW: Int

    /// Reads `kernel_shape`, `strides`, `dilations`, `pads`, `auto_pad` (and `ceil_mode` when
    /// `ceilMode` is true) for a 2-D window over an input of spatial size `inH`×`inW`.
    init(node: Node, kernel: [Int], inH: Int, inW: Int, ceilMode: Bool = false) throws {
        guard kernel.count == 2, kernel.allSatisfy({ $0 > 0 }) else {
            throw OpError("only 2-D windows are supported (kernel_shape \(kernel) on an NCHW input)")
        }
        let strides = try node.ints("strides") ?? [1, 1]
        let dilations = try node.ints("dilations") ?? [1, 1]
        guard strides.count == 2, dilations.count == 2, strides.allSatisfy({ $0 > 0 }), dilations.allSatisfy({ $0 > 0 }) else {
            throw OpError("strides \(strides) / dilations \(dilations) must be two positive values")
        }
        kernelH = kernel[0]; kernelW = kernel[1]
        strideH = strides[0]; strideW = strides[1]
        dilationH = dilations[0]; dilationW = dilations[1]
        self.inH = inH; self.inW = inW
        let autoPad = try node.string("auto_pad", default: "NOTSET")
        let extentH = (kernelH - 1) * dilationH + 1
        let extentW = (kernelW - 1) * dilationW + 1
        switch autoPad {
        case "NOTSET":
            let pads = try node.ints("pads") ?? [0, 0, 0, 0]
            guard pads.count == 4, pads.allSatisfy({ $0 >= 0 }) else { throw OpError("pads \(pads) must be 4 non-negative values") }
            padTop = pads[0]; padLeft = pads[1]; padBottom = pads[2]; padRight = pads[3]
        case "VALID":
            padTop = 0; padLeft = 0; padBottom = 0; padRight = 0
        case "SAME_UPPER", "SAME_LOWER":
            let outH = (inH + strideH - 1) / strideH
            let outW = (inW + strideW - 1) / strideW
            let totalH = max(0, (outH - 1) * strideH + extentH - inH)
            let totalW = max(0, (outW - 1) * strideW + extentW - inW)
            if autoPad == "SAME_UPPER" {
                padTop = totalH / 2; padLeft = totalW / 2
            } else {
                padTop = totalH - totalH / 2; padLeft = totalW - totalW / 2
            }
            padBottom = totalH - padTop; padRight = totalW - padLeft
        default:
            throw OpError("unknown auto_pad '\(autoPad)'")
        }
        let spanH = inH + padTop + padBottom - extentH
        let spanW = inW + padLeft + padRight - extentW
        guard spanH >= 0, spanW >= 0 else {
            throw OpError("window \(kernelH)x\(kernelW) (dilated \(extentH)x\(extentW)) larger than padded input \(inH)x\(inW)")
        }
        if ceilMode && (autoPad == "NOTSET" || autoPad == "VALID") {
            outH = (spanH + strideH - 1) / strideH + 1
            outW = (spanW + strideW - 1) / strideW + 1
            // A window that would start entirely in the end padding is dropped (ONNX/PyTorch rule).
            if (outH - 1) * strideH >= inH + padTop { outH -= 1 }
            if (outW - 1) * strideW >= inW + padLeft { outW -= 1 }
        } else {
            outH = spanH / strideH + 1
            outW = spanW / strideW + 1
        }
    }
}
