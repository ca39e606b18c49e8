"""Tests of scripts/get-sample-images (tools/modelzoo/sample_images.py): the photos come out
of the scikit-image / scikit-learn wheels byte for byte, decode as images, and are listed in
the manifest with their license. Needs PyPI (pip download, cached by pip); set
CNNCODES_OFFLINE=1 to skip on a machine without it."""

import hashlib
import json
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))

from modelzoo import sample_images  # noqa: E402


def test_fetches_decodable_photos_with_a_manifest(tmp_path):
    if os.environ.get("CNNCODES_OFFLINE"):
        pytest.skip("CNNCODES_OFFLINE set: no PyPI")
    from PIL import Image
    out = str(tmp_path / "samples")
    entries = sample_images.fetch(out, log=lambda _: None)
    wanted = [os.path.basename(m) for _, photos in sample_images.SOURCES for m, _, _ in photos]
    assert sorted(e["file"] for e in entries) == sorted(wanted)
    with open(os.path.join(out, sample_images.MANIFEST)) as f:
        manifest = json.load(f)
    assert [e["file"] for e in manifest["images"]] == [e["file"] for e in entries]
    for e in entries:
        path = os.path.join(out, e["file"])
        data = open(path, "rb").read()
        assert hashlib.sha256(data).hexdigest() == e["sha256"], e["file"]
        assert e["license"] and e["package"] in ("scikit-image", "scikit-learn")
        with Image.open(path) as im:
            im.load()
            assert min(im.size) >= 224, f"{e['file']}: {im.size} is smaller than the crop"
    # A second run keeps every file (idempotent).
    again = sample_images.fetch(out, log=lambda _: None)
    assert all(e["status"] == "kept" for e in again)
