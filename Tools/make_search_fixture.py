#!/usr/bin/env python3
"""Writes Tests/Fixtures/search/reference.json: 300 synthetic half-float vectors (bit patterns) with paths, 12 queries, and the
brute-force top-10 by numpy (float32 dot of the float16 vectors with the normalised float32 query; ties by row)."""
import json
import pathlib

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "Tests/Fixtures/search/reference.json"


def top(scores, k, allowed=None):
    rows = np.arange(len(scores)) if allowed is None else np.array(allowed)
    order = np.lexsort((rows, -scores[rows]))   # score descending, then row ascending
    return [int(rows[i]) for i in order[:k]]


def main():
    rng = np.random.default_rng(20261201)
    n, d, k = 300, 64, 10
    v = rng.standard_normal((n, d)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    v16 = v.astype(np.float16)
    v16[7] = v16[3]            # an exact duplicate: a tie broken by row order
    v16[11, :8] = np.float16(3e-6)   # subnormal halves
    paths = [("holidays/" if i % 3 == 0 else "work/") + f"img{i:03d}.jpg" for i in range(n)]
    q = rng.standard_normal((12, d)).astype(np.float32)
    q[0] = v16[3].astype(np.float32) + np.float32(0.01)   # near the duplicate pair
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    vf = v16.astype(np.float32)
    expected, scores, expected_prefix = [], [], []
    allowed = [i for i, p in enumerate(paths) if p.startswith("holidays/")]
    for row in qn:
        s = (vf.astype(np.float64) @ row.astype(np.float64)).astype(np.float32)
        t = top(s, k)
        expected.append(t)
        scores.append([float(s[i]) for i in t])
        expected_prefix.append(top(s, k, allowed))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "dimension": d, "paths": paths, "halfBits": v16.view(np.uint16).tolist(), "queries": q.tolist(), "top": k,
        "expected": expected, "scores": scores, "prefix": "holidays/", "expectedPrefix": expected_prefix,
    }))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
