#!/usr/bin/env python3
"""Attacks a running `clip serve` on loopback as a hostile client would, and checks each gets the safe behaviour.
Standard library only; bounded in count and time (well under a minute).

    clip serve --weights Weights/demo --port 18080 --idle-timeout 3 --max-body-mb 1 &
    clip serve --weights Weights/demo --port 18081 --api-key-file keys.txt &
    Tools/server-attack.py --port 18080 --keyed-port 18081 --key KEY --idle-timeout 3 --max-body-mb 1

Each check prints PASS/FAIL with what was measured; the last line is "N passed, M failed"; exit 1 on any failure.
"""
import argparse
import base64
import json
import socket
import struct
import sys
import time
import urllib.error
import urllib.request

RESULTS = []


def check(name, fn):
    try:
        detail = fn()
        RESULTS.append(True)
        print(f"PASS {name}" + (f": {detail}" if detail else ""))
    except Exception as e:  # noqa: BLE001 - every failure is reported
        RESULTS.append(False)
        print(f"FAIL {name}: {type(e).__name__}: {e}")


def request(port, path, body=None, headers=None, method=None, timeout=60):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method, headers=headers or {})
    t = time.time()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null"), time.time() - t
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null"), time.time() - t


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def tiny_jpeg_declaring(w, h):
    """A 1×1 baseline JPEG (hand-built, grey) whose SOF0 declares w×h."""
    q = bytes([1] * 64)
    huff_dc = bytes([0, 1] + [0] * 14) + bytes([0])
    huff_ac = bytes([0, 1] + [0] * 14) + bytes([0])
    def seg(marker, payload):
        return b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload
    sof = struct.pack(">BHHB", 8, h, w, 1) + bytes([1, 0x11, 0])
    sos = bytes([1, 1, 0x00, 0, 63, 0])
    return (b"\xff\xd8" + seg(0xDB, b"\x00" + q) + seg(0xC0, sof) + seg(0xC4, b"\x00" + huff_dc)
            + seg(0xC4, b"\x10" + huff_ac) + seg(0xDA, sos) + b"\x00" * 400 + b"\xff\xd9")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True, help="a server on loopback without API keys")
    ap.add_argument("--keyed-port", type=int, help="a server started with --api-key-file")
    ap.add_argument("--key", help="one of its keys")
    ap.add_argument("--idle-timeout", type=float, default=30, help="the first server's --idle-timeout")
    ap.add_argument("--max-body-mb", type=float, default=20, help="the first server's --max-body-mb")
    ap.add_argument("--body-timeout", type=float, help="the first server's --body-timeout (enables the trickle step)")
    ap.add_argument("--shutdown-pid", type=int, help="last step: SIGTERM this server (the first) with an upload stuck")
    ap.add_argument("--shutdown-timeout", type=float, default=30, help="its --shutdown-timeout")
    args = ap.parse_args()
    port = args.port
    json_h = {"Content-Type": "application/json"}

    if args.keyed_port:
        def keys():
            for auth in [None, "Bearer not-a-real-key-000000", "Basic " + base64.b64encode(b"a:b").decode()]:
                h = dict(json_h, **({"Authorization": auth} if auth else {}))
                status, body, _ = request(args.keyed_port, "/v1/embeddings", json.dumps({"input": "a"}).encode(), h)
                expect(status == 401 and body["error"]["code"] == "invalid_api_key", f"{auth}: {status} {body}")
            status, _, _ = request(args.keyed_port, "/v1/embeddings", json.dumps({"input": "a"}).encode(),
                                   dict(json_h, Authorization="Bearer " + args.key))
            expect(status == 200, f"right key: {status}")
            status, _, _ = request(args.keyed_port, "/health")
            expect(status == 200, f"/health: {status}")
            return "missing, made-up and Basic credentials 401; the key 200; /health open"
        check("API keys", keys)

    def rebinding():
        status, body, _ = request(port, "/v1/embeddings", json.dumps({"input": "a"}).encode(), dict(json_h, Host="evil.example.com"))
        expect(status == 403 and body["error"]["code"] == "invalid_host", f"{status} {body}")
        return "Host: evil.example.com -> 403"
    check("DNS rebinding (foreign Host on loopback)", rebinding)

    def content_type():
        status, body, _ = request(port, "/v1/embeddings", json.dumps({"input": "a"}).encode(), {"Content-Type": "text/plain"})
        expect(status == 415, f"{status} {body}")
        return "text/plain -> 415"
    check("cross-site form posts (non-JSON content type)", content_type)

    def huge_text():
        text = "a photo of a cat " * int(args.max_body_mb * 1024 * 1024 * 0.9 / 17)
        status, body, seconds = request(port, "/v1/embeddings", json.dumps({"input": text}).encode(), json_h)
        expect(status == 200, f"{status}")
        expect(seconds < 10, f"took {seconds:.1f} s")
        _, _, health = request(port, "/health")
        return f"{len(text) / 1e6:.1f} MB text answered in {seconds:.2f} s; /health {health * 1000:.0f} ms"
    check("one text at the body limit", huge_text)

    def bomb_jpegs():
        jpeg = base64.b64encode(tiny_jpeg_declaring(7000, 7000)).decode()
        inputs = [{"image": "data:image/jpeg;base64," + jpeg}] * 64
        status, body, seconds = request(port, "/v1/embeddings", json.dumps({"input": inputs}).encode(), json_h)
        expect(status in (400, 413), f"{status} {body}")
        expect(seconds < 10, f"took {seconds:.1f} s")
        return f"64 JPEGs of {len(jpeg) * 3 // 4} bytes declaring 7000x7000 -> {status} in {seconds:.2f} s"
    check("decompression bombs (tiny JPEGs declaring 7000x7000)", bomb_jpegs)

    def refused_upload(chunked):
        s = socket.create_connection(("127.0.0.1", port))
        s.settimeout(10)
        head = "POST /v1/embeddings HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else "Content-Length: 100000000\r\n\r\n"
        s.sendall(head.encode())
        t = time.time()
        sent, answer = 0, b""
        chunk = (b"10000\r\n" + b"a" * 65536 + b"\r\n") if chunked else b"a" * 65536
        while time.time() - t < 15:
            try:
                s.sendall(chunk)
                sent += 65536
                s.setblocking(False)
                try:
                    answer += s.recv(4096)
                except BlockingIOError:
                    pass
                s.setblocking(True)
            except (BrokenPipeError, ConnectionResetError):
                break
        seconds = time.time() - t
        expect(b" 413 " in answer.split(b"\r\n")[0] if answer else False, f"answer {answer[:40]!r}")
        expect(seconds < 10, f"connection still open after {seconds:.1f} s ({sent / 1e6:.0f} MB read)")
        return f"413, then the connection was closed after {seconds:.1f} s ({sent / 1e6:.0f} MB accepted)"
    check("100 MB body with Content-Length", lambda: refused_upload(False))
    check("a chunked body that never ends", lambda: refused_upload(True))

    if args.body_timeout:
        def trickle():
            s = socket.create_connection(("127.0.0.1", port))
            s.settimeout(5)
            s.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 100000\r\n\r\n{")
            t, answer = time.time(), b""
            while time.time() - t < args.body_timeout + 10:
                try:
                    s.sendall(b" ")
                    s.setblocking(False)
                    try:
                        answer += s.recv(4096)
                    except BlockingIOError:
                        pass
                    s.setblocking(True)
                except OSError:
                    break
                if answer:
                    break
                time.sleep(0.3)
            seconds = time.time() - t
            expect(b" 408 " in answer.split(b"\r\n")[0] if answer else False, f"answer {answer[:40]!r} after {seconds:.1f} s")
            return f"a body sent a byte every 0.3 s got 408 after {seconds:.1f} s (--body-timeout {args.body_timeout:g})"
        check("a trickled request body", trickle)

    def idle():
        s = socket.create_connection(("127.0.0.1", port))
        s.settimeout(args.idle_timeout + 10)
        t = time.time()
        data = s.recv(10)
        seconds = time.time() - t
        expect(data == b"" and seconds < args.idle_timeout + 5, f"{data!r} after {seconds:.1f} s")
        return f"closed after {seconds:.1f} s (--idle-timeout {args.idle_timeout:g})"
    check("an idle connection", idle)

    def slowloris():
        s = socket.create_connection(("127.0.0.1", port))
        s.settimeout(5)
        s.sendall(b"GET /health HTTP/1.1\r\n")
        t = time.time()
        try:
            while time.time() - t < args.idle_timeout + 10:
                time.sleep(0.5)
                s.sendall(b"X-Slow: 1\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        seconds = time.time() - t
        expect(seconds < args.idle_timeout + 5, f"still open after {seconds:.1f} s")
        return f"a header trickle was cut after {seconds:.1f} s"
    check("slowloris (headers a line at a time)", slowloris)

    if args.shutdown_pid:
        def shutdown():
            import os
            import signal
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 1000000\r\n\r\n{")
            time.sleep(0.5)
            t = time.time()
            os.kill(args.shutdown_pid, signal.SIGTERM)
            while time.time() - t < args.shutdown_timeout + 30:
                try:
                    os.kill(args.shutdown_pid, 0)
                except ProcessLookupError:
                    break
                try:
                    s.send(b" ")   # a trickle keeps the upload alive (and the idle timeout away)
                except OSError:
                    pass
                time.sleep(0.2)
            seconds = time.time() - t
            expect(seconds < args.shutdown_timeout + 8, f"still running {seconds:.1f} s after SIGTERM")
            return f"exited {seconds:.1f} s after SIGTERM with an upload stuck (--shutdown-timeout {args.shutdown_timeout:g})"
        check("shutdown with a stuck upload", shutdown)

    passed = sum(RESULTS)
    print(f"{passed} passed, {len(RESULTS) - passed} failed")
    return 0 if passed == len(RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
