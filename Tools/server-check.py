#!/usr/bin/env python3
"""Check a running `clip serve` with the official `openai` Python client against the `clip` CLI.

Starts nothing and installs nothing: run the server yourself, `pip install openai` first.

    clip serve --weights DIR --port 8080 &
    Tools/server-check.py --base-url http://127.0.0.1:8080/v1 --clip .build/release/clip --weights DIR \
        --image Tests/Fixtures/images/photo_grace_hopper.jpg [--wait 30]

Checks (each prints PASS/FAIL; the last line is "N passed, M failed"; exit code 1 on any failure):
  * client.embeddings.create for texts (the client's default base64 encoding, decoded by the client, and
    encoding_format="float") and for an image sent as a base64 data URL, each within --tolerance (1e-5) of
    `clip embed-text --json` / `clip embed-image --json` (normalised by default); response shape and usage;
  * client.models.list; GET /health; POST /v1/classify against `clip classify --json`; with --index, POST
    /v1/search (text and image) against `clip search query --json`;
  * error paths in OpenAI's shape: bad JSON -> 400, unsupported image -> 415, body over --max-body-mb -> 413,
    remote image URL refused -> 400, unknown route -> 404, wrong method -> 405.
"""

import argparse
import base64
import json
import math
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cliptools import max_diff  # noqa: E402  (standard library only)

RESULTS = []


def check(name, fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the run
        RESULTS.append(False)
        print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
    else:
        RESULTS.append(True)
        print(f"PASS {name}", flush=True)


def expect(cond, message):
    if not cond:
        raise AssertionError(message)


def run_cli(args, cmd):
    full = [args.clip] + cmd[:1] + ["--weights", args.weights] + cmd[1:]
    out = subprocess.run(full, check=True, capture_output=True, text=True, timeout=600)
    return json.loads(out.stdout)


def raw_request(base, method, path, body=None, headers=None):
    """(status, parsed JSON or None) for a raw HTTP request to the server root."""
    url = base + path
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            data = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        data = e.read()
        status = e.code
    try:
        return status, json.loads(data) if data else None
    except ValueError:
        return status, None


def expect_openai_error(status, body, want_status, what):
    expect(status == want_status, f"{what}: HTTP {status}, expected {want_status}; body {body}")
    expect(isinstance(body, dict) and isinstance(body.get("error"), dict), f"{what}: no error object: {body}")
    err = body["error"]
    expect(set(err) >= {"message", "type", "param", "code"}, f"{what}: error keys {sorted(err)}")
    expect(isinstance(err["message"], str) and err["message"], f"{what}: empty message")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", required=True, help="the server's OpenAI base URL, e.g. http://127.0.0.1:8080/v1")
    ap.add_argument("--clip", required=True, help="path to the clip binary (for reference embeddings)")
    ap.add_argument("--weights", required=True, help="the weights directory the server was started with")
    ap.add_argument("--image", required=True, help="an image file (JPEG/PNG/...) to embed and classify")
    ap.add_argument("--model", default=None, help="model id to send (default: the first of /v1/models)")
    ap.add_argument("--max-body-mb", type=float, default=20, help="the server's --max-body-mb (default 20)")
    ap.add_argument("--tolerance", type=float, default=1e-5)
    ap.add_argument("--index", help="the server's --index: compare POST /v1/search with clip search query")
    ap.add_argument("--wait", type=float, default=0,
                    help="first wait up to this many seconds for GET /health to answer (a server still starting)")
    args = ap.parse_args()

    try:
        import openai
    except ImportError:
        print("FAIL import openai: the official client is not installed (pip install openai)")
        print("0 passed, 1 failed")
        return 1

    base_url = args.base_url.rstrip("/")
    if not base_url.endswith("/v1"):
        base_url += "/v1"
    root = base_url[: -len("/v1")]
    deadline = time.monotonic() + args.wait
    while True:
        try:
            with urllib.request.urlopen(root + "/health", timeout=5) as r:
                if r.status == 200:
                    break
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() >= deadline:
            break  # the health check below reports it
        time.sleep(0.2)

    client = openai.OpenAI(base_url=base_url, api_key="not-needed", max_retries=0, timeout=300)
    state = {"model": args.model}

    def models():
        listed = client.models.list()
        ids = [m.id for m in listed.data]
        expect(len(ids) >= 1, f"no models: {listed}")
        if state["model"] is None:
            state["model"] = ids[0]
        expect(state["model"] in ids, f"{state['model']} not in {ids}")

    check("GET /v1/models via client.models.list", models)
    model = state["model"] or "clip"

    def health():
        status, body = raw_request(root, "GET", "/health")
        expect(status == 200 and body and body.get("status") == "ok", f"HTTP {status} {body}")

    check("GET /health", health)

    texts = ["a red circle", "a photo of a dog", "two green triangles on a black background"]
    refs = {}

    def reference_text():
        refs["text"] = run_cli(args, ["embed-text", "--json"] + texts)["embeddings"]

    check("reference: clip embed-text --json", reference_text)
    ref_text = refs.get("text") or [[float("nan")]] * len(texts)

    def text_default():
        r = client.embeddings.create(model=model, input=texts)  # the client asks for base64 and decodes it
        expect(r.object == "list", f"object {r.object}")
        expect([d.index for d in r.data] == list(range(len(texts))), "indices")
        got = [list(d.embedding) for d in r.data]
        diff = max_diff(got, ref_text)
        expect(diff <= args.tolerance, f"max |server - cli| = {diff}")
        for row in got:
            norm = math.sqrt(sum(x * x for x in row))
            expect(abs(norm - 1) < 1e-4, f"norm {norm}")
        expect(r.usage.prompt_tokens > 0 and r.usage.total_tokens == r.usage.prompt_tokens, f"usage {r.usage}")
        expect(r.model == model, f"model {r.model}")

    check("text embeddings, client default (base64) vs clip embed-text", text_default)

    def text_float():
        r = client.embeddings.create(model=model, input=texts, encoding_format="float")
        diff = max_diff([list(d.embedding) for d in r.data], ref_text)
        expect(diff <= args.tolerance, f"max |server - cli| = {diff}")

    check("text embeddings, encoding_format=float vs clip embed-text", text_float)

    def text_single():
        r = client.embeddings.create(model=model, input=texts[0])
        diff = max_diff([list(r.data[0].embedding)], ref_text[:1])
        expect(len(r.data) == 1 and diff <= args.tolerance, f"max diff {diff}")

    check("single string input", text_single)

    ext = os.path.splitext(args.image)[1].lower().lstrip(".")
    mime = {"jpg": "jpeg", "jpeg": "jpeg", "png": "png", "gif": "gif", "bmp": "bmp"}.get(ext, "png")

    def reference_image():
        with open(args.image, "rb") as f:
            refs["data_url"] = f"data:image/{mime};base64," + base64.b64encode(f.read()).decode()
        refs["image"] = run_cli(args, ["embed-image", "--json", args.image])["embeddings"]

    check("reference: clip embed-image --json", reference_image)
    data_url = refs.get("data_url", "data:image/png;base64,")
    ref_image = refs.get("image") or [[float("nan")]]

    def image_b64():
        r = client.embeddings.create(model=model, input=[{"image": data_url}])
        diff = max_diff([list(r.data[0].embedding)], ref_image)
        expect(diff <= args.tolerance, f"max |server - cli| = {diff}")

    check("image embedding (data URL), client default (base64) vs clip embed-image", image_b64)

    def image_float():
        r = client.embeddings.create(model=model, input=[{"image": data_url}, {"text": texts[1]}],
                                     encoding_format="float")
        got = [list(d.embedding) for d in r.data]
        diff = max_diff(got, [ref_image[0], ref_text[1]])
        expect(diff <= args.tolerance, f"max |server - cli| = {diff}")

    check("mixed image + text input, encoding_format=float", image_float)

    labels = ["red circle", "blue square", "green triangle", "a photo of a person"]

    def classify():
        ref = run_cli(args, ["classify", args.image, "--json", "--labels"] + labels)[0]["results"]
        status, body = raw_request(root, "POST", "/v1/classify",
                                   json.dumps({"model": model, "image": data_url, "labels": labels}).encode(),
                                   {"Content-Type": "application/json"})
        expect(status == 200, f"HTTP {status} {body}")
        got = body["data"]
        expect([g["label"] for g in got] == [r["label"] for r in ref], f"order {got} vs {ref}")
        diff = max(abs(g["score"] - r["score"]) for g, r in zip(got, ref))
        expect(diff <= args.tolerance, f"max score diff {diff}")

    check("POST /v1/classify vs clip classify --json", classify)

    if args.index:
        def search(body, cli_query):
            cmd = [args.clip, "search", "query"] + cli_query + ["--index", args.index, "--weights", args.weights,
                                                                 "--top", "5", "--json"]
            ref = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600).stdout)
            status, got = raw_request(root, "POST", "/v1/search", json.dumps(dict(body, top_k=5)).encode(),
                                      {"Content-Type": "application/json"})
            expect(status == 200, f"HTTP {status} {got}")
            got = got["data"]
            expect([g["path"] for g in got] == [r["path"] for r in ref], f"paths {got} vs {ref}")
            diff = max(abs(g["score"] - r["score"]) for g, r in zip(got, ref))
            expect(diff <= args.tolerance, f"max score diff {diff}")

        check("POST /v1/search (text) vs clip search query --json",
              lambda: search({"query": "a red circle"}, ["a red circle"]))
        check("POST /v1/search (image) vs clip search query --image --json",
              lambda: search({"image": data_url}, ["--image", args.image]))

    def bad_json():
        status, body = raw_request(root, "POST", "/v1/embeddings", b'{"input": ["unterminated"',
                                   {"Content-Type": "application/json"})
        expect_openai_error(status, body, 400, "bad JSON")

    check("bad JSON -> 400", bad_json)

    def unsupported_image():
        avif = b"\x00\x00\x00\x18ftypavif" + bytes(32)
        try:
            client.embeddings.create(model=model, input=[{"image": "data:image/avif;base64," + base64.b64encode(avif).decode()}])
        except openai.APIStatusError as e:
            expect(e.status_code == 415, f"HTTP {e.status_code}: {e}")
            expect(isinstance(e.body, dict) and "message" in e.body, f"body {e.body}")
        else:
            raise AssertionError("no error")

    check("unsupported image (AVIF) -> 415", unsupported_image)

    def too_large():
        size = int((args.max_body_mb + 1) * 1024 * 1024)
        body = b'{"input": "' + b"a" * size + b'"}'
        status, parsed = raw_request(root, "POST", "/v1/embeddings", body, {"Content-Type": "application/json"})
        expect_openai_error(status, parsed, 413, "body over --max-body-mb")

    check("body over --max-body-mb -> 413", too_large)

    def remote_refused():
        try:
            client.embeddings.create(model=model, input=[{"image": "http://127.0.0.1:9/cat.png"}])
        except openai.BadRequestError as e:
            expect(e.status_code == 400, f"HTTP {e.status_code}")
            expect("allow-remote-images" in str(e), f"message {e}")
        else:
            raise AssertionError("no error (is the server running with --allow-remote-images?)")

    check("remote image URL refused -> 400", remote_refused)

    def not_found():
        status, body = raw_request(root, "GET", "/v1/nothing-here")
        expect_openai_error(status, body, 404, "unknown route")

    check("unknown route -> 404", not_found)

    def wrong_method():
        status, body = raw_request(root, "GET", "/v1/embeddings")
        expect_openai_error(status, body, 405, "GET /v1/embeddings")

    check("wrong method -> 405", wrong_method)

    passed = sum(RESULTS)
    failed = len(RESULTS) - passed
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
