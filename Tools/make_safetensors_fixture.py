#!/usr/bin/env python3
"""Write a tiny safetensors round-trip fixture (F32/F16/BF16/I64, scalar, empty, metadata) plus its expected values as JSON."""

import argparse
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cliptools import FIXTURES, require, save_safetensors  # noqa: E402

require("numpy", "torch", "safetensors.torch")
import numpy as np  # noqa: E402
import torch  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.torch import load_file  # noqa: E402


def build_tensors():
    """Deterministic tensor set; values chosen to exercise conversion edge cases."""
    f32 = (torch.arange(1, 7, dtype=torch.float32) * 0.25).reshape(2, 3)  # 0.25 .. 1.5
    # F16: 0.5, -2, max finite half (65504), smallest-ish subnormal (6e-8 rounds to 2**-24 = 5.96e-8)
    f16 = torch.tensor([0.5, -2.0, 65504.0, 6e-8], dtype=torch.float16)
    # BF16: -1.5, 3.0e38 (rounds to a bf16 value), 1/3 (inexact), -0.0
    bf16 = torch.tensor([[-1.5, 3.0e38], [1.0 / 3.0, -0.0]], dtype=torch.bfloat16)
    scalar = torch.tensor(3.5, dtype=torch.float32)
    empty = torch.zeros((0, 4), dtype=torch.float32)
    position_ids = torch.arange(5, dtype=torch.int64).reshape(1, 5) * 7 - 3  # includes a negative value
    return {
        "f32": f32,
        "f16": f16,
        "bf16": bf16,
        "scalar": scalar,
        "empty": empty,
        "position_ids": position_ids,
    }


DTYPE_NAMES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
}


def f32_exact(x):
    """Exact float32 value -> Python float (float32 values are exactly representable in float64 / JSON repr)."""
    return float(np.float32(x))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out-dir", default=os.path.join(FIXTURES, "safetensors"))
    ap.add_argument("--name", default="roundtrip")
    args = ap.parse_args()

    out_dir = os.path.normpath(args.out_dir)
    os.makedirs(out_dir, exist_ok=True)
    st_path = os.path.join(out_dir, args.name + ".safetensors")
    js_path = os.path.join(out_dir, args.name + ".json")

    tensors = build_tensors()
    metadata = {"format": "pt", "note": "roundtrip"}
    save_safetensors(tensors, st_path, metadata=metadata)  # metadata keys sorted: byte-for-byte reproducible

    # Build expectations by reading the file back (what the Swift reader must reproduce).
    expected = {"metadata": metadata, "tensors": {}}
    with safe_open(st_path, framework="pt") as f:
        assert f.metadata() == metadata, f.metadata()
        for name in f.keys():
            t = f.get_tensor(name)
            entry = {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape)}
            if t.dtype == torch.int64:
                entry["values"] = [int(v) for v in t.reshape(-1).tolist()]
            else:
                entry["values"] = [f32_exact(v) for v in t.to(torch.float32).reshape(-1).tolist()]
            expected["tensors"][name] = entry

    # Sanity checks on the edge cases.
    exp = expected["tensors"]
    assert exp["f16"]["values"] == [0.5, -2.0, 65504.0, 2.0 ** -24], exp["f16"]
    assert exp["bf16"]["values"][0] == -1.5
    assert exp["scalar"]["shape"] == [] and exp["scalar"]["values"] == [3.5]
    assert exp["empty"]["shape"] == [0, 4] and exp["empty"]["values"] == []
    # Raw header check: the header is JSON preceded by a little-endian u64 length.
    with open(st_path, "rb") as fh:
        n = struct.unpack("<Q", fh.read(8))[0]
        header = json.loads(fh.read(n))
    for name, entry in exp.items():
        assert header[name]["dtype"] == entry["dtype"], (name, header[name])
        assert header[name]["shape"] == entry["shape"], (name, header[name])
    expected["header_offsets"] = {k: v["data_offsets"] for k, v in header.items() if k != "__metadata__"}

    with open(js_path, "w") as fh:
        json.dump(expected, fh, indent=1, sort_keys=True)
        fh.write("\n")

    # Round-trip through load_file too.
    back = load_file(st_path)
    for k, v in tensors.items():
        assert torch.equal(back[k], v), k

    print(f"wrote {st_path} ({os.path.getsize(st_path)} bytes)")
    print(f"wrote {js_path} ({os.path.getsize(js_path)} bytes)")
    for k, e in exp.items():
        print(f"  {k:13s} {e['dtype']:4s} {str(e['shape']):8s} {e['values']}")


if __name__ == "__main__":
    main()
