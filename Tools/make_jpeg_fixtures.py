#!/usr/bin/env python3
"""Write JPEG decoding fixtures (every chroma layout, progressive, restarts, RGB, gray, CMYK) + Pillow's pixels."""

# Usage:   python3 Tools/make_jpeg_fixtures.py [--out Tests/Fixtures/jpeg]
#
# Needs:   Pillow, numpy, safetensors, and cjpeg from Debian's libjpeg-turbo-progs (for the sampling layouts
#          Pillow cannot write: 4:4:0, 4:1:1, 4:1:0, 3x1, mixed, restart intervals, arithmetic coding).
#
# Output:
#   <out>/<name>.jpg               small images (odd sizes, so partial MCUs and edge replication are exercised)
#   <out>/reference.safetensors    key = file name -> U8 (H, W, 3): PIL.Image.open(path).convert("RGB"), which is
#                                  what transformers' load_image hands to the processor (libjpeg-turbo inside)
#   <out>/manifest.json            {name: {"how": ..., "size": [w, h], "arithmetic": true|false}}
# Arithmetic-coded files (Pillow decodes them) are outside stb_image: the Swift decoder must refuse them with
# a typed error rather than produce pixels.
#
# The source picture is a seeded colour field plus noise (sharp enough that IDCT rounding, chroma upsampling
# and YCbCr→RGB rounding all show up as differences if any of them deviates from libjpeg-turbo).

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cliptools import FIXTURES, pil_rgb, require  # noqa: E402

require("numpy", "PIL", "safetensors.numpy")
import numpy as np  # noqa: E402
import safetensors.numpy  # noqa: E402
from PIL import Image  # noqa: E402


def picture(w, h, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([128 + 110 * np.sin(x / 5.0 + c) * np.cos(y / 9.0 - c) for c in range(3)], -1)
    img += rng.normal(0, 30, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


CJPEG = [  # name, cjpeg options
    ("cjpeg_440", ["-sample", "1x2,1x1,1x1"]),
    ("cjpeg_411", ["-sample", "4x1,1x1,1x1"]),
    ("cjpeg_410", ["-sample", "4x2,1x1,1x1"]),
    ("cjpeg_31", ["-sample", "3x1,1x1,1x1"]),
    ("cjpeg_mixed_22_21_12", ["-sample", "2x2,2x1,1x2"]),
    ("cjpeg_restart_420", ["-restart", "1B", "-sample", "2x2,1x1,1x1"]),
    ("cjpeg_rgb", ["-rgb"]),
    ("cjpeg_rgb_420", ["-rgb", "-sample", "2x2,1x1,1x1"]),
    ("cjpeg_progressive_440", ["-progressive", "-sample", "1x2,1x1,1x1"]),
    ("cjpeg_q100_optimized", ["-optimize", "-quality", "100"]),
    ("cjpeg_q5", ["-quality", "5"]),
    ("cjpeg_arithmetic", ["-arithmetic"]),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=os.path.join(FIXTURES, "jpeg"))
    args = ap.parse_args()
    if not shutil.which("cjpeg"):
        sys.exit("make_jpeg_fixtures.py: missing program 'cjpeg' — install with: apt-get install libjpeg-turbo-progs")
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    manifest, tensors = {}, {}

    def record(name, how):
        path = os.path.join(out, name)
        with Image.open(path) as im:
            size = list(im.size)
        tensors[name] = pil_rgb(path)
        manifest[name] = {"how": how, "size": size, "arithmetic": "-arithmetic" in how}

    sizes = [(1, 1), (7, 13), (61, 45)]
    for w, h in sizes:
        src = picture(w, h, seed=w * 1000 + h)
        # Pillow-written variants (libjpeg-turbo encoder).
        for ss in ["4:4:4", "4:2:2", "4:2:0"]:
            for prog in [False, True]:
                name = f"pil_{w}x{h}_{ss.replace(':', '')}_{'progressive' if prog else 'baseline'}.jpg"
                src.save(os.path.join(out, name), "JPEG", quality=85, subsampling=ss, progressive=prog)
                record(name, f"Pillow quality=85 subsampling={ss} progressive={prog}")
        name = f"pil_{w}x{h}_gray.jpg"
        src.convert("L").save(os.path.join(out, name), "JPEG", quality=85)
        record(name, "Pillow grayscale")
        name = f"pil_{w}x{h}_cmyk.jpg"
        src.convert("CMYK").save(os.path.join(out, name), "JPEG", quality=85)
        record(name, "Pillow CMYK (Adobe APP14, inverted)")
        # cjpeg-written layouts.
        with tempfile.TemporaryDirectory() as tmp:
            ppm = os.path.join(tmp, "src.ppm")
            src.save(ppm)
            for tag, opts in CJPEG:
                name = f"{tag}_{w}x{h}.jpg"
                subprocess.run(["cjpeg", *opts, "-outfile", os.path.join(out, name), ppm], check=True,
                               stderr=subprocess.DEVNULL)  # q5: "tables too coarse for baseline" notice
                record(name, "cjpeg " + " ".join(opts))

    safetensors.numpy.save_file(tensors, os.path.join(out, "reference.safetensors"))
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    print(f"wrote {len(manifest)} JPEGs ({len(tensors)} with references) to {out}")


if __name__ == "__main__":
    main()
