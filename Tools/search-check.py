#!/usr/bin/env python3
"""End-to-end numpy reference for `clip search`: index a folder, export the vectors, and check that
`clip search query` (text and image queries) returns numpy's brute-force top-k: same order, scores within 1e-5.

    Tools/search-check.py --clip .build/debug/clip --weights Weights/demo [--images 300]

Writes N synthetic images (coloured shapes on backgrounds, PNG, standard library only) to a temporary folder,
runs `clip search index`, `clip search export --format npy`, `clip embed-text` / `clip embed-image` for the
queries, and compares. The query embedding comes from the CLI, the vectors from the index (F16, as stored), so
this checks the scan and the selection, not the model. Exit code 1 on any mismatch.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cliptools import png_chunk, PNG_SIGNATURE, require  # noqa: E402

require("numpy")
import numpy as np  # noqa: E402
import zlib  # noqa: E402


def write_png(path, w, h, pixel):
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(w)) for y in range(h))
    data = PNG_SIGNATURE + png_chunk(b"IHDR", w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0]))
    data += png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def run(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        sys.exit(f"search-check: {' '.join(cmd)} failed: {out.stderr.strip()}")
    return out.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--top", type=int, default=10)
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    failures = 0
    with tempfile.TemporaryDirectory() as work:
        folder = os.path.join(work, "photos")
        os.makedirs(folder)
        for i in range(args.images):
            bg = [int(c) for c in rng.integers(0, 256, 3)]
            fg = [int(c) for c in rng.integers(0, 256, 3)]
            cx, cy, r = (int(v) for v in rng.integers(8, 24, 3))
            write_png(os.path.join(folder, f"img{i:03d}.png"), 32, 32,
                      lambda x, y: fg if (x - cx) ** 2 + (y - cy) ** 2 < r * r // 2 else bg)
        index = os.path.join(work, "index.db")
        common = ["--weights", args.weights]
        run([args.clip, "search", "index", folder, "--index", index] + common)
        npy = os.path.join(work, "vectors.npy")
        run([args.clip, "search", "export", "--format", "npy", "--output", npy, "--index", index])
        vectors = np.load(npy).astype(np.float64)
        with open(os.path.join(work, "vectors.paths.txt")) as f:
            paths = f.read().split("\n")[:-1]
        assert len(paths) == len(vectors) == args.images, (len(paths), vectors.shape)
        queries = [("text", "a red circle"), ("text", "a photo of a dog"), ("text", "blue"),
                   ("image", os.path.join(folder, "img017.png")), ("image", os.path.join(folder, "img123.png"))]
        for kind, q in queries:
            if kind == "text":
                e = json.loads(run([args.clip, "embed-text", q, "--json"] + common))["embeddings"][0]
                got = json.loads(run([args.clip, "search", "query", q, "--index", index, "--top", str(args.top), "--json"] + common))
            else:
                e = json.loads(run([args.clip, "embed-image", q, "--json"] + common))["embeddings"][0]
                got = json.loads(run([args.clip, "search", "query", "--image", q, "--index", index, "--top", str(args.top), "--json"] + common))
            e = np.array(e, dtype=np.float32).astype(np.float64)
            e /= np.linalg.norm(e)
            scores = vectors @ e
            order = np.lexsort((np.arange(len(scores)), -scores))[: args.top]
            want = [(paths[i], float(scores[i])) for i in order]
            same_order = [g["path"] for g in got] == [w[0] for w in want]
            diff = max(abs(g["score"] - w[1]) for g, w in zip(got, want))
            ok = same_order and diff <= 1e-5
            failures += not ok
            print(f"{'PASS' if ok else 'FAIL'}: {kind} query {os.path.basename(q) if kind == 'image' else q!r}: "
                  f"top {args.top} {'same order' if same_order else 'ORDER DIFFERS'}, max score diff {diff:.2e}")
    print(f"search-check: {len(queries) - failures} passed, {failures} failed over a {args.images}-image index")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
