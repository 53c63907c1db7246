#!/usr/bin/env python3
"""Write palette PNG/BMP fixtures whose pixel indices run past the palette, with Pillow's decoded pixels."""

# Usage:   python3 Tools/make_palette_fixtures.py [--out Tests/Fixtures/palette]
#
# Needs:   Pillow, numpy, safetensors.
#
# Output:
#   <out>/<name>.{png,bmp}         hand-written files (encoders below): short palettes, indices up to 2^bits - 1
#   <out>/reference.safetensors    key = file name -> U8 (H, W, 3) = PIL.Image.open(path).convert("RGB")
# Pillow shows indices past the stored palette as black; stb_image would read them from uninitialised stack
# memory, which the Swift decoder prevents by completing the palette (ImageDecoder.swift, PaletteCompletion).

import argparse
import os
import struct
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cliptools import FIXTURES, PNG_SIGNATURE, pack_bits, pil_rgb, png_chunk, require  # noqa: E402

require("numpy", "PIL", "safetensors.numpy")
import numpy as np  # noqa: E402
import safetensors.numpy  # noqa: E402


def png(w, h, depth, palette, rows, trns=None):
    raw = b"".join(b"\x00" + pack_bits(r, depth) for r in rows)
    data = PNG_SIGNATURE + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, 3, 0, 0, 0))
    data += png_chunk(b"PLTE", bytes(c for rgb in palette for c in rgb))
    if trns is not None:
        data += png_chunk(b"tRNS", bytes(trns))
    return data + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b"")


def bmp(w, h, bpp, palette, rows, clr_used=None):
    packed = [pack_bits(r, bpp) for r in rows]
    stride = (len(packed[0]) + 3) & ~3
    pixels = b"".join(r + b"\0" * (stride - len(r)) for r in reversed(packed))   # bottom-up
    pal = b"".join(bytes([b, g, r, 0]) for r, g, b in palette)
    offset = 14 + 40 + len(pal)
    header = struct.pack("<2sIHHI", b"BM", offset + len(pixels), 0, 0, offset)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, bpp, 0, len(pixels), 2835, 2835,
                       len(palette) if clr_used is None else clr_used, 0)
    return header + info + pal + pixels


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=os.path.join(FIXTURES, "palette"))
    out = os.path.abspath(ap.parse_args().out)
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7)
    files = {}
    ramp8 = [list(range(i * 16, i * 16 + 16)) for i in range(16)]          # every 8-bit index, 16x16
    files["png8_pal3_indices0to255.png"] = png(16, 16, 8, [(200, 10, 10), (10, 200, 10), (10, 10, 200)], ramp8)
    files["png4_pal5_indices0to15.png"] = png(4, 4, 4, [(9, 8, 7), (60, 70, 80), (250, 1, 2), (3, 4, 5), (6, 7, 8)],
                                              [list(range(i * 4, i * 4 + 4)) for i in range(4)])
    files["png2_pal1.png"] = png(4, 1, 2, [(123, 45, 67)], [[0, 1, 2, 3]])
    files["png8_pal2_trns.png"] = png(16, 16, 8, [(1, 2, 3), (250, 250, 0)], ramp8, trns=[255, 128])
    files["bmp8_pal3_indices0to255.bmp"] = bmp(16, 16, 8, [(200, 10, 10), (10, 200, 10), (10, 10, 200)], ramp8)
    files["bmp4_pal2_indices0to15.bmp"] = bmp(16, 1, 4, [(30, 60, 90), (90, 60, 30)], [list(range(16))])
    files["bmp1_pal1.bmp"] = bmp(9, 2, 1, [(77, 88, 99)], [[0, 1] * 4 + [1], [1, 0] * 4 + [0]])
    noise = [list(rng.integers(0, 256, 10)) for _ in range(7)]
    files["bmp8_pal16_noise_10x7.bmp"] = bmp(10, 7, 8, [tuple(rng.integers(0, 256, 3)) for _ in range(16)], noise)
    tensors = {}
    for name, data in files.items():
        path = os.path.join(out, name)
        with open(path, "wb") as f:
            f.write(data)
        tensors[name] = pil_rgb(path)
    safetensors.numpy.save_file(tensors, os.path.join(out, "reference.safetensors"))
    print(f"wrote {len(files)} palette fixtures to {out}")


if __name__ == "__main__":
    main()
