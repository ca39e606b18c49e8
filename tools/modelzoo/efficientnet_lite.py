"""EfficientNet-Lite as an ONNX graph, built with `onnx.helper` from a state dict of numpy arrays.

The architecture is that of the PyPI package `efficientnet-lite-pytorch` 0.1.0 (itself the
TensorFlow `efficientnet/lite` builder): a 3x3 stride-2 stem, seven stages of MBConv blocks,
a 1x1 head conv, global average pooling and a linear classifier. Lite differs from
EfficientNet-B by: ReLU6 instead of swish, no squeeze-and-excitation, and a stem (32) and head
(1280) that are not scaled with the width, nor are the first and last stages' repeats.

Every conv is followed by BatchNorm (eps 1e-3, TensorFlow's value; PyTorch's default 1e-5
would be wrong); BatchNorm is folded into the conv's weight and bias by default (the graph
PyTorch's exporter produces), or kept as BatchNormalization nodes.

Padding is TensorFlow "SAME": output size ceil(in / stride), the extra pixel of an odd total
pad going to the bottom/right. PyTorch's export computes it at run time from the input shape
(a Shape/Slice/Pad subgraph per conv); here the input size is fixed (only the batch is
dynamic), so the pads are computed once and written into each Conv's `pads` attribute.

Tensor names follow the PyTorch export of ../shared/models/efficientnet_lite0.onnx
(`/_blocks.14/Add_output_0`, `/_swish_1/Clip_output_0`,
`/_avg_pooling/GlobalAveragePool_output_0`, ...) so the same layer names work on both.
"""

import math

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# (repeats, kernel, stride, expand ratio, input filters, output filters) per stage, before
# width/depth scaling: `efficientnet_lite_builder.py`'s block strings r1_k3_s11_e1_i32_o16 ...
LITE_STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]

# variant -> (width coefficient, depth coefficient, input resolution)
LITE_VARIANTS = {
    "efficientnet-lite0": (1.0, 1.0, 224),
    "efficientnet-lite1": (1.0, 1.1, 240),
    "efficientnet-lite2": (1.1, 1.2, 260),
    "efficientnet-lite3": (1.2, 1.4, 280),
    "efficientnet-lite4": (1.4, 1.8, 300),
}

STEM_FILTERS = 32  # fixed for Lite ("fix_head_stem")
HEAD_FILTERS = 1280  # fixed for Lite
BN_EPSILON = 1e-3  # TensorFlow's batch_norm_epsilon, carried into the PyTorch port
WIDTH_DIVISOR = 8  # channel counts are rounded to multiples of 8
RELU6_MAX = 6.0
OPSET = 13  # what the shared model uses; Clip takes min/max as inputs since opset 11
IR_VERSION = 7  # the lowest IR that opset 13 allows: readable by older runtimes


class ArchitectureError(Exception):
    """The state dict does not fit the architecture; the message names the tensor."""


def round_filters(filters, width):
    """TensorFlow's channel rounding: scale by `width`, round to the nearest multiple of 8,
    never going more than 10% below the scaled value."""
    if width == 1.0:
        return filters
    scaled = filters * width
    rounded = max(WIDTH_DIVISOR, int(scaled + WIDTH_DIVISOR / 2) // WIDTH_DIVISOR * WIDTH_DIVISOR)
    if rounded < 0.9 * scaled:
        rounded += WIDTH_DIVISOR
    return int(rounded)


def same_pads(size, kernel, stride):
    """TF "SAME" padding of one spatial axis: (before, after, output size)."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2, out


def block_specs(variant):
    """The MBConv blocks of a variant, in order: dicts with index, kernel, stride, expand,
    in/out filters, and whether the block has a residual connection."""
    width, depth, _ = LITE_VARIANTS[variant]
    blocks = []
    last = len(LITE_STAGES) - 1
    for stage, (repeats, kernel, stride, expand, fin, fout) in enumerate(LITE_STAGES):
        fin = STEM_FILTERS if stage == 0 else round_filters(fin, width)
        fout = round_filters(fout, width)
        if stage not in (0, last):
            repeats = int(math.ceil(depth * repeats))
        for r in range(repeats):
            block_in = fin if r == 0 else fout
            block_stride = stride if r == 0 else 1
            blocks.append(dict(
                index=len(blocks), kernel=kernel, stride=block_stride, expand=expand,
                fin=block_in, fout=fout, residual=(block_stride == 1 and block_in == fout)))
    return blocks


def _scope(module):
    """The exporter's node scope of a module path: `_blocks.3._expand_conv` ->
    `/_blocks.3/_expand_conv`, `_conv_stem` -> `/_conv_stem`."""
    return "/" + module.replace("._", "/_")


class _GraphBuilder:
    """Accumulates nodes and initializers; names tensors as PyTorch's exporter does."""

    def __init__(self, state, fold_batchnorm):
        self.state = state
        self.fold = fold_batchnorm
        self.nodes = []
        self.initializers = []
        self.used = set()
        self.add_initializer("clip_min", np.array(0.0, dtype=np.float32))
        self.add_initializer("clip_max", np.array(RELU6_MAX, dtype=np.float32))

    def weight(self, name, shape):
        if name not in self.state:
            raise ArchitectureError(f"missing tensor {name} (expected shape {tuple(shape)})")
        value = np.asarray(self.state[name])
        if tuple(value.shape) != tuple(shape):
            raise ArchitectureError(
                f"tensor {name} has shape {tuple(value.shape)}, architecture expects {tuple(shape)}")
        self.used.add(name)
        # Weights go into the graph as float32 whatever the checkpoint stored (fp16/fp64).
        return value.astype(np.float32) if value.dtype.kind == "f" else value

    def add_initializer(self, name, array):
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def conv_bn(self, x, module, bn, cin, cout, kernel, stride, groups, size):
        """Conv (no bias in the checkpoint) + BatchNorm, TF-SAME padded for a `size`x`size`
        input. Returns (output tensor name, output size)."""
        w = self.weight(f"{module}.weight", (cout, cin // groups, kernel, kernel))
        gamma = self.weight(f"{bn}.weight", (cout,))
        beta = self.weight(f"{bn}.bias", (cout,))
        mean = self.weight(f"{bn}.running_mean", (cout,))
        var = self.weight(f"{bn}.running_var", (cout,))
        self.used.add(f"{bn}.num_batches_tracked")  # training bookkeeping, not needed
        before, after, out = same_pads(size, kernel, stride)
        prefix = _scope(module)
        conv_out = f"{prefix}/Conv_output_0"
        inputs = [x]
        if self.fold:
            # y = gamma * (conv(x) - mean) / sqrt(var + eps) + beta. Folded in float32 in the
            # order PyTorch's exporter folds, which gives the shared model's weights bit for bit
            # (float64 folding would differ by up to 1e-6 in the weights, 5e-6 in the logits).
            scale = gamma / np.sqrt(var + np.float32(BN_EPSILON))
            folded_w = w * scale[:, None, None, None]
            folded_b = beta - mean * scale
            inputs += [self.add_initializer(f"{module}.weight", folded_w),
                       self.add_initializer(f"{module}.bias", folded_b)]
        else:
            inputs += [self.add_initializer(f"{module}.weight", w)]
        self.nodes.append(helper.make_node(
            "Conv", inputs, [conv_out], name=f"{prefix}/Conv",
            kernel_shape=[kernel, kernel], strides=[stride, stride], group=groups,
            dilations=[1, 1], pads=[before, before, after, after]))  # [top, left, bottom, right]
        if self.fold:
            return conv_out, out
        bn_prefix = _scope(bn)
        bn_out = f"{bn_prefix}/BatchNormalization_output_0"
        params = [self.add_initializer(f"{bn}.{p}", v) for p, v in
                  (("weight", gamma), ("bias", beta), ("running_mean", mean), ("running_var", var))]
        self.nodes.append(helper.make_node(
            "BatchNormalization", [conv_out] + params, [bn_out],
            name=f"{bn_prefix}/BatchNormalization", epsilon=BN_EPSILON))
        return bn_out, out

    def relu6(self, x, scope):
        out = f"{scope}/Clip_output_0"
        self.nodes.append(helper.make_node(
            "Clip", [x, "clip_min", "clip_max"], [out], name=f"{scope}/Clip"))
        return out


def build_model(state, variant="efficientnet-lite0", fold_batchnorm=True, num_classes=1000,
                doc_string="", metadata=None):
    """The ONNX model (onnx.ModelProto) of `variant` with the weights of `state` (name ->
    numpy array, as in the PyTorch state dict). Raises ArchitectureError when a tensor is
    missing, has another shape, or is left over."""
    if variant not in LITE_VARIANTS:
        raise ArchitectureError(f"unknown variant {variant}; known: {', '.join(LITE_VARIANTS)}")
    _, _, resolution = LITE_VARIANTS[variant]
    g = _GraphBuilder(state, fold_batchnorm)

    x, size = g.conv_bn("input", "_conv_stem", "_bn0", 3, STEM_FILTERS, 3, 2, 1, resolution)
    x = g.relu6(x, "/_swish")
    for b in block_specs(variant):
        i, scope = b["index"], f"/_blocks.{b['index']}"
        block_input = x
        hidden = b["fin"] * b["expand"]
        # The block's ReLU6 module is called once per activation; the exporter names the
        # second call `_swish_1`. Without an expansion the depthwise ReLU6 is the first call.
        relu_names = iter([f"{scope}/_swish", f"{scope}/_swish_1"])
        if b["expand"] != 1:
            x, size = g.conv_bn(x, f"_blocks.{i}._expand_conv", f"_blocks.{i}._bn0",
                                b["fin"], hidden, 1, 1, 1, size)
            x = g.relu6(x, next(relu_names))
        x, size = g.conv_bn(x, f"_blocks.{i}._depthwise_conv", f"_blocks.{i}._bn1",
                            hidden, hidden, b["kernel"], b["stride"], hidden, size)
        x = g.relu6(x, next(relu_names))
        x, size = g.conv_bn(x, f"_blocks.{i}._project_conv", f"_blocks.{i}._bn2",
                            hidden, b["fout"], 1, 1, 1, size)
        if b["residual"]:
            out = f"{scope}/Add_output_0"
            g.nodes.append(helper.make_node("Add", [x, block_input], [out], name=f"{scope}/Add"))
            x = out
    last_filters = block_specs(variant)[-1]["fout"]
    x, size = g.conv_bn(x, "_conv_head", "_bn1", last_filters, HEAD_FILTERS, 1, 1, 1, size)
    x = g.relu6(x, "/_swish_1")
    pooled = "/_avg_pooling/GlobalAveragePool_output_0"
    g.nodes.append(helper.make_node("GlobalAveragePool", [x], [pooled],
                                    name="/_avg_pooling/GlobalAveragePool"))
    flat = "/Flatten_output_0"
    g.nodes.append(helper.make_node("Flatten", [pooled], [flat], name="/Flatten", axis=1))
    fc_w = g.add_initializer("_fc.weight", g.weight("_fc.weight", (num_classes, HEAD_FILTERS)))
    fc_b = g.add_initializer("_fc.bias", g.weight("_fc.bias", (num_classes,)))
    g.nodes.append(helper.make_node("Gemm", [flat, fc_w, fc_b], ["logits"], name="/_fc/Gemm",
                                    alpha=1.0, beta=1.0, transB=1))  # logits = flat @ W^T + b

    left_over = [k for k in state if k not in g.used]
    if left_over:
        raise ArchitectureError(f"tensors not used by {variant}: {', '.join(left_over[:5])}")

    graph = helper.make_graph(
        g.nodes, variant.replace("-", "_"),
        [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                       ["batch", 3, resolution, resolution])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", num_classes])],
        initializer=g.initializers)
    model = helper.make_model(graph, producer_name="cnncodes scripts/get-model",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    model.doc_string = doc_string
    for key, value in (metadata or {}).items():
        model.metadata_props.add(key=key, value=value)
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    onnx.checker.check_model(model, full_check=True)
    return model
