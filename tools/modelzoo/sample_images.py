"""`scripts/get-sample-images`: a dozen real photographs shipped inside PyPI wheels.

scikit-image ships its sample images in the wheel (`skimage/data/`), scikit-learn two photos
(`sklearn/datasets/images/`). Both wheels are fetched with `pip download --no-deps` and the
files read straight out of them: nothing is installed. Only photographs are kept (no
synthetic test patterns, microscopy stacks or logos); they are copied byte for byte, PNG and
JPEG, color and grayscale, so they also exercise the decoders. A MANIFEST.json beside them
records source package, version, license and attribution of each file.

Idempotent: a file already present with the same SHA-256 is left alone.
"""

import argparse
import hashlib
import json
import os
import sys
import tempfile
import zipfile

from . import pypi

# (wheel member, what it shows, license / attribution as the package's docs state it)
SKIMAGE_PHOTOS = [
    ("skimage/data/astronaut.png", "astronaut Eileen Collins (NASA)", "public domain (NASA)"),
    ("skimage/data/camera.png", "man with a camera, grayscale", "CC0 (Lav Varshney)"),
    ("skimage/data/chelsea.png", "Chelsea the cat", "CC0 (Stefan van der Walt)"),
    ("skimage/data/coffee.png", "cup of coffee", "CC0 (Rachel Michetti)"),
    ("skimage/data/coins.png", "Greek coins, grayscale", "no known copyright restrictions (Brooklyn Museum)"),
    ("skimage/data/rocket.jpg", "Falcon 9 launch (SpaceX)", "public domain (SpaceX)"),
    ("skimage/data/motorcycle_left.png", "motorcycle, left view of a stereo pair",
     "Middlebury 2014 stereo benchmark (Scharstein et al.), as shipped by scikit-image"),
    ("skimage/data/motorcycle_right.png", "motorcycle, right view of a stereo pair",
     "Middlebury 2014 stereo benchmark (Scharstein et al.), as shipped by scikit-image"),
    ("skimage/data/hubble_deep_field.jpg", "Hubble deep field (NASA)", "public domain (NASA)"),
    ("skimage/data/retina.jpg", "fundus photograph of a human retina",
     "CC0 (Mikael Häggström, Wikimedia Commons)"),
    ("skimage/data/brick.png", "brick wall texture, grayscale", "CC0 (CC0Textures)"),
    ("skimage/data/grass.png", "grass texture, grayscale", "CC0 (DeviantArt linolafett)"),
    ("skimage/data/gravel.png", "gravel texture, grayscale", "CC0 (CC0Textures)"),
]
SKLEARN_PHOTOS = [
    ("sklearn/datasets/images/china.jpg", "Chinese temple", "CC BY 2.0, danielbuechele (Flickr)"),
    ("sklearn/datasets/images/flower.jpg", "flower", "CC BY 2.0, vultilion (Flickr)"),
]
SOURCES = [("scikit-image", SKIMAGE_PHOTOS), ("scikit-learn", SKLEARN_PHOTOS)]
MANIFEST = "MANIFEST.json"


def _image_size(data):
    """(width, height, mode) with PIL when it is installed, else None: printing only."""
    try:
        import io
        from PIL import Image
        with Image.open(io.BytesIO(data)) as im:
            return im.size[0], im.size[1], im.mode
    except Exception:  # PIL absent or unreadable: the size is only informational
        return None


def fetch(out_dir, log=print):
    """Writes the photos into `out_dir` and returns the manifest entries."""
    os.makedirs(out_dir, exist_ok=True)
    entries = []
    with tempfile.TemporaryDirectory(prefix="sample-images-") as tmp:
        for package, photos in SOURCES:
            log(f"get-sample-images: pip download --no-deps {package}")
            wheel = pypi.download_wheel(package, os.path.join(tmp, package))
            version = pypi.wheel_version(wheel)
            with zipfile.ZipFile(wheel) as archive:
                members = set(archive.namelist())
                for member, what, license in photos:
                    if member not in members:
                        log(f"  skipped {member}: not in {os.path.basename(wheel)}")
                        continue
                    data = archive.read(member)
                    name = os.path.basename(member)
                    digest = hashlib.sha256(data).hexdigest()
                    path = os.path.join(out_dir, name)
                    if os.path.exists(path):
                        with open(path, "rb") as f:
                            unchanged = hashlib.sha256(f.read()).hexdigest() == digest
                    else:
                        unchanged = False
                    if not unchanged:
                        with open(path + ".partial", "wb") as f:
                            f.write(data)
                        os.replace(path + ".partial", path)
                    entries.append(dict(file=name, shows=what, license=license,
                                        package=package, version=version, member=member,
                                        bytes=len(data), sha256=digest,
                                        status="kept" if unchanged else "written"))
    manifest = dict(
        about="Real photographs shipped inside PyPI wheels, extracted by cnncodes "
              "scripts/get-sample-images (nothing installed). Licenses per file as the "
              "packages' documentation states them.",
        images=entries)
    with open(os.path.join(out_dir, MANIFEST), "w") as f:
        json.dump(manifest, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return entries


def main(argv=None):
    repo_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser = argparse.ArgumentParser(
        prog="get-sample-images",
        description="Fetch a small set of real photographs from the scikit-image and "
                    "scikit-learn wheels on PyPI into one plain folder.",
        epilog="example: scripts/get-sample-images --out samples/")
    parser.add_argument("--out", default=os.path.join(repo_root, "samples"),
                        help="output directory (default: the repo's samples/)")
    args = parser.parse_args(argv)
    try:
        entries = fetch(args.out)
    except pypi.FetchError as e:
        print(f"get-sample-images: error: {e}", file=sys.stderr)
        return 1
    for e in entries:
        size = _image_size(open(os.path.join(args.out, e["file"]), "rb").read())
        dims = f"{size[0]}x{size[1]} {size[2]}" if size else ""
        print(f"  {e['file']:<22} {dims:<14} {e['bytes'] / 1e3:7.0f} KB  {e['shows']}  "
              f"[{e['license']}; {e['package']} {e['version']}]")
    written = sum(e["status"] == "written" for e in entries)
    print(f"get-sample-images: {len(entries)} photos in {args.out} ({written} written, "
          f"{len(entries) - written} already there); sources and licenses in {MANIFEST}")
    return 0
