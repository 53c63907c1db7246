#!/usr/bin/env python3
"""Build tiny random OpenAI-layout and Xenova-style ONNX CLIPs, convert them with Tools/convert, verify, and write the converted fixtures."""

# (a) open_clip CLIP with OpenAI's ViT architecture -> plain state dict + TorchScript archive (/tmp)
#     -> Tools/convert openai -> Tests/Fixtures/converted-openai (from the TorchScript archive).
# (b) transformers CLIPModel -> onnx/vision_model.onnx + onnx/text_model.onnx (TorchScript-based
#     torch.onnx.export, as Optimum/Xenova) -> Tools/convert onnx -> Tests/Fixtures/converted-onnx.
# Each fixture dir: config.json, preprocessor_config.json, model.safetensors (converter output),
# inputs.json {"input_ids": [...]} (unpadded), reference.safetensors (F32 pixel_values, image_embeds,
# text_embeds from the ORIGINAL model, unnormalised). Deterministic; about 30 s on one core.

import argparse
import copy
import json
import math
import os
import shutil
import subprocess
import sys
import time
import warnings

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
CONVERT = os.path.join(HERE, "convert")
VOCAB = 1000
SOT, EOT = VOCAB - 2, VOCAB - 1  # EOT is the largest id: OpenAI/open_clip pool at argmax(input_ids)
LENGTHS = [2, 5, 16, 77]  # 77 = full context
TOL = 1e-5
T0 = time.time()


def log(msg):
    print(f"[{time.time() - T0:5.1f}s] {msg}", flush=True)


def features(out):
    """transformers 5 get_*_features return BaseModelOutputWithPooling; older versions a tensor."""
    return out if torch.is_tensor(out) else out.pooler_output


def max_diff(a, b):
    return (torch.as_tensor(a).double() - torch.as_tensor(b).double()).abs().max().item()


def run_convert(*args, expect_warning=None):
    cmd = [sys.executable, CONVERT, *map(str, args)]
    log("$ Tools/convert " + " ".join(map(str, args)))
    r = subprocess.run(cmd, capture_output=True, text=True)
    for line in (r.stdout + r.stderr).strip().splitlines():
        print("    | " + line)
    if r.returncode != 0:
        sys.exit(f"Tools/convert failed (exit {r.returncode})")
    if expect_warning and expect_warning not in r.stderr:
        sys.exit(f"expected a warning containing {expect_warning!r}")
    return r


def load_st(path):
    with safe_open(path, framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


def make_inputs(seed, image_size, n_images=2):
    gen = torch.Generator().manual_seed(seed)
    pixel_values = torch.randn((n_images, 3, image_size, image_size), generator=gen)
    seqs = [[SOT] + torch.randint(1, SOT, (n - 2,), generator=gen).tolist() + [EOT] for n in LENGTHS]
    return pixel_values, seqs


def write_fixture_extras(out, pixel_values, image_embeds, text_embeds, seqs):
    ref = {"pixel_values": pixel_values, "image_embeds": image_embeds, "text_embeds": text_embeds}
    path = os.path.join(out, "reference.safetensors")
    save_file({k: v.detach().float().contiguous() for k, v in ref.items()}, path, metadata={"format": "pt"})
    os.chmod(path, 0o644)
    with open(os.path.join(out, "inputs.json"), "w") as f:
        json.dump({"input_ids": seqs}, f)
        f.write("\n")


@torch.no_grad()
def check_hf_dir(directory, pixel_values, seqs, image_ref, text_ref, tol=TOL, what=""):
    """Load a converted dir with transformers and compare its embeddings with the original model's."""
    from transformers import CLIPModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    model, info = CLIPModel.from_pretrained(directory, attn_implementation="eager", dtype=torch.float32,
                                            output_loading_info=True)
    model.eval()
    bad = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if bad:
        sys.exit(f"{directory}: transformers loading problems: {bad}")
    img = features(model.get_image_features(pixel_values=pixel_values))
    txt = torch.cat([features(model.get_text_features(input_ids=torch.tensor([s]))) for s in seqs])
    di, dt = max_diff(img, image_ref), max_diff(txt, text_ref)
    log(f"transformers CLIPModel.from_pretrained({directory}){what}: max |image_embeds diff| {di:.3g}, "
        f"max |text_embeds diff| {dt:.3g}")
    if di > tol or dt > tol:
        sys.exit(f"{directory}: embeddings differ from the original model by more than {tol}")
    return di, dt


def dir_size(d):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))


# ----------------------------------------------------------------------------------------------
# (a) OpenAI layout via open_clip


def openai_keys(vision_layers, text_layers):
    """The state-dict keys of OpenAI's clip/model.py CLIP with a ViT vision tower."""
    block = ["ln_1.weight", "ln_1.bias", "attn.in_proj_weight", "attn.in_proj_bias", "attn.out_proj.weight",
             "attn.out_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
             "mlp.c_proj.weight", "mlp.c_proj.bias"]
    keys = ["positional_embedding", "text_projection", "logit_scale", "visual.class_embedding",
            "visual.positional_embedding", "visual.proj", "visual.conv1.weight", "visual.ln_pre.weight",
            "visual.ln_pre.bias", "visual.ln_post.weight", "visual.ln_post.bias", "token_embedding.weight",
            "ln_final.weight", "ln_final.bias"]
    keys += [f"visual.transformer.resblocks.{i}.{b}" for i in range(vision_layers) for b in block]
    keys += [f"transformer.resblocks.{i}.{b}" for i in range(text_layers) for b in block]
    return set(keys)


def build_open_clip(seed):
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

    torch.manual_seed(seed)
    model = CLIP(embed_dim=16,
                 vision_cfg=CLIPVisionCfg(layers=2, width=32, patch_size=16, image_size=64, head_width=8),
                 text_cfg=CLIPTextCfg(context_length=77, vocab_size=VOCAB, width=32, heads=4, layers=2),
                 quick_gelu=True).eval()
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "logit_scale":
                p.fill_(math.log(100.0))  # the trained OpenAI value
            elif ".ln_" in name or name.startswith(("ln_", "visual.ln_")):
                p.add_(torch.randn(p.shape, generator=gen) * 0.1)  # LayerNorms: 1 ± 0.1, biases ± 0.1
            else:
                p.add_(torch.randn(p.shape, generator=gen) * 0.05)  # incl. zero-initialised attention biases
    return model


def make_openai(args, work):
    import open_clip
    from open_clip.model import convert_weights_to_lp

    log(f"(a) open_clip {open_clip.__version__}: random CLIP with OpenAI's ViT architecture")
    model = build_open_clip(seed=2024)
    state = model.state_dict()
    expected = openai_keys(2, 2)
    if set(state) != expected:
        sys.exit(f"open_clip key names differ from OpenAI's: extra {sorted(set(state) - expected)}, "
                 f"missing {sorted(expected - set(state))}")
    log(f"open_clip state dict uses exactly OpenAI's {len(state)} key names")

    plain = os.path.join(work, "tiny-openai-state-dict.pt")
    torch.save(state, plain)
    # OpenAI's ViT-B-32.pt is a traced TorchScript module whose state_dict() also holds
    # input_resolution / context_length / vocab_size; open_clip's (non-persistent) attn_mask buffer
    # shows up in a TorchScript state_dict too.
    scripted = copy.deepcopy(model)
    for name, value in (("input_resolution", 64), ("context_length", 77), ("vocab_size", VOCAB)):
        if hasattr(scripted, name):
            delattr(scripted, name)  # open_clip keeps context_length / vocab_size as plain ints
        scripted.register_buffer(name, torch.tensor(value))
    img = torch.zeros(2, 3, 64, 64)
    txt = torch.zeros(2, 77, dtype=torch.long)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace_module(scripted, dict(forward=(img, txt), encode_image=(img,), encode_text=(txt,)),
                                        check_trace=False)
    archive = os.path.join(work, "tiny-openai-torchscript.pt")
    traced.save(archive)
    extra = sorted(set(traced.state_dict()) - expected)
    log(f"wrote {plain} ({os.path.getsize(plain):,} B) and TorchScript {archive} ({os.path.getsize(archive):,} B; "
        f"non-weight entries in its state_dict: {extra})")
    # Mixed F16/F32 state dict like OpenAI's released checkpoints (clip.model.convert_weights).
    lp = copy.deepcopy(model)
    convert_weights_to_lp(lp, torch.float16)
    mixed = os.path.join(work, "tiny-openai-mixed-f16.pt")
    torch.save(lp.state_dict(), mixed)

    pixel_values, seqs = make_inputs(seed=2026, image_size=64)
    with torch.no_grad():
        image_embeds = model.encode_image(pixel_values)
        padded = torch.zeros(len(seqs), 77, dtype=torch.long)  # open_clip.tokenize pads with 0
        for i, s in enumerate(seqs):
            padded[i, :len(s)] = torch.tensor(s)
        text_embeds = model.encode_text(padded)
        d = max(max_diff(traced.encode_image(pixel_values), image_embeds), max_diff(traced.encode_text(padded), text_embeds))
        log(f"TorchScript archive vs original model: max diff {d:.3g}")

    out = os.path.join(args.out_dir, "converted-openai")
    if os.path.isdir(out):
        shutil.rmtree(out)
    heads = ["--vision-heads", 4, "--text-heads", 4]  # width 32: OpenAI's width // 64 would give 0
    run_convert("openai", archive, "--out", out, *heads)
    from_plain = os.path.join(work, "converted-openai-from-state-dict")
    run_convert("openai", plain, "--out", from_plain, *heads)
    a, b = load_st(os.path.join(out, "model.safetensors")), load_st(os.path.join(from_plain, "model.safetensors"))
    if a.keys() != b.keys() or any(not torch.equal(a[k], b[k]) for k in a):
        sys.exit("TorchScript and state-dict conversions differ")
    for name in ("config.json", "preprocessor_config.json"):
        with open(os.path.join(out, name)) as f1, open(os.path.join(from_plain, name)) as f2:
            if f1.read() != f2.read():
                sys.exit(f"TorchScript and state-dict conversions wrote different {name}")
    log(f"TorchScript and state-dict conversions: identical ({len(a)} tensors, same config.json)")

    # Independent check of the mapping on a few keys.
    c = 32
    checks = {
        "vision_model.encoder.layers.1.self_attn.k_proj.weight": state["visual.transformer.resblocks.1.attn.in_proj_weight"][c:2 * c],
        "text_model.encoder.layers.0.self_attn.v_proj.bias": state["transformer.resblocks.0.attn.in_proj_bias"][2 * c:],
        "visual_projection.weight": state["visual.proj"].t(),
        "text_projection.weight": state["text_projection"].t(),
        "vision_model.embeddings.position_embedding.weight": state["visual.positional_embedding"],
        "logit_scale": state["logit_scale"],
    }
    for k, v in checks.items():
        if not torch.equal(a[k], v):
            sys.exit(f"{k} is not the expected slice/transpose of the OpenAI tensor")

    # --dtype f16, from the F32 state dict and from the mixed F16/F32 one.
    half_plain = os.path.join(work, "converted-openai-f16")
    run_convert("openai", plain, "--out", half_plain, "--dtype", "f16", *heads)
    h = load_st(os.path.join(half_plain, "model.safetensors"))
    if any(h[k].dtype != torch.float16 or not torch.equal(h[k], a[k].half()) for k in a):
        sys.exit("--dtype f16 output is not the F32 conversion rounded to F16")
    half_mixed = os.path.join(work, "converted-openai-mixed-f16")
    run_convert("openai", mixed, "--out", half_mixed, "--dtype", "f16", *heads)
    hm = load_st(os.path.join(half_mixed, "model.safetensors"))
    if any(not torch.equal(hm[k], h[k]) for k in h):
        sys.exit("conversion of the mixed F16/F32 checkpoint differs")
    log(f"--dtype f16: every tensor = F32 conversion rounded to F16 (also from a mixed F16/F32 checkpoint); "
        f"{os.path.getsize(os.path.join(half_plain, 'model.safetensors')):,} B vs "
        f"{os.path.getsize(os.path.join(out, 'model.safetensors')):,} B")

    write_fixture_extras(out, pixel_values, image_embeds, text_embeds, seqs)
    di, dt = check_hf_dir(out, pixel_values, seqs, image_embeds, text_embeds)
    dh = check_hf_dir(half_plain, pixel_values, seqs, image_embeds, text_embeds, tol=5e-2, what=" [f16 weights]")
    return {"openai_image": di, "openai_text": dt, "openai_f16": max(dh)}, out


# ----------------------------------------------------------------------------------------------
# (b) Xenova-style ONNX export of a transformers CLIPModel


def tiny_config():
    from transformers import CLIPConfig

    text = dict(vocab_size=VOCAB, hidden_size=24, intermediate_size=48, num_hidden_layers=2, num_attention_heads=3,
                max_position_embeddings=77, hidden_act="quick_gelu", layer_norm_eps=1e-5, bos_token_id=0,
                eos_token_id=2, pad_token_id=1, projection_dim=16)
    vision = dict(image_size=64, patch_size=16, num_channels=3, hidden_size=32, intermediate_size=64,
                  num_hidden_layers=2, num_attention_heads=4, hidden_act="quick_gelu", layer_norm_eps=1e-5,
                  projection_dim=16)
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=16, logit_scale_init_value=2.6592)


def build_hf(seed, perturb=True):
    from transformers import CLIPModel

    torch.manual_seed(seed)
    config = tiny_config()
    config._attn_implementation = "eager"
    model = CLIPModel(config).eval()
    if perturb:
        gen = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name == "logit_scale":
                    p.fill_(math.log(100.0))
                else:
                    std = 0.1 if any(s in name for s in ("layer_norm", "layernorm", "layrnorm")) else 0.05
                    p.add_(torch.randn(p.shape, generator=gen) * std)
    return model


def export_xenova(model, repo, opset, dynamo=False):
    """repo/config.json, repo/preprocessor_config.json, repo/onnx/{vision,text}_model.onnx."""
    from transformers import CLIPTextModelWithProjection, CLIPVisionModelWithProjection

    os.makedirs(os.path.join(repo, "onnx"), exist_ok=True)
    model.config.save_pretrained(repo)
    with open(os.path.join(repo, "preprocessor_config.json"), "w") as f:
        s = model.config.vision_config.image_size
        json.dump({"crop_size": {"height": s, "width": s}, "do_center_crop": True, "do_convert_rgb": True,
                   "do_normalize": True, "do_rescale": True, "do_resize": True,
                   "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_processor_type": "CLIPImageProcessor",
                   "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3,
                   "rescale_factor": 1 / 255, "size": {"shortest_edge": s}}, f, indent=2)
    sd = model.state_dict()
    vision = CLIPVisionModelWithProjection(model.config.vision_config).eval()
    vision.load_state_dict({k: v for k, v in sd.items() if k.startswith(("vision_model.", "visual_projection."))})
    text = CLIPTextModelWithProjection(model.config.text_config).eval()
    text.load_state_dict({k: v for k, v in sd.items() if k.startswith(("text_model.", "text_projection."))})
    for m in (vision, text):
        m.config._attn_implementation = "eager"
    s = model.config.vision_config.image_size
    if dynamo:  # the torch.export-based exporter (torch.onnx.export's default since torch 2.9)
        from torch.export import Dim

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(vision, (torch.randn(2, 3, s, s),), os.path.join(repo, "onnx", "vision_model.onnx"),
                              input_names=["pixel_values"], dynamic_shapes={"pixel_values": {0: Dim("batch")}},
                              opset_version=max(opset, 18), dynamo=True, verbose=False)
            torch.onnx.export(text, (torch.tensor([[SOT, 5, 6, EOT], [SOT, 7, 8, EOT]]),),
                              os.path.join(repo, "onnx", "text_model.onnx"), input_names=["input_ids"],
                              dynamic_shapes={"input_ids": {0: Dim("batch"), 1: Dim("sequence")}},
                              opset_version=max(opset, 18), dynamo=True, verbose=False)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # dynamo=False: the TorchScript-based exporter Optimum used for the Xenova repos
        # (parameter-named initializers, transposed MatMul weights as onnx::MatMul_N).
        torch.onnx.export(vision, (torch.randn(2, 3, s, s),), os.path.join(repo, "onnx", "vision_model.onnx"),
                          input_names=["pixel_values"], output_names=["image_embeds", "last_hidden_state"],
                          dynamic_axes={"pixel_values": {0: "batch_size"}, "image_embeds": {0: "batch_size"},
                                        "last_hidden_state": {0: "batch_size"}},
                          opset_version=opset, dynamo=False)
        ids = torch.tensor([[SOT, 5, 6, EOT], [SOT, 7, EOT, 1]])
        mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
        torch.onnx.export(text, (ids, mask), os.path.join(repo, "onnx", "text_model.onnx"),
                          input_names=["input_ids", "attention_mask"], output_names=["text_embeds", "last_hidden_state"],
                          dynamic_axes={"input_ids": {0: "batch_size", 1: "sequence_length"},
                                        "attention_mask": {0: "batch_size", 1: "sequence_length"},
                                        "text_embeds": {0: "batch_size"},
                                        "last_hidden_state": {0: "batch_size", 1: "sequence_length"}},
                          opset_version=opset, dynamo=False)


def describe_onnx(path):
    import onnx

    g = onnx.load(path).graph
    inits = [i.name for i in g.initializer]
    generated = [n for n in inits if not n.startswith(("vision_model.", "text_model.", "visual_projection", "text_projection"))]
    idents = sum(1 for n in g.node if n.op_type == "Identity")
    return f"{len(g.node)} nodes, {len(inits)} initializers ({len(generated)} generated names, e.g. {generated[:1]}), {idents} Identity"


def check_exact(directory, state, what):
    conv = load_st(os.path.join(directory, "model.safetensors"))
    if conv.keys() != state.keys():
        sys.exit(f"{what}: key sets differ: {sorted(conv.keys() ^ state.keys())}")
    bad = [k for k in state if conv[k].dtype != torch.float32 or not torch.equal(conv[k], state[k])]
    if bad:
        sys.exit(f"{what}: {len(bad)} tensors differ from the original, e.g. {bad[0]}")
    log(f"{what}: all {len(state)} tensors equal the original state dict exactly")


def make_onnx(args, work):
    import onnx
    import onnxruntime as ort

    log(f"(b) transformers CLIPModel -> ONNX (onnx {onnx.__version__}, onnxruntime {ort.__version__}, opset {args.opset})")
    model = build_hf(seed=4242)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    repo = os.path.join(work, "xenova-tiny-clip")
    if os.path.isdir(repo):
        shutil.rmtree(repo)
    export_xenova(model, repo, args.opset)
    for name in ("vision_model.onnx", "text_model.onnx"):
        p = os.path.join(repo, "onnx", name)
        log(f"{p}: {os.path.getsize(p):,} B, {describe_onnx(p)}")

    pixel_values, seqs = make_inputs(seed=4244, image_size=64)
    with torch.no_grad():
        image_embeds = features(model.get_image_features(pixel_values=pixel_values))
        text_embeds = torch.cat([features(model.get_text_features(input_ids=torch.tensor([s]))) for s in seqs])

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    vs = ort.InferenceSession(os.path.join(repo, "onnx", "vision_model.onnx"), opts, providers=["CPUExecutionProvider"])
    ts = ort.InferenceSession(os.path.join(repo, "onnx", "text_model.onnx"), opts, providers=["CPUExecutionProvider"])
    ort_img = vs.run(["image_embeds"], {"pixel_values": pixel_values.numpy()})[0]
    ort_txt = np.concatenate([ts.run(["text_embeds"], {"input_ids": np.array([s], dtype=np.int64),
                                                       "attention_mask": np.ones((1, len(s)), dtype=np.int64)})[0]
                              for s in seqs])
    lmax = max(len(s) for s in seqs)  # and once as a right-padded batch with attention_mask
    ids = np.array([s + [1] * (lmax - len(s)) for s in seqs], dtype=np.int64)
    mask = np.array([[1] * len(s) + [0] * (lmax - len(s)) for s in seqs], dtype=np.int64)
    ort_txt_padded = ts.run(["text_embeds"], {"input_ids": ids, "attention_mask": mask})[0]
    ort_diffs = (max_diff(ort_img, image_embeds), max_diff(ort_txt, text_embeds), max_diff(ort_txt_padded, text_embeds))
    log(f"onnxruntime vs original: image_embeds {ort_diffs[0]:.3g}, text_embeds {ort_diffs[1]:.3g} "
        f"(padded batch: {ort_diffs[2]:.3g})")
    if max(ort_diffs) > TOL:
        sys.exit("onnxruntime outputs differ from the original model")

    out = os.path.join(args.out_dir, "converted-onnx")
    if os.path.isdir(out):
        shutil.rmtree(out)
    scale = float(state["logit_scale"])  # exact float32 value, printed with repr so it round-trips
    run_convert("onnx", repo, "--out", out, "--logit-scale", repr(scale))
    check_exact(out, state, "converted-onnx")

    # Without --logit-scale: config's logit_scale_init_value, with a warning.
    fallback = os.path.join(work, "converted-onnx-config-scale")
    run_convert("onnx", repo, "--out", fallback, expect_warning="logit_scale_init_value")
    fs = load_st(os.path.join(fallback, "model.safetensors"))["logit_scale"]
    if not torch.equal(fs, torch.tensor(2.6592, dtype=torch.float32)):
        sys.exit(f"config fallback logit_scale is {fs}")
    log("without --logit-scale: logit_scale = float32(config logit_scale_init_value) = 2.6592, warning printed")

    # Robustness: node names stripped (forces the bias / unique-shape fallbacks).
    anon = os.path.join(work, "xenova-tiny-clip-anonymous")
    shutil.copytree(repo, anon, dirs_exist_ok=True)
    for name in ("vision_model.onnx", "text_model.onnx"):
        m = onnx.load(os.path.join(anon, "onnx", name))
        for i, node in enumerate(m.graph.node):
            node.name = f"n{i}"
        onnx.save(m, os.path.join(anon, "onnx", name))
    anon_out = os.path.join(work, "converted-onnx-anonymous")
    run_convert("onnx", anon, "--out", anon_out, "--logit-scale", repr(scale))
    check_exact(anon_out, state, "ONNX without node names")

    # Robustness: unperturbed HF init (equal LayerNorm/bias tensors get deduplicated into Identity nodes).
    plain_model = build_hf(seed=77, perturb=False)
    plain_repo = os.path.join(work, "xenova-tiny-clip-init")
    if os.path.isdir(plain_repo):
        shutil.rmtree(plain_repo)
    export_xenova(plain_model, plain_repo, args.opset)
    log(f"HF-init export: vision {describe_onnx(os.path.join(plain_repo, 'onnx', 'vision_model.onnx'))}")
    plain_out = os.path.join(work, "converted-onnx-init")
    run_convert("onnx", plain_repo, "--out", plain_out, expect_warning="logit_scale_init_value")
    check_exact(plain_out, {k: v.clone() for k, v in plain_model.state_dict().items()}, "ONNX with deduplicated initializers")

    # Robustness: the torch.export-based exporter (needs onnxscript): no scope names, Transpose nodes,
    # and the vision position embedding constant-folded into a [1, T, C] initializer.
    try:
        import onnxscript  # noqa: F401
    except ImportError:
        log("onnxscript not installed: skipping the dynamo=True export check (pip install onnxscript)")
    else:
        dyn_repo = os.path.join(work, "xenova-tiny-clip-dynamo")
        if os.path.isdir(dyn_repo):
            shutil.rmtree(dyn_repo)
        export_xenova(model, dyn_repo, args.opset, dynamo=True)
        log(f"dynamo export: vision {describe_onnx(os.path.join(dyn_repo, 'onnx', 'vision_model.onnx'))}")
        dyn_out = os.path.join(work, "converted-onnx-dynamo")
        run_convert("onnx", dyn_repo, "--out", dyn_out, "--logit-scale", repr(scale))
        check_exact(dyn_out, state, "ONNX from the dynamo exporter")

    write_fixture_extras(out, pixel_values, image_embeds, text_embeds, seqs)
    di, dt = check_hf_dir(out, pixel_values, seqs, image_embeds, text_embeds)
    return {"onnx_image": di, "onnx_text": dt, "ort_image": ort_diffs[0], "ort_text": ort_diffs[1],
            "ort_text_padded": ort_diffs[2]}, out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out-dir", default=os.path.join(os.path.dirname(HERE), "Tests", "Fixtures"),
                    help="fixture root; writes converted-openai/ and converted-onnx/ (default: %(default)s)")
    ap.add_argument("--work", default="/tmp/clip-conversion-fixtures", help="scratch dir for checkpoints/ONNX files")
    ap.add_argument("--only", choices=["openai", "onnx"], help="build just one of the two fixtures")
    ap.add_argument("--opset", type=int, default=14, help="ONNX opset (default: %(default)s, as Optimum used)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.work, exist_ok=True)
    if not os.path.isfile(CONVERT):
        sys.exit(f"{CONVERT} not found")

    results, dirs = {}, []
    if args.only in (None, "openai"):
        r, d = make_openai(args, args.work)
        results.update(r)
        dirs.append(d)
    if args.only in (None, "onnx"):
        r, d = make_onnx(args, args.work)
        results.update(r)
        dirs.append(d)
    print("\nsummary")
    for d in dirs:
        size = dir_size(d)
        files = ", ".join(f"{f} {os.path.getsize(os.path.join(d, f)):,}" for f in sorted(os.listdir(d)))
        print(f"  {d}: {size:,} B ({files})")
        if size >= 600_000:
            sys.exit(f"{d} is {size:,} B, over the 600 KB budget")
    for k, v in results.items():
        print(f"  max diff {k}: {v:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
