#!/usr/bin/env python3
"""Generate tiny random HF CLIP fixtures (weights + config + HF reference activations) for the Swift tests."""

import argparse
import copy
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cliptools import (FIXTURES as DEFAULT_OUT, dir_size, features, load_safetensors, make_readable,  # noqa: E402
                       pad as pad_with, perturb_parameters, random_inputs, require, save_reference, write_inputs)

require("torch", "safetensors.torch", "transformers")
import torch  # noqa: E402
from transformers import CLIPConfig, CLIPModel  # noqa: E402

PAD_ID = 1

SPECS = {
    "tiny-clip-quick": dict(
        seed=1234,
        text=dict(vocab_size=1000, hidden_size=24, num_attention_heads=3, num_hidden_layers=2,
                  intermediate_size=48, max_position_embeddings=77, hidden_act="quick_gelu",
                  layer_norm_eps=1e-5, bos_token_id=0, eos_token_id=2, pad_token_id=PAD_ID),
        vision=dict(image_size=64, patch_size=16, hidden_size=32, num_attention_heads=4,
                    num_hidden_layers=2, intermediate_size=64, hidden_act="quick_gelu",
                    layer_norm_eps=1e-5),
        projection_dim=16,
        logit_scale=2.6592,
        bos=998,          # first token of every sequence
        eos=999,          # last token; the argmax of every sequence (legacy eos_token_id == 2 path)
        lengths=[2, 7, 13, 20],
        n_images=3,
    ),
    "tiny-clip-gelu": dict(
        seed=5678,
        text=dict(vocab_size=1000, hidden_size=32, num_attention_heads=4, num_hidden_layers=1,
                  intermediate_size=64, max_position_embeddings=40, hidden_act="gelu",
                  layer_norm_eps=1e-6, bos_token_id=997, eos_token_id=999, pad_token_id=PAD_ID),
        vision=dict(image_size=48, patch_size=16, hidden_size=32, num_attention_heads=2,
                    num_hidden_layers=3, intermediate_size=80, hidden_act="gelu",
                    layer_norm_eps=1e-6),
        projection_dim=8,
        logit_scale=3.1,
        bos=997,
        eos=999,          # first position where input_ids == eos_token_id (eos_token_id != 2 path)
        lengths=[5, 2, 17, 11],
        n_images=3,
    ),
}


def build_config(spec):
    text = dict(spec["text"], projection_dim=spec["projection_dim"])
    vision = dict(spec["vision"], projection_dim=spec["projection_dim"])
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=spec["projection_dim"],
                      logit_scale_init_value=spec["logit_scale"])


def build_model(spec, noise_std, ln_noise_std):
    """HF init, then add seeded noise to every parameter so nothing is an identity / zero."""
    torch.manual_seed(spec["seed"])
    config = build_config(spec)
    config._attn_implementation = "eager"  # plain math reference
    model = CLIPModel(config)
    model.eval()
    return perturb_parameters(model, spec["seed"] + 1, std=noise_std, ln_std=ln_noise_std,
                              logit_scale=spec["logit_scale"])


def make_inputs(spec):
    return random_inputs(spec["seed"] + 2, spec["n_images"], spec["vision"]["image_size"], spec["lengths"],
                         bos=spec["bos"], eos=spec["eos"], id_range=(3, 997))


def prefixed_inputs(spec):
    """Sequences that share a prompt-template-like prefix (bos + 5 ids): one is only prefix + eos, one repeats
    another. The Swift text tower runs a shared prefix once; these check that path against transformers."""
    gen = torch.Generator().manual_seed(spec["seed"] + 3)
    prefix = [spec["bos"]] + torch.randint(3, 997, (5,), generator=gen).tolist()
    seqs = [prefix + torch.randint(3, 997, (n,), generator=gen).tolist() + [spec["eos"]] for n in (0, 1, 3, 6)]
    return seqs + [seqs[2]]


def pad(seqs):
    return pad_with(seqs, PAD_ID)


def close(a, b, tol=1e-5):
    return torch.allclose(a, b, atol=tol, rtol=tol)


@torch.no_grad()
def full_reference(model, pixel_values, seqs, spec):
    ids, mask = pad(seqs)
    vm, tm = model.vision_model, model.text_model
    ref = {"pixel_values": pixel_values}

    # ---- vision ----
    emb = vm.embeddings(pixel_values)
    vout = vm(pixel_values=pixel_values, output_hidden_states=True)
    hs = vout.hidden_states
    L = spec["vision"]["num_hidden_layers"]
    assert len(hs) == L + 1, len(hs)
    assert close(hs[0], vm.pre_layrnorm(emb)), "vision hidden_states[0] != pre_layrnorm(embeddings)"
    assert torch.equal(hs[-1], vout.last_hidden_state)
    pooled = vout.pooler_output
    assert close(pooled, vm.post_layernorm(vout.last_hidden_state[:, 0]))
    image_embeds = features(model.get_image_features(pixel_values=pixel_values))
    assert close(image_embeds, model.visual_projection(pooled)), "image_embeds != visual_projection(pooled)"
    ref["vision.embeddings"] = emb
    for i, h in enumerate(hs):
        ref[f"vision.hidden_states.{i}"] = h
    ref["vision.pooled"] = pooled
    ref["image_embeds"] = image_embeds

    # ---- text ----
    temb = tm.embeddings(input_ids=ids)
    tout = tm(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    ths = tout.hidden_states
    L = spec["text"]["num_hidden_layers"]
    assert len(ths) == L + 1, len(ths)
    assert close(ths[0], temb), "text hidden_states[0] != embeddings"
    assert close(tout.last_hidden_state, tm.final_layer_norm(ths[-1])), "text last != final_ln(hs[-1])"
    tpooled = tout.pooler_output
    eos_pos = torch.tensor([len(s) - 1 for s in seqs])
    assert close(tpooled, tout.last_hidden_state[torch.arange(len(seqs)), eos_pos]), "pooling position"
    text_embeds = features(model.get_text_features(input_ids=ids, attention_mask=mask))
    assert close(text_embeds, model.text_projection(tpooled)), "text_embeds != text_projection(pooled)"
    # padding must not change the valid positions: compare with unpadded single-sequence runs
    for i, s in enumerate(seqs):
        single = tm(input_ids=torch.tensor([s]), output_hidden_states=False)
        assert close(single.last_hidden_state[0], tout.last_hidden_state[i, : len(s)], 1e-4), f"padding leak seq {i}"
        assert close(single.pooler_output[0], tpooled[i], 1e-4)
    ref["text.embeddings"] = temb
    for i, h in enumerate(ths):
        ref[f"text.hidden_states.{i}"] = h
    ref["text.last_hidden_state"] = tout.last_hidden_state
    ref["text.pooled"] = tpooled
    ref["text_embeds"] = text_embeds
    ref["text.attention_mask"] = mask.to(torch.float32)

    # ---- joint ----
    out = model(input_ids=ids, pixel_values=pixel_values, attention_mask=mask)
    logits = out.logits_per_image
    ie = image_embeds / image_embeds.norm(dim=-1, keepdim=True)
    te = text_embeds / text_embeds.norm(dim=-1, keepdim=True)
    assert close(logits, model.logit_scale.exp() * ie @ te.t(), 1e-4), "logits recompute"
    ref["logits_per_image"] = logits
    ref["logit_scale"] = model.logit_scale.detach().reshape(1)

    # cross-check against the default (sdpa) attention path
    model.config._attn_implementation = "sdpa"
    for sub in (model.config.text_config, model.config.vision_config):
        sub._attn_implementation = "sdpa"
    out2 = model(input_ids=ids, pixel_values=pixel_values, attention_mask=mask)
    print(f"    eager vs sdpa max |dlogits| = {(out2.logits_per_image - logits).abs().max().item():.3e}")
    model.config._attn_implementation = "eager"
    for sub in (model.config.text_config, model.config.vision_config):
        sub._attn_implementation = "eager"
    return ref


@torch.no_grad()
def embeds_reference(model, pixel_values, seqs):
    ids, mask = pad(seqs)
    image_embeds = features(model.get_image_features(pixel_values=pixel_values))
    text_embeds = features(model.get_text_features(input_ids=ids, attention_mask=mask))
    logits = model(input_ids=ids, pixel_values=pixel_values, attention_mask=mask).logits_per_image
    return {"pixel_values": pixel_values, "image_embeds": image_embeds, "text_embeds": text_embeds,
            "logits_per_image": logits}


def check_saved(model_dir, model, dtype):
    """Reload the saved checkpoint and make sure it matches the in-memory weights."""
    sd = {k: v for k, v in model.state_dict().items()}
    saved = load_safetensors(os.path.join(model_dir, "model.safetensors"))
    keys = list(saved)
    for k, t in saved.items():
        assert t.dtype == dtype, (k, t.dtype)
        assert torch.equal(t, sd[k].to(dtype)), k
    missing = set(sd) - set(keys)
    assert not missing, f"not saved: {sorted(missing)}"
    reloaded = CLIPModel.from_pretrained(model_dir, dtype=torch.float32)
    for k, v in reloaded.state_dict().items():
        assert torch.equal(v, sd[k].to(dtype).to(torch.float32)), k
    return keys


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out-dir", default=DEFAULT_OUT, help="parent directory for the fixture directories")
    ap.add_argument("--noise-std", type=float, default=0.05, help="noise added to every non-LN parameter")
    ap.add_argument("--ln-noise-std", type=float, default=0.1, help="noise added to LayerNorm weights/biases")
    ap.add_argument("--only", choices=sorted(SPECS), action="append", help="generate only these fixtures")
    args = ap.parse_args()
    torch.set_num_threads(1)

    names = args.only or list(SPECS)
    for name in names:
        spec = SPECS[name]
        out = os.path.join(args.out_dir, name)
        print(f"== {name} -> {out}")
        if os.path.isdir(out):
            shutil.rmtree(out)
        model = build_model(spec, args.noise_std, args.ln_noise_std)
        pixel_values, seqs = make_inputs(spec)
        model.save_pretrained(out, safe_serialization=True)
        keys = check_saved(out, model, torch.float32)
        ref = full_reference(model, pixel_values, seqs, spec)
        prefixed = prefixed_inputs(spec)
        with torch.no_grad():
            ref["prefixed_text_embeds"] = features(model.get_text_features(*pad(prefixed)))
        save_reference(ref, os.path.join(out, "reference.safetensors"))
        write_inputs(os.path.join(out, "inputs.json"), seqs, extra={"prefixed_input_ids": prefixed})
        make_readable(out)
        print(f"    {len(keys)} weight tensors, seq lengths {[len(s) for s in seqs]}")
        print(f"    logits_per_image =\n{ref['logits_per_image']}")
        print(f"    files: {sorted(os.listdir(out))}, total {dir_size(out)} bytes")

        if name == "tiny-clip-quick":
            out16 = os.path.join(args.out_dir, name + "-f16")
            print(f"== {name}-f16 -> {out16}")
            if os.path.isdir(out16):
                shutil.rmtree(out16)
            m16 = copy.deepcopy(model).half()
            m16.save_pretrained(out16, safe_serialization=True)
            check_saved(out16, m16, torch.float16)
            m32 = m16.float()  # F16-rounded weights, computed in float32
            ref16 = embeds_reference(m32, pixel_values, seqs)
            save_reference(ref16, os.path.join(out16, "reference.safetensors"))
            write_inputs(os.path.join(out16, "inputs.json"), seqs)
            make_readable(out16)
            d = (ref16["logits_per_image"] - ref["logits_per_image"]).abs().max().item()
            print(f"    max |dlogits| f16-rounded vs f32 weights = {d:.3e}")
            print(f"    files: {sorted(os.listdir(out16))}, total {dir_size(out16)} bytes")


if __name__ == "__main__":
    main()
