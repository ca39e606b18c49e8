import CKernels

extension Activation {
    /// The activation as the C kernels take it (ck_activation.h): kind plus its two constants
    /// (clip's bounds, or leaky ReLU's alpha in `lo`).
    var ck: ck_activation {
        switch self {
        case .none: return ck_activation(kind: CK_ACT_NONE, lo: 0, hi: 0)
        case .relu: return ck_activation(kind: CK_ACT_RELU, lo: 0, hi: 0)
        case let .clip(lo, hi): return ck_activation(kind: CK_ACT_CLIP, lo: lo, hi: hi)
        case let .leakyRelu(alpha): return ck_activation(kind: CK_ACT_LEAKY, lo: alpha, hi: 0)
        }
    }
}

extension Window {
    /// The window as the C kernels take it (ck_depthwise.h).
    var ck: ck_window {
        ck_window(
            in_h: Int32(inH), in_w: Int32(inW), out_h: Int32(outH), out_w: Int32(outW),
            kernel_h: Int32(kernelH), kernel_w: Int32(kernelW), stride_h: Int32(strideH), stride_w: Int32(strideW),
            dilation_h: Int32(dilationH), dilation_w: Int32(dilationW),
            pad_top: Int32(padTop), pad_left: Int32(padLeft), pad_bottom: Int32(padBottom), pad_right: Int32(padRight))
    }
}
