#!/usr/bin/env python3
"""Build a random CLIP with the exact openai/clip-vit-base-patch32 architecture, save it as an HF dir, and write reference embeddings."""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cliptools import (features, load_safetensors, pad, random_inputs, require, save_reference,  # noqa: E402
                       stopwatch, token_ids, write_inputs)

require("torch", "safetensors.torch", "transformers", "open_clip")
import torch  # noqa: E402
from transformers import CLIPConfig, CLIPModel  # noqa: E402

PROMPTS = [
    "a photo of a cat",
    "a photo of a dog",
    "a diagram",
    "an astronaut riding a horse on the moon, digital art",
    "two red apples on a wooden table next to a glass of milk",
    "A Black-and-White PHOTOGRAPH of New York City's skyline (1950s)!",
    "emoji 🙂 & punctuation: don't, can't, it's -- ok?",
    "x",
]

PAD = 1

DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}


def vitb32_config():
    text = dict(vocab_size=49408, hidden_size=512, num_attention_heads=8, num_hidden_layers=12,
                intermediate_size=2048, max_position_embeddings=77, hidden_act="quick_gelu",
                layer_norm_eps=1e-5, bos_token_id=0, eos_token_id=2, pad_token_id=PAD,
                projection_dim=512)
    vision = dict(image_size=224, patch_size=32, num_channels=3, hidden_size=768, num_attention_heads=12,
                  num_hidden_layers=12, intermediate_size=3072, hidden_act="quick_gelu",
                  layer_norm_eps=1e-5, projection_dim=512)
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=512,
                      logit_scale_init_value=2.6592)


def tokenize(prompts):
    from open_clip.tokenizer import SimpleTokenizer
    tok = SimpleTokenizer()
    return [token_ids(tok, p) for p in prompts]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True, help="output directory (HF model dir)")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="f32", help="dtype of the stored weights")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--images", type=int, default=4, help="number of random images in the reference")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    log = stopwatch(width=6)

    torch.manual_seed(args.seed)
    config = vitb32_config()
    config._attn_implementation = "eager"
    log("initialising CLIPModel (ViT-B/32 architecture)")
    model = CLIPModel(config).eval()
    n_params = sum(p.numel() for p in model.parameters())
    log(f"{n_params:,} parameters")

    dtype = DTYPES[args.dtype]
    model = model.to(dtype)
    log(f"saving {args.dtype} weights to {args.out}")
    model.save_pretrained(args.out, safe_serialization=True)
    files = sorted(os.listdir(args.out))
    log(f"saved: {files}")

    # Compute the reference in float32 from exactly the stored (rounded) weights.
    model = model.float().eval()
    sd = model.state_dict()
    for k, t in load_safetensors(os.path.join(args.out, "model.safetensors")).items():
        assert torch.equal(t.to(torch.float32), sd[k]), k

    pixel_values, _ = random_inputs(args.seed + 1, args.images, 224)
    seqs = tokenize(PROMPTS)
    ids, mask = pad(seqs, PAD)
    log(f"{len(seqs)} prompts, lengths {[len(s) for s in seqs]}")

    with torch.no_grad():
        log("image features")
        image_embeds = features(model.get_image_features(pixel_values=pixel_values))
        log("text features")
        text_embeds = features(model.get_text_features(input_ids=ids, attention_mask=mask))
        single = features(model.get_text_features(input_ids=torch.tensor([seqs[0]])))
        assert torch.allclose(single[0], text_embeds[0], atol=1e-4), "padding changed text_embeds"
        ie = image_embeds / image_embeds.norm(dim=-1, keepdim=True)
        te = text_embeds / text_embeds.norm(dim=-1, keepdim=True)
        logits_per_image = model.logit_scale.exp() * ie @ te.t()

    ref = {
        "pixel_values": pixel_values,
        "image_embeds": image_embeds,
        "text_embeds": text_embeds,
        "logits_per_image": logits_per_image,
    }
    save_reference(ref, os.path.join(args.out, "reference.safetensors"))
    write_inputs(os.path.join(args.out, "inputs.json"), seqs, prompts=PROMPTS)
    for k, v in ref.items():
        print(f"    {k:18s} {list(v.shape)} absmax={v.abs().max().item():.4f}")
    for f in sorted(os.listdir(args.out)):
        print(f"    {f:24s} {os.path.getsize(os.path.join(args.out, f)):>12,} bytes")
    log("done")


if __name__ == "__main__":
    main()
