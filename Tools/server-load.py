#!/usr/bin/env python3
"""Bounded load test of a running `clip serve` on this machine (loopback only; standard library only).

    Tools/server-load.py --base-url http://127.0.0.1:8080 --connections 200 --requests 4000 --duration 60
    Tools/server-load.py --base-url http://127.0.0.1:8080 --connections 32 --mode image \
        --image Tests/Fixtures/images/photo_grace_hopper.jpg

asyncio drives --connections workers; each owns one keep-alive http.client connection and runs its blocking
calls in a thread. The run stops after --requests requests or --duration seconds, whichever comes first.
Refuses any host outside 127.0.0.0/8 / ::1 / localhost.

Reports requests/s (all answered requests, and successful ones), p50/p90/p99 latency of successful requests, the
503s (deliberate back-pressure from a full queue, not failures) and every other failure. Exit code 1 when any
request failed other than with a 503. `--json` prints one JSON summary line last.
"""

import argparse
import asyncio
import base64
import concurrent.futures
import http.client
import ipaddress
import json
import sys
import time
import urllib.parse


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100 * (len(sorted_values) - 1)))))
    return sorted_values[k]


class Worker:
    """One keep-alive connection, used from one thread at a time."""

    def __init__(self, host, port, timeout):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn = None

    def request(self, path, body):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
                r = self.conn.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A keep-alive connection the server closed between requests: reconnect once.
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise RuntimeError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()


def make_bodies(args):
    texts = ["a red circle", "a blue square", "a green triangle", "a yellow star", "a purple cross",
             "a photo of a dog", "a photo of a cat", "two red circles on a white background"]
    bodies = []
    image_url = None
    if args.mode in ("image", "mixed"):
        if not args.image:
            sys.exit("--mode image/mixed needs --image FILE")
        with open(args.image, "rb") as f:
            image_url = "data:image/png;base64," + base64.b64encode(f.read()).decode()
    for i in range(16):
        t = texts[i % len(texts)] + (f" number {i}" if args.distinct else "")
        if args.mode == "text":
            payload = {"model": "clip", "input": [t] * args.inputs, "encoding_format": args.encoding}
        elif args.mode == "image":
            payload = {"model": "clip", "input": [{"image": image_url}] * args.inputs, "encoding_format": args.encoding}
        else:
            payload = {"model": "clip", "input": [t, {"image": image_url}], "encoding_format": args.encoding}
        bodies.append(json.dumps(payload).encode())
    return bodies


async def main_async(args):
    url = urllib.parse.urlsplit(args.base_url)
    host, port = url.hostname or "", url.port or 80
    if url.scheme != "http" or not is_loopback(host):
        sys.exit(f"refusing {args.base_url}: this load test only targets http:// on the loopback interface")
    path = url.path.rstrip("/")
    path = (path[: -len("/v1")] if path.endswith("/v1") else path) + "/v1/embeddings"
    bodies = make_bodies(args)

    loop = asyncio.get_running_loop()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=args.connections)
    loop.set_default_executor(pool)
    latencies, statuses, errors = [], {}, {}
    issued = 0
    start = time.monotonic()
    deadline = start + args.duration

    async def run(worker_id):
        nonlocal issued
        worker = Worker(host, port, args.timeout)
        try:
            while issued < args.requests and time.monotonic() < deadline:
                issued += 1  # single-threaded event loop: no race
                body = bodies[(issued + worker_id) % len(bodies)]
                t0 = time.monotonic()
                try:
                    status, data = await loop.run_in_executor(None, worker.request, path, body)
                except Exception as e:  # noqa: BLE001 - counted, not fatal
                    key = type(e).__name__
                    errors[key] = errors.get(key, 0) + 1
                    worker.close()
                    worker = Worker(host, port, args.timeout)
                    continue
                dt = time.monotonic() - t0
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    latencies.append(dt)
                elif status != 503:
                    key = f"HTTP {status}: {data[:120]!r}"
                    errors[key] = errors.get(key, 0) + 1
        finally:
            await loop.run_in_executor(None, worker.close)

    await asyncio.gather(*(run(i) for i in range(args.connections)))
    elapsed = time.monotonic() - start
    pool.shutdown(wait=True)

    latencies.sort()
    answered = sum(statuses.values())
    ok = statuses.get(200, 0)
    failures = sum(errors.values())
    summary = {
        "connections": args.connections, "mode": args.mode, "inputs_per_request": args.inputs,
        "elapsed_s": round(elapsed, 3), "answered": answered, "ok": ok, "rejected_503": statuses.get(503, 0),
        "failures": failures, "requests_per_s": round(answered / elapsed, 2), "ok_per_s": round(ok / elapsed, 2),
        "inputs_per_s": round(ok * (args.inputs if args.mode != "mixed" else 2) / elapsed, 2),
        "p50_ms": round(percentile(latencies, 50) * 1e3, 2), "p90_ms": round(percentile(latencies, 90) * 1e3, 2),
        "p99_ms": round(percentile(latencies, 99) * 1e3, 2), "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": errors,
    }
    print(f"{args.connections} connections, mode {args.mode}, {elapsed:.1f} s: {answered} answered "
          f"({summary['requests_per_s']} req/s), {ok} ok ({summary['ok_per_s']} req/s, {summary['inputs_per_s']} inputs/s), "
          f"{summary['rejected_503']} deliberate 503s, {failures} other failures")
    print(f"latency of successful requests: p50 {summary['p50_ms']} ms, p90 {summary['p90_ms']} ms, p99 {summary['p99_ms']} ms")
    for k, v in errors.items():
        print(f"  failure x{v}: {k}")
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", default="http://127.0.0.1:8080", help="server root or its /v1 (loopback only)")
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--requests", type=int, default=4000, help="stop after this many requests (default 4000)")
    ap.add_argument("--duration", type=float, default=60, help="stop after this many seconds (default 60)")
    ap.add_argument("--mode", choices=["text", "image", "mixed"], default="text")
    ap.add_argument("--image", help="image file for --mode image/mixed")
    ap.add_argument("--inputs", type=int, default=1, help="inputs per request (text/image modes)")
    ap.add_argument("--encoding", choices=["float", "base64"], default="base64")
    ap.add_argument("--distinct", action="store_true", help="vary texts per request slot")
    ap.add_argument("--timeout", type=float, default=120, help="per-request socket timeout, seconds")
    ap.add_argument("--json", action="store_true", help="print a JSON summary line last")
    args = ap.parse_args()
    if args.connections < 1 or args.requests < 1 or args.duration <= 0 or args.inputs < 1:
        sys.exit("--connections, --requests, --inputs and --duration must be positive")
    if args.connections > 1000 or args.requests > 1_000_000 or args.duration > 3600:
        sys.exit("bounded runs only: at most 1000 connections, 1,000,000 requests, 3600 s")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
