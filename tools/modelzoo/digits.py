"""`scripts/get-digits`: a real labeled image folder from a PyPI wheel, for the quickstart's
train/evaluate step.

scikit-learn's wheel ships the UCI handwritten digits (`sklearn/datasets/data/digits.csv.gz`:
1,797 images of 8×8 pixels, 16 gray levels, 10 classes; CC BY 4.0, Alpaydin & Kaynak). The
wheel is fetched with `pip download --no-deps` (nothing installed) and a balanced subset is
written as PNG files in the ImageFolder layout with splits, `DIR/{train,val}/<digit>/*.png`,
scaled up to 64×64 (nearest neighbour, so the pixels stay the data set's own) and inverted to
dark ink on white paper, the way photographs of handwriting look to an ImageNet network.

Idempotent: an existing folder with the expected number of files is left alone.
"""

import argparse
import gzip
import io
import os
import sys
import tempfile
import zipfile

from . import pypi


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="samples-digits", help="output folder (default: samples-digits)")
    ap.add_argument("--train", type=int, default=40, help="training images per class")
    ap.add_argument("--val", type=int, default=20, help="validation images per class")
    a = ap.parse_args(argv)
    expected = 10 * (a.train + a.val)
    if os.path.isdir(a.out):
        count = sum(len(files) for _, _, files in os.walk(a.out))
        if count == expected:
            print(f"get-digits: {a.out}/ already has {count} images")
            return 0

    import numpy as np
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        wheel = pypi.download_wheel("scikit-learn", tmp)
        with zipfile.ZipFile(wheel) as z:
            member = next(n for n in z.namelist() if n.endswith("sklearn/datasets/data/digits.csv.gz"))
            raw = gzip.decompress(z.read(member))
    data = np.loadtxt(io.BytesIO(raw), delimiter=",")
    pixels, labels = data[:, :-1], data[:, -1].astype(int)

    per_class = {}
    for i, label in enumerate(labels):
        per_class.setdefault(label, []).append(i)
    written = 0
    for label in range(10):
        rows = per_class[label][: a.train + a.val]
        for k, row in enumerate(rows):
            split = "train" if k < a.train else "val"
            folder = os.path.join(a.out, split, str(label))
            os.makedirs(folder, exist_ok=True)
            image = (255 - pixels[row].reshape(8, 8) * 255.0 / 16.0).clip(0, 255).astype(np.uint8)
            big = Image.fromarray(image, mode="L").resize((64, 64), Image.NEAREST)
            big.save(os.path.join(folder, f"digit-{row:04d}.png"))
            written += 1
    print(f"get-digits: wrote {written} images of 10 classes to {a.out}/{{train,val}}/<digit>/ "
          f"({a.train} train + {a.val} val per class; UCI digits from the scikit-learn wheel, CC BY 4.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
