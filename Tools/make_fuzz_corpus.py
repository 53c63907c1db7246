#!/usr/bin/env python3
"""Write the seed corpus for the ImageDecoder fuzzer (Fuzz/) and the hostile-input tests.

Usage:   python3 Tools/make_fuzz_corpus.py [--out DIR]      (default: Tests/Fixtures/fuzz-corpus)

Needs:   Pillow and numpy. Nothing is downloaded.

Every file is small (<= 4 KB, asserted) and the set is deterministic for a given Pillow / libjpeg /
zlib build (fixed-seed images, no timestamps). The folder is wiped and rewritten on each run.

Seeds cover every container the decoder accepts through stb_image:
  JPEG   baseline 4:2:0 / 4:4:4 / 4:2:2, grayscale, progressive, restart markers, EXIF orientation 6,
         CMYK (stb refuses it: an error-path seed)
  PNG    8-bit RGB / RGBA / gray / gray+alpha, 16-bit gray / RGB / RGBA, 1/2/4/8-bit palette with and
         without tRNS (full alpha table and the "single transparent entry" case), RGB and gray tRNS
         colour keys, 1-bit palette, Adam7 interlaced (8-bit RGB and 16-bit gray+alpha), eXIf orientation chunk
  BMP    24-bit, 32-bit, 8-bit palette, 1-bit, 4-bit RLE
  GIF    static, transparent index, interlaced, 2-frame animation
  TGA    RGB, RGBA RLE top-left, colour-mapped
  also   PPM, Radiance HDR (RLE) and PSD (raw and RLE): stb_image decodes these too, so the
         decoder accepts them although its error message lists only JPEG, PNG, BMP, GIF, TGA.
"""

import argparse
import io
import os
import pathlib
import shutil
import struct
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cliptools import FIXTURES, PNG_SIGNATURE, ROOT, pack_bits, png_chunk, require  # noqa: E402

require("numpy", "PIL")
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

DEFAULT_OUT = os.path.join(FIXTURES, "fuzz-corpus")
MAX_SIZE = 4096
MAX_FILES = 48


def gradient(w, h, seed=1):
    """A smooth RGB gradient with a little seeded noise (so encoders produce non-trivial data)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 255 // max(w - 1, 1))
    g = (y * 255 // max(h - 1, 1))
    b = ((x + y) * 127 // max(w + h - 2, 1)) + 64
    img = np.stack([r, g, b], axis=-1).astype(np.int32) + rng.integers(-8, 9, size=(h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def pil_bytes(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# Hand-written PNG (Pillow cannot write interlaced PNGs nor 16-bit RGB(A)).

def _raw_rows(arr, bitdepth, channels):
    """Rows of packed sample bytes for an (h, w, channels) array."""
    h, w = arr.shape[:2]
    rows = []
    for yy in range(h):
        row = arr[yy].reshape(w * channels)
        if bitdepth == 16:
            rows.append(row.astype(">u2").tobytes())
        elif bitdepth == 8:
            rows.append(row.astype(np.uint8).tobytes())
        else:
            rows.append(pack_bits(row, bitdepth))
    return rows


def png(arr, bitdepth, color_type, interlace=False, extra_before_idat=(), palette=None, trns=None,
        exif=None, filters=(0, 1, 2, 3, 4)):
    """Encode `arr` (h, w, channels) as PNG; row filters cycle through `filters` (raw bytes,
    filter applied for real for types 1-4 so the decoder's unfiltering is exercised)."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    if arr.ndim == 2:
        arr = arr[:, :, None]
    h, w = arr.shape[:2]
    bpp = max(1, channels * bitdepth // 8)

    def filtered(rows):
        out = b""
        prev = bytes(len(rows[0])) if rows else b""
        for i, row in enumerate(rows):
            ft = filters[i % len(filters)]
            cur = bytearray(row)
            res = bytearray(len(row))
            for k in range(len(row)):
                a = cur[k - bpp] if k >= bpp else 0
                b = prev[k]
                c = prev[k - bpp] if k >= bpp else 0
                if ft == 0:
                    p = 0
                elif ft == 1:
                    p = a
                elif ft == 2:
                    p = b
                elif ft == 3:
                    p = (a + b) // 2
                else:
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                res[k] = (cur[k] - p) & 0xFF
            out += bytes([ft]) + bytes(res)
            prev = bytes(cur)
        return out

    if not interlace:
        raw = filtered(_raw_rows(arr, bitdepth, channels))
    else:
        raw = b""
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        for x0, y0, dx, dy in passes:
            sub = arr[y0::dy, x0::dx]
            if sub.shape[0] == 0 or sub.shape[1] == 0:
                continue
            raw += filtered(_raw_rows(sub, bitdepth, channels))
    out = PNG_SIGNATURE
    out += png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bitdepth, color_type, 0, 0, 1 if interlace else 0))
    if exif is not None:
        out += png_chunk(b"eXIf", exif)
    for kind, data in extra_before_idat:
        out += png_chunk(kind, data)
    if palette is not None:
        out += png_chunk(b"PLTE", bytes(palette))
    if trns is not None:
        out += png_chunk(b"tRNS", bytes(trns))
    comp = zlib.compress(raw, 9)
    # Two IDAT chunks so the decoder has to concatenate them.
    half = len(comp) // 2
    out += png_chunk(b"IDAT", comp[:half]) + png_chunk(b"IDAT", comp[half:])
    out += png_chunk(b"IEND", b"")
    return out


def tiff_orientation(value, little=True):
    """A minimal TIFF/EXIF block: IFD0 with one Orientation (0x0112, SHORT) entry."""
    e = "<" if little else ">"
    head = (b"II" if little else b"MM") + struct.pack(e + "HI", 42, 8)
    ifd = struct.pack(e + "H", 1) + struct.pack(e + "HHIHH", 0x0112, 3, 1, value, 0) + struct.pack(e + "I", 0)
    return head + ifd


# ---------------------------------------------------------------------------------------------
# Hand-written formats Pillow cannot write.

def bmp_rle4(w, h):
    """A 4-bit RLE-compressed BMP (BI_RLE4): encoded runs, an absolute run, end-of-line, end-of-bitmap."""
    palette = b"".join(bytes([i * 16, 255 - i * 16, (i * 40) % 256, 0]) for i in range(16))
    data = bytearray()
    for yy in range(h):
        data += bytes([w // 2, ((yy % 16) << 4) | ((yy + 3) % 16)])             # encoded run
        rest = w - w // 2
        data += bytes([0, rest])                                                  # absolute run
        nib = [(yy + k) % 16 for k in range(rest)]
        packed = bytes(((nib[i] << 4) | (nib[i + 1] if i + 1 < rest else 0)) for i in range(0, rest, 2))
        data += packed
        if len(packed) % 2:
            data += b"\x00"                                                       # word alignment
        data += b"\x00\x00"                                                       # end of line
    data += b"\x00\x01"                                                           # end of bitmap
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 4, 2, len(data), 2835, 2835, 16, 0)
    off = 14 + len(info) + len(palette)
    return b"BM" + struct.pack("<IHHI", off + len(data), 0, 0, off) + info + palette + bytes(data)


def hdr_rle(w, h):
    """Radiance RGBE with new-style per-channel RLE scanlines (width must be 8..32767)."""
    out = b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n" + f"-Y {h} +X {w}\n".encode()
    for yy in range(h):
        out += bytes([2, 2, w >> 8, w & 0xFF])
        for c in range(4):
            vals = [((xx * 7 + yy * 13 + c * 50) % 200) if c < 3 else 128 + (yy % 3) for xx in range(w)]
            if c == 3:
                out += bytes([128 + w, vals[0]])                                  # one run
            else:
                half = w // 2
                out += bytes([half]) + bytes(vals[:half])                         # literal
                out += bytes([128 + (w - half), vals[half]])                      # run
    return out


def psd(w, h, rle):
    """A 3-channel 8-bit PSD, raw (compression 0) or PackBits (1)."""
    head = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, h, w, 8, 3)
    head += struct.pack(">I", 0) + struct.pack(">I", 0) + struct.pack(">I", 0)  # colour mode, resources, layers
    planes = [bytes(((xx * 30 + yy * 10 + c * 80) % 256) for yy in range(h) for xx in range(w)) for c in range(3)]
    if not rle:
        return head + struct.pack(">H", 0) + b"".join(planes)
    rows = []
    for c in range(3):
        for yy in range(h):
            row = planes[c][yy * w:(yy + 1) * w]
            half = w // 2
            enc = bytes([half - 1]) + row[:half] + bytes([(257 - (w - half)) & 0xFF, row[half]])
            rows.append(enc)
    counts = b"".join(struct.pack(">H", len(r)) for r in rows)
    return head + struct.pack(">H", 1) + counts + b"".join(rows)


# ---------------------------------------------------------------------------------------------

def build():
    files = {}
    rgb = gradient(24, 16)
    im = Image.fromarray(rgb, "RGB")
    small = Image.fromarray(gradient(12, 9, seed=2), "RGB")

    # JPEG
    files["jpeg_baseline_420.jpg"] = pil_bytes(im, "JPEG", quality=60, subsampling=2)
    files["jpeg_baseline_444.jpg"] = pil_bytes(im, "JPEG", quality=80, subsampling=0)
    files["jpeg_baseline_422_odd.jpg"] = pil_bytes(Image.fromarray(gradient(13, 11, seed=3)), "JPEG",
                                                   quality=70, subsampling=1)
    files["jpeg_gray.jpg"] = pil_bytes(im.convert("L"), "JPEG", quality=70)
    files["jpeg_progressive.jpg"] = pil_bytes(im, "JPEG", quality=70, progressive=True)
    files["jpeg_progressive_gray.jpg"] = pil_bytes(small.convert("L"), "JPEG", quality=70, progressive=True)
    files["jpeg_restart.jpg"] = pil_bytes(im, "JPEG", quality=60, restart_marker_blocks=1)
    exif = b"Exif\x00\x00" + tiff_orientation(6, little=False)
    files["jpeg_exif_orient6.jpg"] = pil_bytes(small, "JPEG", quality=60, exif=exif)
    files["jpeg_cmyk.jpg"] = pil_bytes(small.convert("CMYK"), "JPEG", quality=60)

    # PNG (hand-written so every colour type / depth / interlace combination is possible)
    rng = np.random.default_rng(7)
    g8 = (np.arange(16 * 10).reshape(10, 16) * 3 % 256).astype(np.uint8)
    files["png_rgb8.png"] = png(gradient(16, 10, seed=4), 8, 2)
    rgba = np.concatenate([gradient(16, 10, seed=5), (np.arange(160).reshape(10, 16, 1) * 7 % 256).astype(np.uint8)], axis=2)
    files["png_rgba8.png"] = png(rgba, 8, 6)
    files["png_gray8.png"] = png(g8, 8, 0)
    files["png_gray_alpha8.png"] = png(np.stack([g8, 255 - g8], axis=2), 8, 4)
    files["png_gray16.png"] = png((np.arange(12 * 8).reshape(8, 12) * 700).astype(np.uint16), 16, 0)
    files["png_rgb16.png"] = png((gradient(10, 8, seed=6).astype(np.uint16) * 257), 16, 2)
    files["png_rgba16.png"] = png((rgba[:6, :8].astype(np.uint16) * 257), 16, 6)
    pal = [v for i in range(16) for v in (i * 16, 255 - i * 16, (i * 37) % 256)]
    idx = (rng.integers(0, 16, size=(10, 14))).astype(np.uint8)
    files["png_palette8.png"] = png(idx, 8, 3, palette=pal)
    files["png_palette4_trns.png"] = png(idx, 4, 3, palette=pal, trns=[(i * 17) % 256 for i in range(16)])
    files["png_palette2_single_trns.png"] = png(idx % 4, 2, 3, palette=pal[:12], trns=[255, 0, 255, 255])
    files["png_palette1.png"] = png(idx % 2, 1, 3, palette=pal[:6])
    files["png_gray_trns.png"] = png(g8, 8, 0, trns=struct.pack(">H", 30))
    files["png_rgb_trns.png"] = png(gradient(16, 10, seed=4), 8, 2, trns=struct.pack(">HHH", 10, 20, 30))
    files["png_interlaced_rgb8.png"] = png(gradient(19, 13, seed=8), 8, 2, interlace=True)
    la16 = np.stack([(g8[:9, :11].astype(np.uint16) * 257), (255 - g8[:9, :11]).astype(np.uint16) * 257], axis=2)
    files["png_interlaced_la16.png"] = png(la16, 16, 4, interlace=True)
    files["png_exif_orient8.png"] = png(gradient(9, 6, seed=9), 8, 2, exif=tiff_orientation(8))

    # BMP
    files["bmp_rgb24.bmp"] = pil_bytes(Image.fromarray(gradient(13, 9, seed=10)), "BMP")
    files["bmp_rgba32.bmp"] = pil_bytes(Image.fromarray(rgba[:8, :8], "RGBA"), "BMP")
    files["bmp_pal8.bmp"] = pil_bytes(small.convert("P", palette=Image.Palette.ADAPTIVE, colors=16), "BMP")
    files["bmp_1bit.bmp"] = pil_bytes(small.convert("1"), "BMP")
    files["bmp_rle4.bmp"] = bmp_rle4(11, 5)

    # GIF
    pim = small.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    files["gif_static.gif"] = pil_bytes(pim, "GIF", interlace=False)
    files["gif_transparent.gif"] = pil_bytes(pim, "GIF", transparency=3, interlace=False)
    files["gif_interlaced.gif"] = pil_bytes(Image.fromarray(gradient(10, 17, seed=11)).convert(
        "P", palette=Image.Palette.ADAPTIVE, colors=8), "GIF", interlace=True)
    frame2 = Image.fromarray(gradient(12, 9, seed=12)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    files["gif_anim2.gif"] = pil_bytes(pim, "GIF", save_all=True, append_images=[frame2], duration=50, loop=0,
                                       interlace=False)

    # TGA
    files["tga_rgb.tga"] = pil_bytes(Image.fromarray(gradient(10, 7, seed=13)), "TGA")
    files["tga_rgba_rle_topleft.tga"] = pil_bytes(Image.fromarray(rgba[:7, :9], "RGBA"), "TGA", compression="tga_rle",
                                                  orientation=1)
    files["tga_colormap.tga"] = pil_bytes(pim, "TGA")

    # Other formats stb_image reads
    files["pnm_rgb.ppm"] = pil_bytes(Image.fromarray(gradient(7, 5, seed=14)), "PPM")
    files["hdr_rle.hdr"] = hdr_rle(9, 3)
    files["psd_rle.psd"] = psd(6, 4, rle=True)
    return files


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    files = build()
    # WebP seeds: copies of Tools/make_webp_fixtures.py's files (lossy+alpha, lossless exact alpha, animation, EXIF).
    webp = pathlib.Path(ROOT) / "Tests/Fixtures/webp"
    for stem in ["lossy_alpha_37x23", "lossless_alpha_exact_37x23", "anim_lossy_2frames_37x23", "exif_orient6_23x37"]:
        files[f"webp_{stem}.webp"] = (webp / f"{stem}.webp").read_bytes()
    assert len(files) <= MAX_FILES, f"{len(files)} files > {MAX_FILES}"
    for name, data in files.items():
        assert len(data) <= MAX_SIZE, f"{name}: {len(data)} bytes > {MAX_SIZE}"
    # Sanity: Pillow must read back every format it knows (PSD/HDR are checked by the Swift tests).
    for name, data in files.items():
        if name.endswith((".hdr",)):
            continue
        with Image.open(io.BytesIO(data)) as img:
            img.load()
    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    os.makedirs(args.out)
    for name, data in sorted(files.items()):
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(data)
    total = sum(len(d) for d in files.values())
    print(f"wrote {len(files)} files, {total} bytes, to {os.path.relpath(args.out, ROOT)}")


if __name__ == "__main__":
    main()
