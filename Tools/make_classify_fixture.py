#!/usr/bin/env python3
"""Writes Tests/Fixtures/classify: a tiny full-vocabulary CLIP, sample images and transformers' zero-shot pipeline scores."""
import argparse
import json
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from cliptools import EOT, FIXTURES, SOT, bpe_merges, features, perturb_parameters, require  # noqa: E402

require("torch", "open_clip", "PIL", "transformers")
import open_clip  # noqa: E402
import torch  # noqa: E402
from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402
from transformers import (CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPProcessor, CLIPTokenizer,  # noqa: E402
                          pipeline)

LABELS = ["red circle", "blue square", "green triangle", "yellow star", "purple square"]


def write_hf_tokenizer(out: pathlib.Path) -> None:
    """vocab.json + merges.txt from open_clip's BPE file, in the layout transformers' CLIPTokenizer reads."""
    tok = open_clip.tokenizer.SimpleTokenizer()
    vocab = {k: v for k, v in tok.encoder.items()}
    vocab.pop("<start_of_text>"), vocab.pop("<end_of_text>")
    vocab["<|startoftext|>"] = SOT
    vocab["<|endoftext|>"] = EOT
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    merges = bpe_merges(open_clip.tokenizer.default_bpe())
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")


def draw(shape: str, colour: str, bg: str, size=(224, 224)) -> Image.Image:
    rgb = {"red": (220, 30, 30), "blue": (30, 60, 220), "green": (30, 170, 60), "yellow": (240, 220, 40),
           "purple": (140, 40, 170), "white": (255, 255, 255), "gray": (128, 128, 128)}
    im = Image.new("RGB", size, rgb[bg])
    d = ImageDraw.Draw(im)
    w, h = size
    box = (w * 0.25, h * 0.25, w * 0.75, h * 0.75)
    if shape == "circle":
        d.ellipse(box, fill=rgb[colour])
    elif shape == "square":
        d.rectangle(box, fill=rgb[colour])
    else:
        d.polygon([(w * 0.5, h * 0.2), (w * 0.8, h * 0.8), (w * 0.2, h * 0.8)], fill=rgb[colour])
    return im


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=str(pathlib.Path(FIXTURES) / "classify"))
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(7)
    torch.set_num_threads(1)
    config = CLIPConfig(
        text_config=dict(vocab_size=49408, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, hidden_act="quick_gelu",
                         bos_token_id=0, eos_token_id=2, pad_token_id=1),
        vision_config=dict(image_size=224, patch_size=32, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=2, hidden_act="quick_gelu"),
        projection_dim=16, logit_scale_init_value=2.6592)
    model = CLIPModel(config).eval()
    perturb_parameters(model, seed=None, std=0.05, ln_std=0.1)  # torch's global generator (seeded above)
    with torch.no_grad():
        # round to F16 so the committed F16 file and the float32 reference hold the same weights
        for p in model.parameters():
            p.copy_(p.half().float())
    model.half().save_pretrained(out, safe_serialization=True)
    model = CLIPModel.from_pretrained(out, dtype=torch.float32).eval()
    tokdir = pathlib.Path(tempfile.mkdtemp())   # the Swift side bundles its own vocabulary: not committed
    write_hf_tokenizer(tokdir)
    for stale in ("vocab.json", "merges.txt"):
        (out / stale).unlink(missing_ok=True)
    CLIPImageProcessorPil().save_pretrained(out)

    images = {
        "red-circle.png": draw("circle", "red", "white"),
        "blue-square-on-gray.png": draw("square", "blue", "gray"),
        "green-triangle-300x200.png": draw("triangle", "green", "white", size=(300, 200)),
    }
    for name, im in images.items():
        im.save(out / name)

    processor = CLIPProcessor(image_processor=CLIPImageProcessorPil(), tokenizer=CLIPTokenizer(str(tokdir / "vocab.json"), str(tokdir / "merges.txt")))
    clf = pipeline("zero-shot-image-classification", model=model, tokenizer=processor.tokenizer,
                   image_processor=processor.image_processor, device="cpu")
    reference = {"labels": LABELS, "images": {}}
    for name in images:
        img = Image.open(out / name)
        entry = {}
        for key, template in [("default", "This is a photo of {}."), ("verbatim", "{}"), ("custom", "a drawing of a {}")]:
            res = clf(img, candidate_labels=LABELS, hypothesis_template=template)
            entry[key] = [{"label": r["label"], "score": r["score"]} for r in res]
        # OpenAI's prompt ensemble, computed directly with the model (the pipeline has no ensemble mode)
        with torch.no_grad():
            pix = processor.image_processor(img, return_tensors="pt")["pixel_values"]
            ie = features(model.get_image_features(pixel_values=pix))
            ie = ie / ie.norm(dim=-1, keepdim=True)
            class_emb = []
            for label in LABELS:
                texts = [t(label) for t in OPENAI_IMAGENET_TEMPLATES]
                ids = processor.tokenizer(texts, padding=True, return_tensors="pt")
                te = features(model.get_text_features(**ids))
                te = te / te.norm(dim=-1, keepdim=True)
                m = te.mean(dim=0)
                class_emb.append(m / m.norm())
            ce = torch.stack(class_emb)
            logits = model.logit_scale.exp() * ie @ ce.T
            probs = logits.softmax(dim=-1)[0]
        order = torch.argsort(probs, descending=True)
        entry["ensemble"] = [{"label": LABELS[i], "score": float(probs[i])} for i in order]
        reference["images"][name] = entry
    (out / "reference.json").write_text(json.dumps(reference, indent=1))
    print("wrote", out, sorted(p.name for p in out.iterdir()))


if __name__ == "__main__":
    main()
