"""Helpers shared by the Python scripts in Tools/ (fixture generators, `convert`, server checks).

Importing this module costs nothing: only the standard library is imported here. Helpers that need torch,
numpy, Pillow or safetensors import them when called, so a script first states what it needs with
`require(...)`, which turns a missing package into one line on stderr instead of a traceback.

Scripts run as `python3 Tools/x.py` or `Tools/x` (any working directory) and import it with

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from cliptools import require, ...
"""

import importlib
import json
import os
import re
import struct
import sys
import time
import zlib

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures")
REQUIREMENTS = os.path.join(TOOLS, "requirements.txt")
DATA = os.path.join(TOOLS, "data")
TEXT_TABLES = os.path.join(DATA, "text-tables.json")  # written by gen_text_tables.py, read by gen_tokenizer_data.py
BPE_VOCAB = os.path.join(DATA, "bpe_simple_vocab_16e6.txt.gz")

# OpenAI CLIP's BPE vocabulary and image normalisation (openai/clip-vit-base-patch32).
SOT, EOT, CONTEXT = 49406, 49407, 77
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


# ----------------------------------------------------------------------------------------------
# Dependencies

# pip distribution names of modules whose import name differs
PIP_NAMES = {"PIL": "pillow", "open_clip": "open_clip_torch", "skimage": "scikit-image"}


def prog():
    """The running script's name as invoked (`convert`, `make_model_fixtures.py`)."""
    return os.path.basename(sys.argv[0]) or "python3"


def _pinned():
    """Normalised package names listed in Tools/requirements.txt."""
    try:
        with open(REQUIREMENTS) as f:
            lines = f.read().splitlines()
    except OSError:
        return set()
    names = set()
    for line in lines:
        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line.split("#")[0])
        if m:
            names.add(re.sub(r"[-_.]+", "-", m.group(1)).lower())
    return names


def install_hint(module, pinned=False):
    """`python3 -m pip install ...` for the package providing `module`: the pinned set if it is listed in
    requirements.txt or `pinned` (a dependency of a listed package), else that package alone."""
    pip = PIP_NAMES.get(module, module)
    if pinned or re.sub(r"[-_.]+", "-", pip).lower() in _pinned():
        rel = os.path.relpath(REQUIREMENTS)
        return f"python3 -m pip install -r {REQUIREMENTS if rel.startswith('..') else rel}"
    return f"python3 -m pip install {pip}"


def require(*modules):
    """Import `modules` (e.g. "torch", "safetensors.torch", "PIL.Image"); on failure print one line to stderr,

        convert: missing Python package 'torch' — install with: python3 -m pip install -r Tools/requirements.txt

    and exit 1. Returns the module, or a tuple of them for several names."""
    loaded = []
    for name in modules:
        try:
            loaded.append(importlib.import_module(name))
        except ModuleNotFoundError as e:
            missing = (e.name or name).split(".")[0]  # may be a dependency of `name` rather than `name` itself
            dependency = missing != name.split(".")[0] and re.sub(r"[-_.]+", "-", PIP_NAMES.get(
                name.split(".")[0], name.split(".")[0])).lower() in _pinned()
            print(f"{prog()}: missing Python package '{PIP_NAMES.get(missing, missing)}' — install with: "
                  f"{install_hint(missing, pinned=dependency)}", file=sys.stderr)
            sys.exit(1)
        except ImportError as e:  # installed, but an incompatible version (a name it lacks, a broken build)
            top = name.split(".")[0]
            first = (str(e).strip().splitlines() or [""])[0]
            print(f"{prog()}: cannot import '{name}' ({first}) — install with: {install_hint(top)}", file=sys.stderr)
            sys.exit(1)
    return loaded[0] if len(loaded) == 1 else tuple(loaded)


def stopwatch(width=5):
    """log(msg) printing `[  1.2s] msg` with the time since this call."""
    t0 = time.time()

    def log(msg):
        print(f"[{time.time() - t0:{width}.1f}s] {msg}", flush=True)

    return log


# ----------------------------------------------------------------------------------------------
# Files


def dir_size(d):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))


def make_readable(d):
    """safetensors writes 0600 files; make the committed fixtures world-readable."""
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)


def write_inputs(path, seqs, prompts=None, extra=None):
    """inputs.json: {"input_ids": [[...], ...]} (unpadded), with "prompts" first when given and `extra` keys after;
    one trailing newline."""
    obj = {"input_ids": seqs} if prompts is None else {"prompts": prompts, "input_ids": seqs}
    obj.update(extra or {})
    with open(path, "w") as fh:
        json.dump(obj, fh)
        fh.write("\n")


def preprocessor_config(image_size):
    """CLIPImageProcessor defaults (openai/clip-vit-base-patch32) for a given input size (keys in sorted order)."""
    return {
        "crop_size": {"height": image_size, "width": image_size},
        "do_center_crop": True,
        "do_convert_rgb": True,
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": True,
        "image_mean": list(CLIP_MEAN),
        "image_processor_type": "CLIPImageProcessor",
        "image_std": list(CLIP_STD),
        "resample": 3,
        "rescale_factor": 1 / 255,
        "size": {"shortest_edge": image_size},
    }


# ----------------------------------------------------------------------------------------------
# safetensors


def sort_safetensors_metadata(path):
    """safetensors serialises `__metadata__` from a hash map (a random key order per process): rewrite the header in
    place with the metadata keys sorted, same byte length, so that re-runs are byte-identical."""
    with open(path, "r+b") as fh:
        n = struct.unpack("<Q", fh.read(8))[0]
        header = json.loads(fh.read(n))
        if len(header.get("__metadata__") or {}) < 2:
            return
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
        text = json.dumps(header, separators=(",", ":")).encode()
        assert len(text) <= n, (len(text), n)
        fh.seek(8)
        fh.write(text + b" " * (n - len(text)))


def save_safetensors(tensors, path, metadata=None):
    """safetensors.torch.save_file + sorted metadata keys + mode 0644 (safetensors creates 0600 files)."""
    from safetensors.torch import save_file

    save_file(tensors, path, metadata=metadata)
    sort_safetensors_metadata(path)
    os.chmod(path, 0o644)


def load_safetensors(path):
    """{key: torch.Tensor} of a safetensors file, in the file's key order."""
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


def save_reference(tensors, path):
    """reference.safetensors: every value as contiguous F32 (torch tensors or anything torch.as_tensor takes),
    metadata {"format": "pt"} (a single key keeps the file byte-deterministic)."""
    import torch

    save_safetensors({k: torch.as_tensor(v).detach().float().contiguous() for k, v in tensors.items()}, path,
                     metadata={"format": "pt"})


# ----------------------------------------------------------------------------------------------
# Models and inputs (transformers / torch)


def features(out):
    """transformers 5 get_*_features return BaseModelOutputWithPooling; older versions a tensor."""
    import torch

    return out if torch.is_tensor(out) else out.pooler_output


def max_diff(a, b):
    """Largest |a - b| over two equally shaped arrays (torch tensors, numpy arrays or nested lists), in float64;
    inf if a difference is NaN. Raises ValueError when the shapes differ."""
    worst = 0.0

    def walk(x, y):
        nonlocal worst
        x = x.tolist() if hasattr(x, "tolist") else x
        y = y.tolist() if hasattr(y, "tolist") else y
        xs, ys = isinstance(x, (list, tuple)), isinstance(y, (list, tuple))
        if xs or ys:
            if not (xs and ys) or len(x) != len(y):
                raise ValueError(f"shapes differ: {len(x) if xs else 'scalar'} vs {len(y) if ys else 'scalar'} items")
            for u, v in zip(x, y):
                walk(u, v)
        else:
            d = abs(float(x) - float(y))
            worst = max(worst, d) if d == d else float("inf")

    walk(a, b)
    return worst


def is_norm_parameter(name):
    """LayerNorm weights/biases, in transformers' (layer_norm1, pre_layrnorm, post_layernorm, final_layer_norm) and
    OpenAI's / open_clip's (ln_1, ln_pre, ln_post, ln_final) naming."""
    return any(s in name for s in ("layer_norm", "layernorm", "layrnorm", ".ln_")) or name.startswith("ln_")


def perturb_parameters(model, seed=None, std=0.05, ln_std=0.1, logit_scale=None):
    """Add Gaussian noise to every parameter (std `ln_std` for LayerNorms, `std` otherwise) so that nothing is an
    identity or zero, drawn from torch.Generator().manual_seed(seed) (the global generator if seed is None);
    logit_scale is set to `logit_scale` (left alone if None)."""
    import torch

    gen = None if seed is None else torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "logit_scale":
                if logit_scale is not None:
                    p.fill_(logit_scale)
                continue
            p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * (ln_std if is_norm_parameter(name) else std))
    return model


def random_inputs(seed, n_images, image_size, lengths=(), bos=SOT, eos=EOT, id_range=(1, SOT)):
    """(pixel_values [n, 3, S, S] ~ N(0, 1), [[bos, random ids in id_range (half-open), eos] per length]), drawn in
    that order from torch.Generator().manual_seed(seed)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    pixel_values = torch.randn((n_images, 3, image_size, image_size), generator=gen, dtype=torch.float32)
    seqs = [[bos] + torch.randint(*id_range, (n - 2,), generator=gen).tolist() + [eos] for n in lengths]
    return pixel_values, seqs


def pad(seqs, pad_id, length=None):
    """(input_ids, attention_mask), torch.long [len(seqs), length or the longest], right-padded with pad_id."""
    import torch

    length = length or max(len(s) for s in seqs)
    ids = torch.full((len(seqs), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), length), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    return ids, mask


# ----------------------------------------------------------------------------------------------
# Tokenizer


def token_ids(tokenizer, text, context=CONTEXT):
    """[SOT] + tokenizer.encode(text) + [EOT], truncated to `context` with the last id forced to EOT (open_clip's
    tokenize without the padding). `tokenizer`: open_clip.tokenizer.SimpleTokenizer."""
    ids = [SOT] + tokenizer.encode(text) + [EOT]
    if len(ids) > context:
        ids = ids[:context]
        ids[-1] = EOT
    return ids


def bpe_merges(path=BPE_VOCAB):
    """The 48,894 merge lines ("a b") of OpenAI's bpe_simple_vocab_16e6.txt.gz that SimpleTokenizer uses, in rank order."""
    import gzip

    with gzip.open(path) as f:
        return f.read().decode("utf-8").split("\n")[1:49152 - 256 - 2 + 1]


# ----------------------------------------------------------------------------------------------
# Images


def png_chunk(tag, data):
    """One PNG chunk: length, tag, data, CRC-32 of tag + data."""
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def pack_bits(row, bits):
    """Samples (< 2**bits each) packed MSB-first, `bits` (1, 2, 4 or 8) per sample, the last byte zero-filled, as PNG
    scanlines and BMP palette rows store them."""
    per = 8 // bits
    out = bytearray()
    for i in range(0, len(row), per):
        byte = 0
        for k, v in enumerate(row[i:i + per]):
            byte |= int(v) << (8 - bits * (k + 1))
        out.append(byte)
    return bytes(out)


def pil_rgb(path):
    """PIL.Image.open(path).convert("RGB") as contiguous uint8 (H, W, 3): what transformers' load_image decodes
    (without the EXIF transpose)."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as im:
        return np.ascontiguousarray(np.array(im.convert("RGB"), dtype=np.uint8))
