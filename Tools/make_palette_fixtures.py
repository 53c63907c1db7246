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
import zlib

import numpy as np
import safetensors.numpy
from PIL import Image


def pack(row, bits):
    """Packs palette indices MSB-first, `bits` per index (1, 2, 4 or 8), as PNG and BMP both store them."""
    per = 8 // bits
    out = []
    for i in range(0, len(row), per):
        byte = 0
        for k, v in enumerate(row[i:i + per]):
            byte |= v << (8 - bits * (k + 1))
        out.append(byte)
    return bytes(out)


def png(w, h, depth, palette, rows, trns=None):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + pack(r, depth) for r in rows)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, 3, 0, 0, 0))
    data += chunk(b"PLTE", bytes(c for rgb in palette for c in rgb))
    if trns is not None:
        data += chunk(b"tRNS", bytes(trns))
    return data + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def bmp(w, h, bpp, palette, rows, clr_used=None):
    packed = [pack(r, bpp) for r in rows]
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
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "palette"))
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
        tensors[name] = np.ascontiguousarray(np.array(Image.open(path).convert("RGB"), dtype=np.uint8))
    safetensors.numpy.save_file(tensors, os.path.join(out, "reference.safetensors"))
    print(f"wrote {len(files)} palette fixtures to {out}")


if __name__ == "__main__":
    main()
