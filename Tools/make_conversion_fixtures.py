#!/usr/bin/env python3
"""Build tiny random OpenAI-layout and Xenova-style ONNX CLIPs, convert them with Tools/convert, verify, and write the converted fixtures."""

# (a) open_clip CLIP with OpenAI's ViT architecture -> plain state dict + TorchScript archive (/tmp)
#     -> Tools/convert openai -> Tests/Fixtures/converted-openai (from the TorchScript archive).
# (b) transformers CLIPModel -> onnx/vision_model.onnx + onnx/text_model.onnx (TorchScript-based
#     torch.onnx.export, as Optimum/Xenova) -> Tools/convert onnx -> Tests/Fixtures/converted-onnx.
# (c) the ONNX towers of (b) quantized with onnxruntime's quantize_dynamic (QUInt8 weights, as Transformers.js'
#     *_quantized.onnx) -> Tools/convert onnx -> Tests/Fixtures/converted-onnx-int8 (the int8 checkpoint format);
#     other quantizations (QInt8, per channel, 7-bit, QDQ, names stripped) are checked in --work only.
# Each fixture dir: config.json, preprocessor_config.json, model.safetensors (converter output),
# inputs.json {"input_ids": [...]} (unpadded), reference.safetensors (F32 pixel_values, image_embeds,
# text_embeds from the ORIGINAL model, unnormalised; for (c) also ort_int8_image_embeds / ort_int8_text_embeds
# from onnxruntime running the quantized graphs). Deterministic; about 60 s on one core.

import argparse
import copy
import json
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cliptools import (FIXTURES, TOOLS, dir_size, features, load_safetensors as load_st, max_diff, pad,  # noqa: E402
                       perturb_parameters, preprocessor_config, random_inputs, require, save_reference, stopwatch,
                       write_inputs)

require("numpy", "torch", "safetensors.torch", "transformers")
import numpy as np  # noqa: E402
import torch  # noqa: E402

CONVERT = os.path.join(TOOLS, "convert")
VOCAB = 1000
SOT, EOT = VOCAB - 2, VOCAB - 1  # EOT is the largest id: OpenAI/open_clip pool at argmax(input_ids)
LENGTHS = [2, 5, 16, 77]  # 77 = full context
TOL = 1e-5
log = stopwatch()


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


def make_inputs(seed, image_size, n_images=2):
    return random_inputs(seed, n_images, image_size, LENGTHS, bos=SOT, eos=EOT, id_range=(1, SOT))


def write_fixture_extras(out, pixel_values, image_embeds, text_embeds, seqs, extra=None):
    ref = {"pixel_values": pixel_values, "image_embeds": image_embeds, "text_embeds": text_embeds, **(extra or {})}
    save_reference(ref, os.path.join(out, "reference.safetensors"))
    write_inputs(os.path.join(out, "inputs.json"), seqs)


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
    # LayerNorms 1 ± 0.1, biases ± 0.1; everything else ± 0.05, incl. zero-initialised attention biases;
    # logit_scale = the trained OpenAI value
    return perturb_parameters(model, seed + 1, std=0.05, ln_std=0.1, logit_scale=math.log(100.0))


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
        padded = pad(seqs, 0, 77)[0]  # open_clip.tokenize pads with 0
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
        perturb_parameters(model, seed + 1, std=0.05, ln_std=0.1, logit_scale=math.log(100.0))
    return model


def export_xenova(model, repo, opset, dynamo=False):
    """repo/config.json, repo/preprocessor_config.json, repo/onnx/{vision,text}_model.onnx."""
    from transformers import CLIPTextModelWithProjection, CLIPVisionModelWithProjection

    os.makedirs(os.path.join(repo, "onnx"), exist_ok=True)
    model.config.save_pretrained(repo)
    with open(os.path.join(repo, "preprocessor_config.json"), "w") as f:
        json.dump(preprocessor_config(model.config.vision_config.image_size), f, indent=2)
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
    ids, mask = pad(seqs, 1)  # and once as a right-padded batch with attention_mask
    ort_txt_padded = ts.run(["text_embeds"], {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
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


# ----------------------------------------------------------------------------------------------
# (c) quantized ONNX (onnxruntime quantize_dynamic, as Transformers.js' *_quantized.onnx) -> int8 format

# This package's int8 checkpoint format (Sources/CLIPZeroShot/Quantizer.swift; QuantizationConfig in Config.swift).
INT8_CONFIG = {"quant_method": "swift-clip-int8", "format_version": 1, "weights": "int8 symmetric per output row",
               "activations": "int8 symmetric per row, dynamic"}
INT8_KEY = re.compile(r"(vision|text)_model\.encoder\.layers\.\d+\.(self_attn\.(q|k|v|out)_proj|mlp\.fc1|mlp\.fc2)\.weight"
                      r"|text_model\.embeddings\.token_embedding\.weight")
HALF_KEYS = {"vision_model.embeddings.patch_embedding.weight", "visual_projection.weight", "text_projection.weight"}
COS_MIN = 0.99  # what ConversionTests requires of the Swift int8 model


def quantize_dynamic_onnx(src, dst, weight_type, per_channel=False, reduce_range=False):
    from onnxruntime.quantization import quantize_dynamic

    quantize_dynamic(src, dst, weight_type=weight_type, per_channel=per_channel, reduce_range=reduce_range)


def quantize_static_onnx(src, dst, feeds, qdq=True):
    """quantize_static in QDQ (else QOperator) format, QInt8 weights, QUInt8 activations, calibrated on `feeds`."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(feeds)

        def get_next(self):
            return next(self.it, None)

    quantize_static(src, dst, Reader(), quant_format=QuantFormat.QDQ if qdq else QuantFormat.QOperator,
                    weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)


def onnx_integer_weights(path):
    """{HF key: (w_q - zero point in the HF layout, int64; scale per row, float32)} of a quantized ONNX graph, found by
    names alone (not Tools/convert's graph tracing): MatMulInteger / ConvInteger nodes by their scope
    (/vision_model/encoder/layers.0/self_attn/q_proj/MatMul_quant) with their X_quantized / X_zero_point / X_scale
    initializers, Gather tables named KEY_quantized, and MatMul weights given by a DequantizeLinear (QDQ)."""
    import onnx
    from onnx import numpy_helper

    g = onnx.load(path).graph
    init = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    out = {}

    def scope_key(node):
        return ".".join(node.name.strip("/").split("/")[:-1]) + ".weight"

    for node in g.node:
        if node.op_type in ("MatMulInteger", "ConvInteger") and node.input[1] in init:
            base = node.input[1][:-len("_quantized")]
            q, zp, scale = init[node.input[1]], init[base + "_zero_point"], init[base + "_scale"]
        elif node.op_type == "Gather" and node.input[0] in init and init[node.input[0]].dtype.kind in "iu":
            base = node.input[0][:-len("_quantized")]
            q, zp, scale = init[node.input[0]], init[base + "_zero_point"], init[base + "_scale"]
        elif node.op_type in ("MatMul", "Gather", "Conv"):  # QDQ: the weight is a DequantizeLinear of initializers
            w = node.input[0 if node.op_type == "Gather" else 1]
            dq = producer.get(w)
            if dq is None or dq.op_type != "DequantizeLinear" or dq.input[0] not in init:
                continue
            q, scale, zp = init[dq.input[0]], init[dq.input[1]], init[dq.input[2]]
            base = dq.input[0][:-len("_quantized")]
        else:
            continue
        k = q.astype(np.int64) - zp.astype(np.int64)  # a per-column zero point broadcasts over [in, out]
        if node.op_type == "Gather":
            key, rows = base, np.broadcast_to(scale, (k.shape[0],))
        elif node.op_type in ("ConvInteger", "Conv"):
            key, rows = scope_key(node), np.broadcast_to(scale, (k.shape[0],))
        else:  # MatMul layout [in, out]: HF rows are the columns
            key, rows = scope_key(node), np.broadcast_to(scale, (k.shape[1],))
            k = k.T
        out[key] = (k, np.array(rows, dtype=np.float32))
    return out


def requantize_rows(w):
    """Per-row symmetric int8 as `clip quantize` (CLIPQuantizer.quantizeRows) does it, in float32."""
    w = np.asarray(w, dtype=np.float32)
    amax = np.abs(w).max(axis=1)
    scale = np.where(amax > 0, amax / np.float32(127), np.float32(1)).astype(np.float32)
    return np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8), scale


def dequantized(k, rows):
    """value = (w_q - zero point) · scale in float32, as onnxruntime's DequantizeLinear computes it."""
    return k.astype(np.float32) * rows.reshape((-1,) + (1,) * (k.ndim - 1))


def convert_notes(stdout):
    """{section: [keys]} from Tools/convert's int8 notes (indented key lists under 'requantized' / 'from float')."""
    notes, section = {}, None
    for line in stdout.splitlines():
        if "requantized per row" in line:
            section = "requantized"
        elif "quantized per row from float" in line:
            section = "from float"
        elif section and line.startswith("    ") and not line.startswith("     "):
            notes.setdefault(section, []).append(line.strip().split(":")[0])
        else:
            section = None
    return notes


def check_int8(directory, onnx_paths, state, source_config, stdout, what, floats_exact=True):
    """Checks a converted int8 dir against the quantized ONNX graphs and the original state dict; returns
    {"exact": [...], "requantized": [...], "from float": [...]}."""
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    if config.get("quantization_config") != INT8_CONFIG:
        sys.exit(f"{what}: quantization_config is {config.get('quantization_config')}")
    if {k: v for k, v in config.items() if k != "quantization_config"} != source_config:
        sys.exit(f"{what}: config.json is not the source config plus quantization_config")
    conv = load_st(os.path.join(directory, "model.safetensors"))
    expected = set(state) | {k + "_scale" for k in state if INT8_KEY.fullmatch(k)}
    if set(conv) != expected:
        sys.exit(f"{what}: key sets differ: {sorted(set(conv) ^ expected)}")
    ints = {}
    for p in onnx_paths:
        ints.update(onnx_integer_weights(p))
    kinds = {"exact": [], "requantized": [], "from float": []}
    worst = 0.0
    for key in sorted(state):
        t, shape = conv[key], tuple(state[key].shape)
        if tuple(t.shape) != shape:
            sys.exit(f"{what}: {key} has shape {list(t.shape)}, expected {list(shape)}")
        if INT8_KEY.fullmatch(key):
            s = conv[key + "_scale"]
            if t.dtype != torch.int8 or s.dtype != torch.float32 or tuple(s.shape) != (shape[0],):
                sys.exit(f"{what}: {key} is {t.dtype} with {key}_scale {s.dtype} {list(s.shape)}")
            if not (torch.isfinite(s).all() and (s != 0).all()):
                sys.exit(f"{what}: {key}_scale has zero or non-finite values")
            q, s = t.numpy(), s.numpy()
            if key in ints:
                k, rows = ints[key]
                if k.min() >= -128 and k.max() <= 127:
                    kind, want_q, want_s = "exact", k.astype(np.int8), rows
                else:
                    kind, (want_q, want_s) = "requantized", requantize_rows(dequantized(k, rows))
            else:
                kind, (want_q, want_s) = "from float", requantize_rows(state[key].numpy())
            if not (np.array_equal(q, want_q) and np.array_equal(s, want_s)):
                sys.exit(f"{what}: {key} ({kind}) differs from the expected int8 values")
            kinds[kind].append(key)
            # Fidelity to the original float weights: within the coarser of ONNX's and our rounding steps.
            err = np.abs(q.astype(np.float32) * s[:, None] - state[key].numpy()).max(axis=1)
            step = np.maximum(s, ints[key][1] if key in ints else s)
            worst = max(worst, float((err / step).max()))
        else:
            want = dequantized(*ints[key]) if key in ints else state[key].numpy()
            dtype = torch.float16 if key in HALF_KEYS else torch.float32
            if t.dtype != dtype:
                sys.exit(f"{what}: {key} is {t.dtype}, expected {dtype}")
            if (floats_exact or key in ints) and not torch.equal(t, torch.from_numpy(np.array(want, order="C")).to(dtype)):
                sys.exit(f"{what}: {key} is not the {'dequantized ONNX weight' if key in ints else 'original tensor'}"
                         + (" rounded to F16" if dtype == torch.float16 else ""))
    notes = convert_notes(stdout)
    for kind in ("requantized", "from float"):
        if sorted(notes.get(kind, [])) != sorted(kinds[kind]):
            sys.exit(f"{what}: Tools/convert's '{kind}' note lists {notes.get(kind, [])}, expected {kinds[kind]}")
    if worst > 1.0 + 1e-3:
        sys.exit(f"{what}: an int8 weight is {worst:.3f} rounding steps from the original float weight")
    log(f"{what}: int8 format OK; {len(kinds['exact'])} I8 weights = w_q - zero point of the ONNX initializers exactly, "
        f"{len(kinds['requantized'])} requantized per row, {len(kinds['from float'])} quantized from float; "
        f"max |int8 - original| {worst:.3f} rounding steps")
    if kinds["requantized"]:
        log(f"  requantized (w_q - zero point outside int8): {', '.join(kinds['requantized'])}")
    return kinds


def ort_embeddings(vision_path, text_path, pixel_values, seqs):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    vs = ort.InferenceSession(vision_path, opts, providers=["CPUExecutionProvider"])
    ts = ort.InferenceSession(text_path, opts, providers=["CPUExecutionProvider"])
    img = vs.run(["image_embeds"], {"pixel_values": pixel_values.numpy()})[0]
    txt = np.concatenate([ts.run(["text_embeds"], {"input_ids": np.array([s], dtype=np.int64),
                                                   "attention_mask": np.ones((1, len(s)), dtype=np.int64)})[0]
                          for s in seqs])
    return torch.from_numpy(img), torch.from_numpy(txt)


def row_cosines(a, b):
    return torch.nn.functional.cosine_similarity(torch.as_tensor(a).double(), torch.as_tensor(b).double(), dim=1)


@torch.no_grad()
def simulate_int8(directory, pixel_values, seqs, levels):
    """The Swift int8 path in torch: weights = q · scale (F16 ones widened), and every encoder-layer linear's input
    quantized per row, symmetric, to ±levels (127; 63 on the AVX2 tier), round half to even."""
    from transformers import CLIPModel

    conv = load_st(os.path.join(directory, "model.safetensors"))
    sd = {k: (v.float() * conv[k + "_scale"][:, None]) if v.dtype == torch.int8 else v.float()
          for k, v in conv.items() if not (k.endswith("_scale") and k[:-len("_scale")] in conv)}
    config = tiny_config()
    config._attn_implementation = "eager"
    model = CLIPModel(config).eval()
    model.load_state_dict(sd)

    def fake_quant(module, args):
        x = args[0]
        amax = x.abs().amax(dim=-1, keepdim=True)
        scale = torch.where(amax > 0, amax / levels, torch.ones_like(amax))
        return (torch.round(x / scale).clamp(-levels, levels) * scale,)

    for name, m in model.named_modules():
        if isinstance(m, torch.nn.Linear) and ".encoder.layers." in name:
            m.register_forward_pre_hook(fake_quant)
    img = features(model.get_image_features(pixel_values=pixel_values))
    txt = torch.cat([features(model.get_text_features(input_ids=torch.tensor([s]))) for s in seqs])
    return img, txt


def check_agreement(directory, pixel_values, seqs, image_ref, text_ref, ort_img, ort_txt, what, vs_ort=True):
    """Cosines of the simulated Swift int8 embeddings against the float model and onnxruntime's int8 graph (required
    ≥ COS_MIN; against onnxruntime only if `vs_ort`)."""
    worst = {}
    for levels in (127, 63):
        img, txt = simulate_int8(directory, pixel_values, seqs, levels)
        for ref_name, (ri, rt) in (("float", (image_ref, text_ref)), ("ORT int8", (ort_img, ort_txt))):
            c = min(row_cosines(img, ri).min().item(), row_cosines(txt, rt).min().item())
            worst[(levels, ref_name)] = c
    ort_float = min(row_cosines(ort_img, image_ref).min().item(), row_cosines(ort_txt, text_ref).min().item())
    log(f"{what}: min cosine, simulated int8 (±127 / ±63 activations) vs float "
        f"{worst[(127, 'float')]:.6f} / {worst[(63, 'float')]:.6f}, vs ORT int8 {worst[(127, 'ORT int8')]:.6f} / "
        f"{worst[(63, 'ORT int8')]:.6f}; ORT int8 vs float {ort_float:.6f}")
    required = [c for (_, ref), c in worst.items() if vs_ort or ref == "float"]
    if min(required) < COS_MIN:
        sys.exit(f"{what}: a cosine is below {COS_MIN}")
    return min(required)


def make_onnx_int8(args, work):
    import onnx
    from onnxruntime.quantization import QuantType

    logging.getLogger().setLevel(logging.ERROR)  # quantize_*: "Please consider to run pre-processing ..."
    log("(c) the ONNX towers of (b) quantized with onnxruntime.quantization.quantize_dynamic -> int8 format")
    model = build_hf(seed=4242)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    repo = os.path.join(work, "xenova-tiny-clip-int8")
    if os.path.isdir(repo):
        shutil.rmtree(repo)
    export_xenova(model, repo, args.opset)
    with open(os.path.join(repo, "config.json")) as f:
        source_config = json.load(f)
    pixel_values, seqs = make_inputs(seed=4244, image_size=64)
    with torch.no_grad():
        image_embeds = features(model.get_image_features(pixel_values=pixel_values))
        text_embeds = torch.cat([features(model.get_text_features(input_ids=torch.tensor([s]))) for s in seqs])
    scale = float(state["logit_scale"])

    def tower(name, variant=""):
        return os.path.join(repo, "onnx", f"{name}_model{'_' + variant if variant else ''}.onnx")

    # variant -> how its files were made. "quantized" (QUInt8 per tensor, Transformers.js' default file name) is the
    # committed fixture; the others are checked here only.
    variants = {
        "quantized": dict(weight_type=QuantType.QUInt8),
        "int8": dict(weight_type=QuantType.QInt8),
        "uint8_pc7": dict(weight_type=QuantType.QUInt8, per_channel=True, reduce_range=True),
        "int8_pc": dict(weight_type=QuantType.QInt8, per_channel=True),
    }
    for variant, options in variants.items():
        for name in ("vision", "text"):
            quantize_dynamic_onnx(tower(name), tower(name, variant), **options)
    p = tower("vision", "quantized")
    ops = sorted({n.op_type for n in onnx.load(p).graph.node} & {"DynamicQuantizeLinear", "MatMulInteger", "ConvInteger",
                                                                 "DequantizeLinear"})
    log(f"{p}: {os.path.getsize(p):,} B ({', '.join(ops)})")

    results, outputs = {}, {}
    for variant, options in variants.items():
        out = os.path.join(args.out_dir, "converted-onnx-int8") if variant == "quantized" else \
            os.path.join(work, f"converted-onnx-variant-{variant}")
        if os.path.isdir(out):
            shutil.rmtree(out)
        r = run_convert("onnx", repo, "--variant", variant, "--out", out, "--logit-scale", repr(scale))
        what = variant + " (" + ", ".join(f"{k}={getattr(v, 'name', v)}" for k, v in options.items()) + ")"
        paths = [tower("vision", variant), tower("text", variant)]
        kinds = check_int8(out, paths, state, source_config, r.stdout, what)
        if variant in ("int8", "int8_pc", "uint8_pc7") and kinds["requantized"] != ["text_model.embeddings.token_embedding.weight"]:
            sys.exit(f"{what}: expected every linear weight stored exactly (symmetric or 7-bit weights)")
        ort_img, ort_txt = ort_embeddings(*paths, pixel_values, seqs)
        results[f"int8_cos_{variant}"] = check_agreement(out, pixel_values, seqs, image_embeds, text_embeds,
                                                         ort_img, ort_txt, what)
        outputs[variant] = (out, ort_img, ort_txt)

    # Node names stripped: the bias behind Cast/Mul and unique shapes must find the same tensors.
    anon = os.path.join(work, "xenova-tiny-clip-int8-anonymous")
    shutil.copytree(repo, anon, dirs_exist_ok=True)
    for name in ("vision", "text"):
        m = onnx.load(tower(name, "quantized"))
        for i, node in enumerate(m.graph.node):
            node.name = f"n{i}"
        onnx.save(m, os.path.join(anon, "onnx", f"{name}_model_quantized.onnx"))
    anon_out = os.path.join(work, "converted-onnx-int8-anonymous")
    run_convert("onnx", anon, "--variant", "quantized", "--out", anon_out, "--logit-scale", repr(scale))
    with open(os.path.join(anon_out, "model.safetensors"), "rb") as f1, \
            open(os.path.join(outputs["quantized"][0], "model.safetensors"), "rb") as f2:
        if f1.read() != f2.read():
            sys.exit("quantized ONNX without node names converts differently")
    log("quantized ONNX without node names: identical model.safetensors")

    # A float vision tower with a quantized text tower: the vision int8 weights are quantized from float.
    mixed = os.path.join(work, "converted-onnx-int8-mixed")
    r = run_convert("onnx", repo, "--vision-onnx", tower("vision"), "--text-onnx", tower("text", "int8"), "--out", mixed,
                    "--logit-scale", repr(scale))
    kinds = check_int8(mixed, [tower("vision"), tower("text", "int8")], state, source_config, r.stdout,
                       "float vision + QInt8 text")
    if not all(k.startswith("vision_model.") for k in kinds["from float"]) or len(kinds["from float"]) != 12:
        sys.exit("float vision + QInt8 text: expected the 12 vision linear weights quantized from float")

    # Static quantization in QDQ format: weights (and biases, LayerNorms) are DequantizeLinear constants.
    feeds = {"vision": [{"pixel_values": pixel_values[:1].numpy()}, {"pixel_values": pixel_values[1:].numpy()}],
             "text": [{"input_ids": np.array([s], dtype=np.int64), "attention_mask": np.ones((1, len(s)), dtype=np.int64)}
                      for s in seqs]}
    for name in ("vision", "text"):
        quantize_static_onnx(tower(name), tower(name, "qdq"), feeds[name])
    qdq = os.path.join(work, "converted-onnx-qdq")
    r = run_convert("onnx", repo, "--variant", "qdq", "--out", qdq, "--logit-scale", repr(scale))
    paths = [tower("vision", "qdq"), tower("text", "qdq")]
    check_int8(qdq, paths, state, source_config, r.stdout, "QDQ (quantize_static)", floats_exact=False)
    ort_img, ort_txt = ort_embeddings(*paths, pixel_values, seqs)
    # (static activation scales from a 2-sample calibration make onnxruntime's own QDQ result the odd one out)
    results["int8_cos_qdq"] = check_agreement(qdq, pixel_values, seqs, image_embeds, text_embeds, ort_img, ort_txt,
                                              "QDQ (quantize_static)", vs_ort=False)

    # Refusals: --dtype f16 with a quantized graph; static QOperator quantization (QLinearMatMul).
    bad = subprocess.run([sys.executable, CONVERT, "onnx", repo, "--variant", "int8", "--dtype", "f16", "--out",
                          os.path.join(work, "refused")], capture_output=True, text=True)
    if bad.returncode == 0 or "int8 format" not in bad.stderr:
        sys.exit(f"--dtype f16 with a quantized graph was not refused: {bad.stderr}")
    quantize_static_onnx(tower("text"), tower("text", "qop"), feeds["text"], qdq=False)
    bad = subprocess.run([sys.executable, CONVERT, "onnx", repo, "--text-onnx", tower("text", "qop"), "--out",
                          os.path.join(work, "refused")], capture_output=True, text=True)
    if bad.returncode == 0 or "QLinearMatMul" not in bad.stderr:
        sys.exit(f"a QOperator (QLinearMatMul) graph was not refused: {bad.stderr}")
    log("refused as expected: --dtype f16 with a quantized graph, and QOperator static quantization ("
        + bad.stderr.split("cannot import a graph with ")[-1].split(" nodes")[0] + ")")

    out, ort_img, ort_txt = outputs["quantized"]
    write_fixture_extras(out, pixel_values, image_embeds, text_embeds, seqs,
                         extra={"ort_int8_image_embeds": ort_img, "ort_int8_text_embeds": ort_txt})
    return results, out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out-dir", default=FIXTURES,
                    help="fixture root; writes converted-openai/, converted-onnx/ and converted-onnx-int8/ (default: %(default)s)")
    ap.add_argument("--work", default="/tmp/clip-conversion-fixtures", help="scratch dir for checkpoints/ONNX files")
    ap.add_argument("--only", choices=["openai", "onnx", "onnx-int8"], help="build just one of the three fixtures")
    ap.add_argument("--opset", type=int, default=14, help="ONNX opset (default: %(default)s, as Optimum used)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.work, exist_ok=True)
    if not os.path.isfile(CONVERT):
        sys.exit(f"{CONVERT} not found")

    require(*(["open_clip"] if args.only in (None, "openai") else []),
            *(["onnx", "onnxruntime"] if args.only in (None, "onnx", "onnx-int8") else []))
    results, dirs = {}, []
    if args.only in (None, "openai"):
        r, d = make_openai(args, args.work)
        results.update(r)
        dirs.append(d)
    if args.only in (None, "onnx"):
        r, d = make_onnx(args, args.work)
        results.update(r)
        dirs.append(d)
    if args.only in (None, "onnx-int8"):
        r, d = make_onnx_int8(args, args.work)
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
        print(f"  min {k}: {v:.6f}" if k.startswith("int8_cos") else f"  max diff {k}: {v:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
