#!/usr/bin/env python3
"""Write WebP decoding fixtures (lossy, lossless, alpha, animation, metadata, hostile) + Pillow's pixels."""

# Usage:   python3 Tools/make_webp_fixtures.py [--out Tests/Fixtures/webp]
#
# Needs:   Pillow (its bundled libwebp writes the Pillow-made files and decodes every reference), numpy, and
#          cwebp from Debian's `webp` package (for encoder settings Pillow does not expose: simple loop filter,
#          one segment, uncompressed / lossy-filtered alpha, near-lossless). Nothing is downloaded.
#
# Output (the folder's .webp/.rgb/manifest.json are rewritten on each run):
#   <out>/<name>.webp            small files (< 20 KB, odd sizes)
#   <out>/<name>.rgb             raw U8 (H, W, 3) rows top to bottom: PIL.Image.open(path).convert("RGB"), i.e.
#                                the first frame's canvas with alpha dropped (not composited)
#   <out>/<name>.upright.rgb     only for files carrying an orientation: ImageOps.exif_transpose(im).convert("RGB")
#                                (what transformers' load_image hands on), its size under "upright" in the manifest
#   <out>/hostile_*.webp         malformed or oversized files; manifest "expect" names the refusal the C shim
#                                (Sources/CWebP) gives or, for "too_many_pixels", the size clip_webp_info reports
#                                so the caller's pixel budget refuses it before decoding; "pillow" is what
#                                Image.open(path).convert("RGB") raised
#   <out>/manifest.json          {name: {...}} plus "_meta" (versions)
#
# Pictures are a seeded colour field plus noise, so upsampling, loop filtering and rounding differences between
# decoders show up. Re-running gives byte-identical files for the same Pillow / libwebp / cwebp versions.

import argparse
import hashlib
import io
import json
import os
import struct
import subprocess
import tempfile

import numpy as np
import PIL
from PIL import Image, ImageOps, features

MAX_FILE = 20 * 1024


def picture(w, h, seed, alpha=False):
    """RGB(A) test picture: smooth colour field + noise; with alpha: a left-to-right ramp, a fully transparent
    block whose RGB is still noise (non-zero), and an opaque rest."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([128 + 110 * np.sin(x / 4.0 + c) * np.cos(y / 7.0 - c) for c in range(3)], -1)
    img += rng.normal(0, 25, img.shape)
    rgb = np.clip(img, 0, 255).astype(np.uint8)
    if not alpha:
        return Image.fromarray(rgb, "RGB")
    a = np.full((h, w), 255, np.uint8)
    a[:, : w // 2] = (np.arange(w // 2) * 255 // max(w // 2 - 1, 1)).astype(np.uint8)   # ramp 0..255
    a[h // 3 : 2 * h // 3, w // 2 : w // 2 + w // 4] = 0                                 # transparent block
    a[0, :] = 0                                                                          # transparent first row
    return Image.fromarray(np.dstack([rgb, a]), "RGBA")


# --- RIFF helpers (little-endian sizes, chunks padded to even length) --------------------------------------------

def chunk(tag, data):
    return tag + struct.pack("<I", len(data)) + data + (b"\0" if len(data) & 1 else b"")


def riff(payload):
    return b"RIFF" + struct.pack("<I", 4 + len(payload)) + b"WEBP" + payload


def chunks_of(webp):
    """[(tag, data)] of a RIFF WebP file."""
    assert webp[:4] == b"RIFF" and webp[8:12] == b"WEBP"
    out, i, end = [], 12, min(len(webp), 8 + struct.unpack("<I", webp[4:8])[0])
    while i + 8 <= end:
        tag, n = webp[i:i + 4], struct.unpack("<I", webp[i + 4:i + 8])[0]
        out.append((tag, webp[i + 8:i + 8 + n]))
        i += 8 + n + (n & 1)
    return out


def u24(v):
    return struct.pack("<I", v)[:3]


def vp8x(w, h, flags):
    # flags: ICC 0x20, ALPHA 0x10, EXIF 0x08, XMP 0x04, ANIM 0x02
    return chunk(b"VP8X", bytes([flags, 0, 0, 0]) + u24(w - 1) + u24(h - 1))


def anim(bgcolor_bgra=(0, 0, 255, 255), loops=0):
    return chunk(b"ANIM", bytes(bgcolor_bgra) + struct.pack("<H", loops))


def anmf(x, y, w, h, frame_chunks, duration=100, no_blend=False, dispose_bg=False):
    hdr = u24(x // 2) + u24(y // 2) + u24(w - 1) + u24(h - 1) + u24(duration)
    hdr += bytes([(2 if no_blend else 0) | (1 if dispose_bg else 0)])
    return chunk(b"ANMF", hdr + frame_chunks)


def vp8l_header(w, h, alpha=0, version=0):
    bits = (w - 1) | (h - 1) << 14 | alpha << 28 | version << 29
    return b"\x2f" + struct.pack("<I", bits)


def pil_webp(img, **kw):
    buf = io.BytesIO()
    img.save(buf, "WEBP", **kw)
    return buf.getvalue()


def image_chunks(webp, tags=(b"ALPH", b"VP8 ", b"VP8L")):
    """The image-data chunks of a still WebP, re-serialised (for embedding in ANMF or another container)."""
    return b"".join(chunk(t, d) for t, d in chunks_of(webp) if t in tags)


def cwebp(img, opts, tmp):
    src, dst = os.path.join(tmp, "src.png"), os.path.join(tmp, "out.webp")
    img.save(src)
    subprocess.run(["cwebp", "-quiet", *opts, src, "-o", dst], check=True)
    with open(dst, "rb") as f:
        return f.read()


def sha(b):
    return hashlib.sha256(b).hexdigest()


def pillow_outcome(path):
    """Image.open(path).convert("RGB") → (RGB image, None) or (None, "ExceptionType: message")."""
    try:
        with Image.open(path) as im:
            return im.convert("RGB"), None
    except Exception as e:  # noqa: BLE001 (recording whatever Pillow raises is the point)
        return None, f"{type(e).__name__}: {e}"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "webp"))
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        if f.endswith((".webp", ".rgb")) or f == "manifest.json":
            os.remove(os.path.join(out, f))
    cwebp_version = subprocess.run(["cwebp", "-version"], capture_output=True, text=True, check=True).stdout.strip()
    manifest = {"_meta": {
        "pillow": PIL.__version__, "pillow_libwebp": features.version("webp"), "numpy": np.__version__,
        "cwebp": cwebp_version,
        "reference": "<name>.rgb = PIL.Image.open(path).convert('RGB').tobytes() (U8 HxWx3); "
                     "<name>.upright.rgb = ImageOps.exif_transpose(Image.open(path)).convert('RGB')",
    }}
    files = {}     # name -> (bytes, how, extra manifest fields)
    hostile = {}   # name -> (bytes, how, expect)

    def add(name, data, how, **extra):
        assert len(data) < MAX_FILE, (name, len(data))
        files[name + ".webp"] = (data, how, extra)

    def bad(name, data, how, expect):
        hostile["hostile_" + name + ".webp"] = (data, how, expect)

    W, H = 37, 23
    rgb = picture(W, H, seed=1)
    rgba = picture(W, H, seed=2, alpha=True)

    # --- Pillow-written still images ---------------------------------------------------------------------------
    lossy = pil_webp(rgb, quality=80)
    add("lossy_q80_37x23", lossy, "Pillow quality=80 (simple VP8)")
    add("lossy_q5_61x45", pil_webp(picture(61, 45, seed=3), quality=5),
        "Pillow quality=5 (coarse quantisers, strong loop filter)")
    add("lossy_q95_160x120", pil_webp(picture(160, 120, seed=4), quality=95, method=6),
        "Pillow quality=95 method=6, several macroblock rows and columns")
    add("lossy_1x1", pil_webp(picture(1, 1, seed=5), quality=80), "Pillow 1x1 lossy")
    add("lossy_gray_37x23", pil_webp(picture(W, H, seed=6).convert("L"), quality=80),
        "Pillow, mode L source (written as RGB; near-gray chroma)")
    add("lossy_alpha_37x23", pil_webp(rgba, quality=80),
        "Pillow RGBA quality=80: VP8X + ALPH (lossless-compressed alpha) + VP8; RGB under alpha=0 as decoded")
    add("lossy_alpha_exact_37x23", pil_webp(rgba, quality=80, exact=True),
        "Pillow RGBA quality=80 exact=True: RGB under transparent pixels kept by the encoder")
    add("lossless_rgb_37x23", pil_webp(rgb, lossless=True), "Pillow lossless RGB (simple VP8L)")
    add("lossless_alpha_37x23", pil_webp(rgba, lossless=True),
        "Pillow lossless RGBA (encoder rewrites RGB of alpha=0 pixels)")
    add("lossless_alpha_exact_37x23", pil_webp(rgba, lossless=True, exact=True),
        "Pillow lossless RGBA exact=True: fully transparent pixels keep non-zero RGB, which convert('RGB') keeps")
    add("vp8x_icc_37x23", pil_webp(rgb, quality=80, icc_profile=b"\0" * 128 + b"not a real profile"),
        "Pillow lossy + ICCP chunk: VP8X still image without alpha (the profile is not applied)")

    # --- Orientation metadata -------------------------------------------------------------------------------------
    exif = Image.Exif()
    exif[0x0112] = 6
    tall = picture(H, W, seed=7)   # 23x37 stored, upright 37x23
    add("exif_orient6_23x37", pil_webp(tall, quality=80, exif=exif),
        "Pillow lossy + EXIF chunk (raw TIFF, Orientation=6)")
    # Some writers keep the JPEG APP1 "Exif\0\0" prefix in the chunk; PIL.Image.Exif.load strips it.
    with_prefix = []
    for t, d in chunks_of(pil_webp(tall, quality=80, exif=exif)):
        if t == b"EXIF":
            e3 = Image.Exif()
            e3[0x0112] = 3
            d = e3.tobytes()
            assert d.startswith(b"Exif\0\0")
        with_prefix.append(chunk(t, d))
    add("exif_prefixed_orient3_23x37", riff(b"".join(with_prefix)),
        "EXIF chunk starting with 'Exif\\0\\0' then TIFF, Orientation=3 (rewritten from the Pillow file)")
    xmp = (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
           b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
           b'xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="8"/></rdf:RDF></x:xmpmeta>'
           b'<?xpacket end="r"?>')
    add("xmp_orient8_23x37", pil_webp(tall, quality=80, xmp=xmp),
        "Pillow lossy + 'XMP ' chunk with tiff:Orientation=\"8\" and no EXIF: Image.getexif() falls back to the "
        "XMP regex tiff:Orientation(=\"|>)([0-9]), so exif_transpose rotates")

    # --- cwebp (libwebp 1.2.4 encoder) settings Pillow does not expose ------------------------------------------
    with tempfile.TemporaryDirectory() as tmp:
        add("cwebp_simple_filter_61x45", cwebp(picture(61, 45, seed=8), ["-q", "40", "-nostrong", "-f", "80",
                                                                          "-sharpness", "3", "-segments", "1"], tmp),
            "cwebp -q 40 -nostrong -f 80 -sharpness 3 -segments 1 (simple loop filter)")
        add("cwebp_alpha_raw_37x23", cwebp(rgba, ["-q", "70", "-alpha_method", "0", "-exact"], tmp),
            "cwebp -q 70 -alpha_method 0 -exact (uncompressed ALPH)")
        add("cwebp_alpha_lossy_filtered_37x23",
            cwebp(rgba, ["-q", "70", "-alpha_q", "30", "-alpha_filter", "best", "-exact"], tmp),
            "cwebp -q 70 -alpha_q 30 -alpha_filter best -exact (quantised, predictive-filtered alpha)")
        add("cwebp_near_lossless_37x23", cwebp(rgb, ["-near_lossless", "40"], tmp), "cwebp -near_lossless 40")

    # --- Animations -----------------------------------------------------------------------------------------------
    f1, f2 = picture(W, H, seed=9), picture(W, H, seed=10).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    add("anim_lossy_2frames_37x23", (lambda b: (f1.save(b, "WEBP", save_all=True, append_images=[f2],
                                                         duration=[100, 200], quality=80), b.getvalue())[1])(io.BytesIO()),
        "Pillow save_all, 2 lossy frames (different pictures): the first frame is the reference")
    a1, a2 = picture(W, H, seed=11, alpha=True), picture(W, H, seed=12, alpha=True)
    add("anim_lossless_alpha_2frames_37x23",
        (lambda b: (a1.save(b, "WEBP", save_all=True, append_images=[a2], duration=100, lossless=True),
                    b.getvalue())[1])(io.BytesIO()),
        "Pillow save_all lossless RGBA, 2 frames")
    # First frame smaller than the canvas, with a non-zero background colour: the canvas outside the frame is
    # transparent black (WebPAnimDecoder ignores the ANIM background), the frame is not blended on a key frame.
    sub = picture(20, 10, seed=13, alpha=True)
    sub_chunks = image_chunks(pil_webp(sub, lossless=True, exact=True))
    full_chunks = image_chunks(pil_webp(picture(W, H, seed=14), quality=80))
    add("anim_subrect_first_frame_37x23",
        riff(vp8x(W, H, 0x10 | 0x02) + anim((0, 0, 255, 255)) + anmf(6, 4, 20, 10, sub_chunks)
             + anmf(0, 0, W, H, full_chunks, no_blend=True)),
        "hand-built: canvas 37x23, ANIM background opaque red, frame 1 = 20x10 lossless RGBA at (6,4), frame 2 full")

    # --- Tolerated oddities -------------------------------------------------------------------------------------
    add("trailing_garbage_37x23", lossy + bytes(range(64)),
        "lossy_q80_37x23 + 64 bytes after the RIFF chunk (ignored by libwebp)")

    # --- Hostile --------------------------------------------------------------------------------------------------
    bad("truncated_half", lossy[: len(lossy) // 2], "lossy_q80_37x23 cut in half (RIFF size unchanged)", "truncated")
    bad("truncated_header", lossy[:20], "first 20 bytes of lossy_q80_37x23", "truncated")
    bad("signature_only", lossy[:12], "RIFF size WEBP and nothing else", "truncated")
    vp8 = dict(chunks_of(lossy))[b"VP8 "]
    cut = vp8[: len(vp8) * 2 // 3]
    bad("truncated_sizes_fixed", riff(chunk(b"VP8 ", cut)),
        "VP8 chunk cut to 2/3 with the chunk and RIFF sizes rewritten to match: the bitstream itself ends early",
        "truncated")
    bad("riff_size_too_large", lossy[:4] + struct.pack("<I", 0x7FFFFFF0) + lossy[8:],
        "RIFF size 0x7FFFFFF0 on a complete file", "truncated")
    bad("riff_size_too_small", lossy[:4] + struct.pack("<I", 40) + lossy[8:],
        "RIFF size 40: the VP8 chunk runs past the RIFF end", "corrupt")
    bad("riff_size_max", lossy[:4] + struct.pack("<I", 0xFFFFFFFF) + lossy[8:], "RIFF size 0xFFFFFFFF (above libwebp's maximum chunk payload)",
        "corrupt")
    # 16383x16383 (the format's maximum) claimed by a tiny file: header-only info reports it, the pixel budget
    # (89,478,485 by default) refuses it before any allocation.
    vp8l = dict(chunks_of(pil_webp(rgb, lossless=True)))[b"VP8L"]
    bad("vp8l_claims_16383x16383", riff(chunk(b"VP8L", vp8l_header(16383, 16383) + vp8l[5:])),
        "VP8L header 16383x16383 followed by the 37x23 image's entropy-coded data", "too_many_pixels")
    big_vp8 = bytearray(vp8)
    big_vp8[6:10] = struct.pack("<HH", 16383, 16383)
    bad("vp8_claims_16383x16383", riff(chunk(b"VP8 ", bytes(big_vp8))),
        "VP8 key-frame header patched to 16383x16383 over the 37x23 image's partitions", "too_many_pixels")
    small_vp8 = bytearray(vp8)
    small_vp8[6:10] = struct.pack("<HH", 400, 300)
    bad("vp8_claims_400x300", riff(chunk(b"VP8 ", bytes(small_vp8))),
        "VP8 header patched to 400x300 (within budget) over the 37x23 image's partitions: decoding runs out of data",
        "truncated")
    bad("vp8l_claims_400x300", riff(chunk(b"VP8L", vp8l_header(400, 300) + vp8l[5:])),
        "VP8L header patched to 400x300 (within budget) over the 37x23 image's data", "corrupt")
    one = image_chunks(pil_webp(picture(1, 1, seed=15), lossless=True))
    bad("vp8x_anim_canvas_65536x65535", riff(vp8x(65536, 65535, 0x02) + anim() + anmf(0, 0, 1, 1, one)),
        "valid animation: 1x1 frame on a 65536x65535 canvas (VP8X allows 2^24 per side, area < 2^32)",
        "too_many_pixels")
    bad("vp8x_anim_canvas_16383x16383", riff(vp8x(16383, 16383, 0x02) + anim() + anmf(0, 0, 1, 1, one)),
        "valid animation: 1x1 frame on a 16383x16383 canvas", "too_many_pixels")
    bad("vp8x_huge_canvas_no_data", riff(vp8x(1 << 24, 255, 0x10)),
        "VP8X still-image header (alpha flag) with a 16777216x255 canvas and no image chunk", "too_many_pixels")
    bad("vp8x_canvas_mismatch", riff(vp8x(100, 100, 0) + chunk(b"VP8 ", vp8)),
        "VP8X still image: canvas 100x100 around a 37x23 VP8 frame", "corrupt")
    bad("vp8x_anim_no_frames", riff(vp8x(W, H, 0x02) + anim()), "VP8X animation flag + ANIM, no ANMF", "corrupt")
    bad("anmf_outside_canvas", riff(vp8x(W, H, 0x02) + anim() + anmf(30, 20, 20, 10, sub_chunks)),
        "first ANMF frame 20x10 at (30,20) on a 37x23 canvas", "corrupt")
    alph = [(t, bytearray(d)) for t, d in chunks_of(pil_webp(rgba, quality=80))]
    for t, d in alph:
        if t == b"ALPH":
            d[1:] = bytes(np.random.default_rng(16).integers(0, 256, len(d) - 1, dtype=np.uint8))
    bad("alph_garbage", riff(b"".join(chunk(t, bytes(d)) for t, d in alph)),
        "lossy_alpha file whose ALPH payload (after the header byte) is random bytes", "corrupt")
    bad("vp8l_garbage_body", riff(chunk(b"VP8L", vp8l_header(W, H) +
                                        bytes(np.random.default_rng(17).integers(0, 256, 300, dtype=np.uint8)))),
        "VP8L header 37x23 + 300 random bytes", "corrupt")
    bad("vp8l_bad_version", riff(chunk(b"VP8L", vp8l_header(W, H, version=1) + vp8l[5:])),
        "VP8L header with version bits 1", "corrupt")
    interframe = bytearray(vp8)
    interframe[0] |= 1
    bad("vp8_interframe", riff(chunk(b"VP8 ", bytes(interframe))), "VP8 frame tag with the inter-frame bit set",
        "corrupt")
    bad("vp8_empty_chunk", riff(chunk(b"VP8 ", b"")), "zero-length VP8 chunk", "truncated")
    bad("raw_vp8l_no_riff", vp8l, "a bare VP8L bitstream (libwebp alone would decode it; Pillow refuses)",
        "not_webp")
    bad("alph_first_chunk", riff(b"".join(chunk(t, bytes(d)) for t, d in alph if t != b"VP8X")),
        "RIFF/WEBP whose first chunk is ALPH (no VP8X): Pillow's signature test refuses it", "not_webp")

    # --- Write files and references -------------------------------------------------------------------------------
    for name, (data, how, extra) in sorted(files.items()):
        path = os.path.join(out, name)
        with open(path, "wb") as f:
            f.write(data)
        with Image.open(path) as im:
            mode, n_frames, size = im.mode, getattr(im, "n_frames", 1), im.size
            orientation = im.getexif().get(0x0112)
            ref = im.convert("RGB").tobytes()
        assert len(ref) == size[0] * size[1] * 3
        base = name[: -len(".webp")]
        with open(os.path.join(out, base + ".rgb"), "wb") as f:
            f.write(ref)
        entry = {"how": how, "bytes": len(data), "sha256": sha(data), "width": size[0], "height": size[1],
                 "rgb": base + ".rgb", "rgb_sha256": sha(ref), "pillow_mode": mode, "n_frames": n_frames,
                 "chunks": [t.decode() for t, _ in chunks_of(data)], "exif_orientation": orientation, **extra}
        if orientation not in (None, 1):
            with Image.open(path) as im:
                up = ImageOps.exif_transpose(im).convert("RGB")
            with open(os.path.join(out, base + ".upright.rgb"), "wb") as f:
                f.write(up.tobytes())
            entry["upright"] = {"rgb": base + ".upright.rgb", "width": up.size[0], "height": up.size[1],
                                "sha256": sha(up.tobytes())}
        manifest[name] = entry

    for name, (data, how, expect) in sorted(hostile.items()):
        path = os.path.join(out, name)
        with open(path, "wb") as f:
            f.write(data)
        im, err = pillow_outcome(path)
        assert im is None, f"Pillow decoded hostile fixture {name}"
        manifest[name] = {"how": how, "bytes": len(data), "sha256": sha(data), "expect": expect, "pillow": err}

    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(files)} WebP fixtures with references and {len(hostile)} hostile files to {out}")


if __name__ == "__main__":
    main()
