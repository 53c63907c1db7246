#!/usr/bin/env python3
"""Side-by-side benchmark: this package's clip-bench vs ONNX Runtime (and optionally PyTorch) on the same random
ViT-B/32, in interleaved rounds on the default build."""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
LABELS = ["cat", "dog", "car", "bird", "tree", "house", "person", "boat", "flower", "horse"]
PROMPTS = [f"This is a photo of {x}." for x in LABELS]


def ensure_deps():
    missing = []
    for mod, pkg in [("torch", "torch"), ("transformers", "transformers"), ("onnx", "onnx"),
                     ("onnxruntime", "onnxruntime"), ("PIL", "pillow"), ("open_clip", "open_clip_torch"),
                     ("safetensors", "safetensors")]:
        try:
            __import__(mod)
        except ImportError:
            missing.append(pkg)
    if missing:
        print("installing", " ".join(missing), flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=True)


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def timeit(fn, n, warmup=2):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return median(out)


def prepare(workdir: pathlib.Path):
    """Random ViT-B/32 as an HF directory, ONNX exports of both towers, tokenizer files and a 6 MP JPEG."""
    import numpy as np
    import torch
    from PIL import Image
    from transformers import (CLIPImageProcessorPil, CLIPModel, CLIPTextModelWithProjection,
                              CLIPVisionModelWithProjection)
    sys.path.insert(0, str(ROOT / "Tools"))
    from make_classify_fixture import write_hf_tokenizer

    hf = workdir / "vitb32"
    if not (hf / "model.safetensors").exists():
        print("building random ViT-B/32 (Tools/make_vitb32.py) …", flush=True)
        subprocess.run([sys.executable, str(ROOT / "Tools/make_vitb32.py"), "--out", str(hf)], check=True)
    write_hf_tokenizer(hf)
    CLIPImageProcessorPil().save_pretrained(hf)
    onnx_dir = workdir / "onnx"
    onnx_dir.mkdir(exist_ok=True)
    if not (onnx_dir / "vision_model.onnx").exists():
        print("exporting ONNX towers …", flush=True)
        vision = CLIPVisionModelWithProjection.from_pretrained(hf).eval()
        text = CLIPTextModelWithProjection.from_pretrained(hf).eval()

        class V(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, pixel_values):
                return self.m(pixel_values=pixel_values).image_embeds

        class T(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids, attention_mask):
                return self.m(input_ids=input_ids, attention_mask=attention_mask).text_embeds

        torch.onnx.export(V(vision), (torch.randn(1, 3, 224, 224),), onnx_dir / "vision_model.onnx",
                          input_names=["pixel_values"], output_names=["image_embeds"],
                          dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
                          opset_version=17, dynamo=False)
        ids = torch.ones(2, 8, dtype=torch.long)
        torch.onnx.export(T(text), (ids, torch.ones_like(ids)), onnx_dir / "text_model.onnx",
                          input_names=["input_ids", "attention_mask"], output_names=["text_embeds"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                        "text_embeds": {0: "batch"}},
                          opset_version=17, dynamo=False)
    jpeg = workdir / "photo-6mp.jpg"
    if not jpeg.exists():
        rng = np.random.default_rng(0)
        y, x = np.mgrid[0:2000, 0:3000]
        arr = np.stack([x * 255 // 3000, y * 255 // 2000, (x + y) * 128 // 5000 + 60], -1).astype(np.int16)
        arr += rng.integers(0, 16, arr.shape, dtype=np.int16)
        Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(jpeg, quality=90)
    # ONNX Runtime's dynamic int8 quantization of the same towers (QInt8 weights, per-tensor).
    for name in ("vision_model", "text_model"):
        q = onnx_dir / f"{name}_int8.onnx"
        if not q.exists():
            from onnxruntime.quantization import QuantType, quantize_dynamic
            print(f"quantize_dynamic {name} (QInt8) …", flush=True)
            quantize_dynamic(str(onnx_dir / f"{name}.onnx"), str(q), weight_type=QuantType.QInt8)
    return hf, onnx_dir, jpeg


def quantize_swift(hf: pathlib.Path, scratch: str) -> pathlib.Path:
    """The same weights as this package's int8 checkpoint (`clip quantize`)."""
    out = hf.parent / "vitb32-int8"
    clip = pathlib.Path(scratch) / "release" / "clip"
    subprocess.run([str(clip), "quantize", str(hf), "--out", str(out)], check=True, capture_output=True)
    return out


def bench_ort_int8(onnx_dir, n):
    """Image batch 1 and 8 and 10 labels on ORT's quantize_dynamic models."""
    import numpy as np
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.inter_op_num_threads = 1
    vs = ort.InferenceSession(str(onnx_dir / "vision_model_int8.onnx"), so, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    px1 = rng.standard_normal((1, 3, 224, 224), dtype=np.float32)
    px8 = rng.standard_normal((8, 3, 224, 224), dtype=np.float32)
    return {
        "image_b1_ms": timeit(lambda: vs.run(None, {"pixel_values": px1}), n) * 1000,
        "image_b8_ms_per_image": timeit(lambda: vs.run(None, {"pixel_values": px8}), max(3, n // 2)) * 1000 / 8,
    }


PEER_STARTUP = r'''
import json, resource, sys, time
t0 = time.perf_counter()
kind, hf, onnx_dir, jpeg = sys.argv[1:5]
import numpy as np
from PIL import Image
from transformers import CLIPImageProcessorPil, CLIPTokenizer
from transformers.image_utils import load_image
labels = ["cat", "dog", "car", "bird", "tree", "house", "person", "boat", "flower", "horse"]
tok = CLIPTokenizer(hf + "/vocab.json", hf + "/merges.txt")
proc = CLIPImageProcessorPil()
if kind == "ort":
    import onnxruntime as ort
    so = ort.SessionOptions(); so.intra_op_num_threads = 2; so.inter_op_num_threads = 1
    vs = ort.InferenceSession(onnx_dir + "/vision_model.onnx", so, providers=["CPUExecutionProvider"])
    ts = ort.InferenceSession(onnx_dir + "/text_model.onnx", so, providers=["CPUExecutionProvider"])
    t1 = time.perf_counter()
    ids = tok([f"This is a photo of {x}." for x in labels], padding=True, return_tensors="np")
    te = ts.run(None, {"input_ids": ids["input_ids"].astype(np.int64), "attention_mask": ids["attention_mask"].astype(np.int64)})[0]
    ie = vs.run(None, {"pixel_values": proc(load_image(jpeg), return_tensors="np")["pixel_values"]})[0]
else:
    import torch
    torch.set_num_threads(2)
    from transformers import CLIPModel
    model = CLIPModel.from_pretrained(hf).eval()
    t1 = time.perf_counter()
    with torch.no_grad():
        ids = tok([f"This is a photo of {x}." for x in labels], padding=True, return_tensors="pt")
        te = model.get_text_features(**ids); te = getattr(te, "pooler_output", te).numpy()
        ie = model.get_image_features(pixel_values=proc(load_image(jpeg), return_tensors="pt")["pixel_values"])
        ie = getattr(ie, "pooler_output", ie).numpy()
te = te / np.linalg.norm(te, axis=-1, keepdims=True); ie = ie / np.linalg.norm(ie, axis=-1, keepdims=True)
logits = 100 * ie @ te.T
p = np.exp(logits - logits.max()); p /= p.sum()
t2 = time.perf_counter()
print(json.dumps({"load_s": t1 - t0, "first_result_s": t2 - t0, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6}), flush=True)
'''


def startup(kind, hf, onnx_dir, jpeg, runs=3):
    """Process start → the result line (as clip-bench times its own probe: the teardown after it is not counted)."""
    walls, rss = [], 0.0
    for _ in range(runs):
        with tempfile.TemporaryFile("w+") as errors:   # a file, so warnings can never fill a pipe and block
            t = time.perf_counter()
            p = subprocess.Popen([sys.executable, "-c", PEER_STARTUP, kind, str(hf), str(onnx_dir), str(jpeg)],
                                 stdout=subprocess.PIPE, stderr=errors, text=True)
            line = p.stdout.readline()
            walls.append(time.perf_counter() - t)
            p.communicate()
            errors.seek(0)
            if p.returncode != 0 or not line.strip():
                raise RuntimeError(f"{kind} start-up probe failed: {errors.read()[-2000:]}")
        rss = max(rss, json.loads(line)["peak_rss_mb"])
    return median(walls), rss


def bench_ort(hf, onnx_dir, jpeg, n):
    import numpy as np
    import onnxruntime as ort
    from transformers import CLIPImageProcessorPil, CLIPTokenizer
    from transformers.image_utils import load_image
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.inter_op_num_threads = 1
    vs = ort.InferenceSession(str(onnx_dir / "vision_model.onnx"), so, providers=["CPUExecutionProvider"])
    ts = ort.InferenceSession(str(onnx_dir / "text_model.onnx"), so, providers=["CPUExecutionProvider"])
    tok = CLIPTokenizer(str(hf / "vocab.json"), str(hf / "merges.txt"))
    proc = CLIPImageProcessorPil()
    rng = np.random.default_rng(0)
    px1 = rng.standard_normal((1, 3, 224, 224), dtype=np.float32)
    px8 = rng.standard_normal((8, 3, 224, 224), dtype=np.float32)
    short = tok(PROMPTS, padding=True, return_tensors="np")
    padded77 = tok(PROMPTS, padding="max_length", max_length=77, return_tensors="np")
    feed = lambda t: {"input_ids": t["input_ids"].astype(np.int64), "attention_mask": t["attention_mask"].astype(np.int64)}
    te = ts.run(None, feed(short))[0]
    te = te / np.linalg.norm(te, axis=-1, keepdims=True)

    def e2e():
        ie = vs.run(None, {"pixel_values": proc(load_image(str(jpeg)), return_tensors="np")["pixel_values"]})[0]
        ie = ie / np.linalg.norm(ie, axis=-1, keepdims=True)
        logits = 100 * ie @ te.T
        p = np.exp(logits - logits.max())
        return p / p.sum()

    return {
        "image_b1_ms": timeit(lambda: vs.run(None, {"pixel_values": px1}), n) * 1000,
        "image_b8_ms_per_image": timeit(lambda: vs.run(None, {"pixel_values": px8}), max(3, n // 2)) * 1000 / 8,
        "text_10_labels_ms": timeit(lambda: ts.run(None, feed(short)), n) * 1000,
        "text_10_labels_pad77_ms": timeit(lambda: ts.run(None, feed(padded77)), n) * 1000,
        "jpeg_6mp_end_to_end_ms": timeit(e2e, max(3, n // 2)) * 1000,
    }


def bench_torch(hf, jpeg, n):
    import numpy as np
    import torch
    from transformers import CLIPImageProcessorPil, CLIPModel, CLIPTokenizer
    from transformers.image_utils import load_image
    torch.set_num_threads(2)
    model = CLIPModel.from_pretrained(hf).eval()
    tok = CLIPTokenizer(str(hf / "vocab.json"), str(hf / "merges.txt"))
    proc = CLIPImageProcessorPil()
    px1 = torch.randn(1, 3, 224, 224)
    px8 = torch.randn(8, 3, 224, 224)
    short = tok(PROMPTS, padding=True, return_tensors="pt")
    padded77 = tok(PROMPTS, padding="max_length", max_length=77, return_tensors="pt")
    with torch.no_grad():
        te = model.get_text_features(**short)
        te = getattr(te, "pooler_output", te)
        te = te / te.norm(dim=-1, keepdim=True)

        def e2e():
            ie = model.get_image_features(pixel_values=proc(load_image(str(jpeg)), return_tensors="pt")["pixel_values"])
            ie = getattr(ie, "pooler_output", ie)
            ie = ie / ie.norm(dim=-1, keepdim=True)
            return (100 * ie @ te.T).softmax(-1)

        return {
            "image_b1_ms": timeit(lambda: model.get_image_features(pixel_values=px1), n) * 1000,
            "image_b8_ms_per_image": timeit(lambda: model.get_image_features(pixel_values=px8), max(3, n // 2)) * 1000 / 8,
            "text_10_labels_ms": timeit(lambda: model.get_text_features(**short), n) * 1000,
            "text_10_labels_pad77_ms": timeit(lambda: model.get_text_features(**padded77), n) * 1000,
            "jpeg_6mp_end_to_end_ms": timeit(e2e, max(3, n // 2)) * 1000,
        }


def run_swift(bench, hf, jpeg, n):
    out = subprocess.run([str(bench), "--weights", str(hf), "--json", "--iterations", str(n), "--jpeg", str(jpeg)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


ROWS = [
    # (label, key, target ratio to ORT or absolute target, kind)
    ("image batch 1 (ms)", "image_b1_ms", 1.0, "ratio"),
    ("image batch 8 (ms / image)", "image_b8_ms_per_image", 1.0, "ratio"),
    ("10 short labels (ms; ORT pads to the longest)", "text_10_labels_ms", 0.9, "ratio"),
    ("6 MP JPEG end to end (ms; ORT + PIL)", "jpeg_6mp_end_to_end_ms", 0.8, "ratio"),
    ("process start → first result (s)", "startup_to_first_result_s", 0.3, "absolute"),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "clip-peers"))
    ap.add_argument("--iterations", type=int, default=10, help="timed calls per workload per round (medians)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds: ORT, swift, ORT, swift, … (at least 3)")
    ap.add_argument("--swift-flags", default="",
                    help="extra swift build flags for clip-bench (default none: the build users get)")
    ap.add_argument("--scratch-path", default=None, help="swift build --scratch-path (default: .build, or .build-flags)")
    ap.add_argument("--torch", action="store_true", help="also time PyTorch (once, after the rounds)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.rounds < 3:
        ap.error("--rounds must be at least 3")
    ensure_deps()
    workdir = pathlib.Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    hf, onnx_dir, jpeg = prepare(workdir)
    weights_mb = (hf / "model.safetensors").stat().st_size / 1e6

    scratch = args.scratch_path or str(ROOT / (".build-flags" if args.swift_flags.strip() else ".build"))
    print(f"building clip-bench and clip (swift build -c release {args.swift_flags}) …", flush=True)
    for product in ("clip-bench", "clip"):
        subprocess.run(["swift", "build", "-c", "release", "--product", product, "--scratch-path", scratch,
                        *args.swift_flags.split()], cwd=ROOT, check=True)
    bench = pathlib.Path(scratch) / "release" / "clip-bench"
    hf_int8 = quantize_swift(hf, scratch)
    int8_mb = (hf_int8 / "model.safetensors").stat().st_size / 1e6
    ort_int8_mb = (onnx_dir / "vision_model_int8.onnx").stat().st_size / 1e6

    rounds = []
    for r in range(args.rounds):
        print(f"round {r + 1}/{args.rounds}: ONNX Runtime …", flush=True)
        ort = bench_ort(hf, onnx_dir, jpeg, args.iterations)
        ort["startup_to_first_result_s"], ort["peak_rss_mb"] = startup("ort", hf, onnx_dir, jpeg, runs=1)
        print(f"round {r + 1}/{args.rounds}: swift-clip …", flush=True)
        swift = run_swift(bench, hf, jpeg, args.iterations)
        print(f"  backend {swift['backend']}, multiply-add peak {swift['madd_peak_gflops']:.0f} GFLOP/s, "
              f"batch 1 {swift['image_b1_ms']:.1f} ms vs ORT {ort['image_b1_ms']:.1f} ms", flush=True)
        print(f"round {r + 1}/{args.rounds}: ONNX Runtime int8 …", flush=True)
        ort_int8 = bench_ort_int8(onnx_dir, args.iterations)
        print(f"round {r + 1}/{args.rounds}: swift-clip int8 …", flush=True)
        swift_int8 = run_swift(bench, hf_int8, jpeg, args.iterations)
        print(f"  int8 batch 1 {swift_int8['image_b1_ms']:.1f} ms vs ORT {ort_int8['image_b1_ms']:.1f} ms", flush=True)
        rounds.append({"ort": ort, "swift": swift, "ort_int8": ort_int8, "swift_int8": swift_int8})
    best = lambda side, key: min(rd[side][key] for rd in rounds)

    lines = [f"weights: random ViT-B/32, {weights_mb:.0f} MB F32; 2 threads; {args.rounds} interleaved rounds "
             f"(ORT, then swift-clip), each the median of {args.iterations} calls; the table gives each side's minimum "
             f"over rounds. swift build flags: '{args.swift_flags or 'none (default build)'}'.",
             "| workload | swift-clip | ONNX Runtime | swift / ORT | target | met? |",
             "| --- | --- | --- | --- | --- | --- |"]
    for label, key, target, kind in ROWS:
        s, o = best("swift", key), best("ort", key)
        if kind == "ratio":
            ratio = s / o
            lines.append(f"| {label} | {s:.3g} | {o:.3g} | {ratio:.2f}× | ≤ {target}× ORT | {'yes' if ratio <= target else '**no**'} |")
        else:
            lines.append(f"| {label} | {s:.3g} | {o:.3g} | {s / o:.2f}× | ≤ {target} s | {'yes' if s <= target else '**no**'} |")
    s, o = best("swift", "text_10_labels_unshared_ms"), best("ort", "text_10_labels_ms")
    lines.append(f"| 10 short labels, template prefix not shared (ms; for comparison) | {s:.3g} | {o:.3g} | {s / o:.2f}× | | |")
    s_rss = max(rd["swift"]["peak_rss_mb"] for rd in rounds)
    o_rss = max(rd["ort"]["peak_rss_mb"] for rd in rounds)
    lines.append(f"| peak RSS (MB; weights {weights_mb:.0f} MB) | {s_rss:.0f} ({s_rss / weights_mb:.2f}×) | {o_rss:.0f} | "
                 f"{s_rss / o_rss:.2f}× | ≤ 1.1× weights | {'yes' if s_rss <= 1.1 * weights_mb else '**no**'} |")
    lines.append("")
    lines.append(f"int8: this package's `clip quantize` checkpoint ({int8_mb:.0f} MB for both towers, "
                 f"{int8_mb / weights_mb:.2f}× the F32 file) against ONNX Runtime's quantize_dynamic QInt8 vision "
                 f"model ({ort_int8_mb:.0f} MB):")
    lines.append("| workload | swift-clip int8 | ORT int8 | swift int8 / ORT int8 | swift int8 / swift fp32 | target | met? |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- |")
    for label, key in (("image batch 1 (ms)", "image_b1_ms"), ("image batch 8 (ms / image)", "image_b8_ms_per_image")):
        si, oi, sf = best("swift_int8", key), best("ort_int8", key), best("swift", key)
        met = si <= oi and si <= 0.5 * sf
        lines.append(f"| {label} | {si:.3g} | {oi:.3g} | {si / oi:.2f}× | {si / sf:.2f}× | ≤ 1.0× ORT int8 and ≤ 0.5× "
                     f"swift fp32 | {'yes' if met else '**no**'} |")
    for label, key in (("10 short labels (ms)", "text_10_labels_ms"), ("process start → first result (s)", "startup_to_first_result_s")):
        lines.append(f"| {label} | {best('swift_int8', key):.3g} | | | {best('swift_int8', key) / best('swift', key):.2f}× | | |")
    s8_rss = max(rd["swift_int8"]["peak_rss_mb"] for rd in rounds)
    lines.append(f"| peak RSS (MB) | {s8_rss:.0f} ({s8_rss / int8_mb:.2f}× the int8 file) | | | | ≤ 1.2× | "
                 f"{'yes' if s8_rss <= 1.2 * int8_mb else '**no**'} |")
    lines.append("")
    lines.append("per round: " + "; ".join(
        f"{i + 1}: backend {rd['swift']['backend']}, peak {rd['swift']['madd_peak_gflops']:.0f} GFLOP/s, "
        f"b1 {rd['swift']['image_b1_ms']:.1f}/{rd['ort']['image_b1_ms']:.1f} ms, "
        f"b8 {rd['swift']['image_b8_ms_per_image']:.1f}/{rd['ort']['image_b8_ms_per_image']:.1f} ms"
        for i, rd in enumerate(rounds)) + " (swift/ORT)")
    lines.append(f"first load with an empty prepared-weights cache: "
                 f"{min(rd['swift']['startup_first_load_s'] for rd in rounds):.2f} s; start-up is timed to the result "
                 f"line, the process teardown after it took a further "
                 f"{min(rd['swift'].get('startup_teardown_s', 0) for rd in rounds) * 1000:.0f} ms (min over rounds)")
    results = {"rounds": rounds}
    if args.torch:
        print("PyTorch …", flush=True)
        t = bench_torch(hf, jpeg, args.iterations)
        t["startup_to_first_result_s"], t["peak_rss_mb"] = startup("torch", hf, onnx_dir, jpeg, runs=1)
        results["torch"] = t
        lines.append("PyTorch (one run, after the rounds): " + ", ".join(f"{k} {v:.3g}" for k, v in t.items()))
    print("\n".join(lines))
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
