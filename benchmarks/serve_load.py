"""Load test of ``cxsense serve`` (issue 27), on loopback only and bounded in time.

    python -m benchmarks.serve_load [--clients 16,64] [--duration 20] [--live-seconds 60] [--workers 2]
                                    [--threads 1] [--rate-limit 0] [--out RESULTS.json]

1. Starts ``cxsense serve`` on 127.0.0.1 and a free port (``--rate-limit 0`` by default: the per-client limit
   would otherwise answer most of one host's many clients with 429; ``--rate-limit 20`` shows that instead).
2. ``/v1/assess`` with a face image (the public-domain astronaut portrait, 512x512 JPEG, one face): for each
   number of concurrent clients (threads with their own keep-alive connection), requests back to back for
   ``--duration`` seconds; reported: requests, throughput, p50 and p99 latency of the 200s (ms), and the other
   answers by status (503 when the assessment queue is full) or transport error.
3. ``WS /v1/live`` at 10 frames a second for ``--live-seconds``: a 640x480 JPEG frame with the face, 0.1 s of
   16-kHz audio and an ``assess`` every 100 ms; reported: the latency of each update (assess sent -> assessment
   received; p50, p95, p99, max), updates answered, frames the server dropped.
4. The server's resident memory (VmRSS) after warm-up, after each phase and every 30 s of the live run.
5. A hostile-input corpus over HTTP (and a few WebSocket cases): each answer's status and error, and
   ``/v1/health`` after each one.

The client runs on the same machine as the server and takes CPU from it; the machine is printed.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import struct
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from benchmarks.metrics import machine

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _pct(xs, q):
    return float(np.percentile(xs, q)) if xs else float("nan")


def _start(a, port):
    env = {**os.environ, "PYTHONPATH": REPO, "OMP_NUM_THREADS": str(a.threads)}
    env.pop("CXSENSE_TOKEN", None)
    cmd = [sys.executable, "-m", "cxsense", "serve", "--port", str(port), "--workers", str(a.workers),
           "--rate-limit", str(a.rate_limit), "--log-level", "warning", "--max-body-mb", "5"]
    proc = subprocess.Popen(cmd, env=env)
    end = time.monotonic() + 300
    while time.monotonic() < end:  # up, and its models loaded (numba compiled): /v1/status says "warm"
        try:
            if json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/status", timeout=2))["warm"]:
                return proc
        except OSError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not start and warm up within 300 s")


def load_phase(base, face, clients, duration):
    import httpx

    lat, statuses, lock = [], {}, threading.Lock()
    deadline = time.monotonic() + duration

    def client(_):
        with httpx.Client(timeout=60) as c:
            while time.monotonic() < deadline:
                t0 = time.perf_counter()
                try:
                    r = c.post(base + "/v1/assess", files={"face": ("face.jpg", face, "image/jpeg")})
                    key = str(r.status_code)
                except httpx.HTTPError as e:
                    key = type(e).__name__
                dt = 1000 * (time.perf_counter() - t0)
                with lock:
                    statuses[key] = statuses.get(key, 0) + 1
                    if key == "200":
                        lat.append(dt)
    t0 = time.monotonic()
    with ThreadPoolExecutor(clients) as ex:
        list(ex.map(client, range(clients)))
    wall = time.monotonic() - t0
    n = sum(statuses.values())
    return {"clients": clients, "seconds": round(wall, 1), "requests": n, "ok_per_s": round(len(lat) / wall, 2),
            "p50_ms": round(_pct(lat, 50), 1), "p99_ms": round(_pct(lat, 99), 1), "statuses": statuses,
            "errors": n - statuses.get("200", 0)}


def live_phase(port, frame_jpeg, seconds, pid):
    from websockets.sync.client import connect

    image = base64.b64encode(frame_jpeg).decode()
    t = np.arange(1600) / 16000
    pcm = base64.b64encode((3000 * np.sin(2 * np.pi * 180 * t)).astype("<i2").tobytes()).decode()
    sent: dict[int, float] = {}
    lat, kinds, mem = [], {}, []
    done = threading.Event()
    with connect(f"ws://127.0.0.1:{port}/v1/live", max_size=2**24, open_timeout=30) as ws:
        def reader():
            k = 0
            while not done.is_set():
                try:
                    m = json.loads(ws.recv(timeout=1))
                except TimeoutError:
                    continue
                except Exception:  # noqa: BLE001 - closed
                    return
                kinds[m["type"]] = kinds.get(m["type"], 0) + 1
                if m["type"] in ("assessment", "error") and m.get("status", 200) in (200, 422):
                    if k in sent:
                        lat.append(1000 * (time.perf_counter() - sent.pop(k)))
                    k += 1
        th = threading.Thread(target=reader, daemon=True)
        th.start()
        t0 = time.perf_counter()
        i = 0
        next_mem = 0.0
        while (now := time.perf_counter() - t0) < seconds:
            ts = i * 0.1
            ws.send(json.dumps({"type": "frame", "t": ts, "image": image}))
            ws.send(json.dumps({"type": "audio", "t": ts, "rate": 16000, "pcm16": pcm}))
            sent[i] = time.perf_counter()
            ws.send(json.dumps({"type": "assess"}))
            if now >= next_mem:
                mem.append((round(now), round(_rss_mb(pid), 1)))
                next_mem += 30
            i += 1
            time.sleep(max(0.0, t0 + i * 0.1 - time.perf_counter()))
        end = time.monotonic() + 30
        while sent and time.monotonic() < end:
            time.sleep(0.05)
        done.set()
    th.join(5)
    return {"seconds": seconds, "updates_sent": i, "updates_answered": len(lat), "unanswered": len(sent),
            "p50_ms": round(_pct(lat, 50), 1), "p95_ms": round(_pct(lat, 95), 1), "p99_ms": round(_pct(lat, 99), 1),
            "max_ms": round(max(lat), 1) if lat else None, "messages": kinds, "rss_mb_every_30s": mem}


def _png_claiming(width, height) -> bytes:
    """A 1x1 PNG whose header is rewritten to claim ``width`` x ``height`` pixels (a decompression bomb)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def hostile_cases(face: bytes):
    """(name, method, path, kwargs for httpx) of bad requests."""
    wav = io.BytesIO()
    import wave

    with wave.open(wav, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(np.zeros(8000, np.int16).tobytes())
    wav = wav.getvalue()
    mp = "multipart/form-data; boundary=X"
    files = lambda name, data, fn="f": {"files": {name: (fn, data)}}  # noqa: E731
    return [
        ("truncated JPEG", "POST", "/v1/assess", files("face", face[: len(face) // 4])),
        ("JPEG header only", "POST", "/v1/assess", files("face", face[:20])),
        ("random bytes as PNG", "POST", "/v1/assess", files("face", os.urandom(4096), "r.png")),
        ("empty image", "POST", "/v1/assess", files("face", b"")),
        ("PNG claiming 30000x30000", "POST", "/v1/assess", files("face", _png_claiming(30000, 30000), "b.png")),
        ("text as image", "POST", "/v1/assess", files("face", b"hello, not an image")),
        ("truncated WAV", "POST", "/v1/assess", files("voice", wav[:30], "t.wav")),
        ("random bytes as WAV", "POST", "/v1/assess", files("voice", os.urandom(4096), "r.wav")),
        ("JPEG as WAV", "POST", "/v1/assess", files("voice", face, "i.wav")),
        ("silent WAV", "POST", "/v1/assess", files("voice", wav, "s.wav")),
        ("physio CSV of text", "POST", "/v1/assess", files("physio", b"time,ppg\nx,y\n", "p.csv")),
        ("physio CSV 1 row", "POST", "/v1/assess", files("physio", b"time,ppg\n0,1\n", "p.csv")),
        ("path traversal file name", "POST", "/v1/assess", files("face", face[:100], "../../../../etc/passwd")),
        ("unicode file name", "POST", "/v1/assess", files("face", face[:100], "ünïcødé 表情 😀.jpg")),
        ("unknown form field", "POST", "/v1/assess", {"data": {"x": "1"}, **files("face", face)}),
        ("bad option value", "POST", "/v1/assess", {"data": {"face_early_exit": "nan"}, **files("face", face)}),
        ("JSON body", "POST", "/v1/assess", {"content": b'{"face": "x"}', "headers": {"Content-Type": "application/json"}}),
        ("multipart without boundary", "POST", "/v1/assess", {"content": b"xx", "headers": {"Content-Type": "multipart/form-data"}}),
        ("malformed multipart", "POST", "/v1/assess", {"content": b"--X\r\nnonsense\r\n\r\n--X--", "headers": {"Content-Type": mp}}),
        ("17 parts", "POST", "/v1/assess", {"content": b"".join(b'--X\r\nContent-Disposition: form-data; name="embeddings"\r\n\r\n1\r\n'
                                                                for _ in range(17)) + b"--X--\r\n", "headers": {"Content-Type": mp}}),
        ("body over the limit (6 MB)", "POST", "/v1/assess", files("face", b"\0" * (6 * 2**20))),
        ("garbage video", "POST", "/v1/sessions", files("video", os.urandom(20000), "v.mp4")),
        ("unknown session id", "GET", "/v1/sessions/../../etc/passwd", {}),
        ("bad session id", "DELETE", "/v1/sessions/%00", {}),
        ("GET on a POST route", "GET", "/v1/assess", {}),
        ("wrong Host header", "GET", "/v1/status", {"headers": {"Host": "evil.example"}}),
        ("foreign Origin", "POST", "/v1/assess", {"headers": {"Origin": "http://evil.example"}, **files("face", face)}),
    ]


RAW_CASES = [  # (name, bytes sent on a bare socket, then the write side is closed)
    ("Content-Length not a number", b"POST /v1/assess HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n"),
    ("64 KB header", b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n"),
    ("TLS hello on plain HTTP", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256))),
    ("body shorter than Content-Length", b"POST /v1/assess HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
     b"multipart/form-data; boundary=X\r\nContent-Length: 100000\r\n\r\n--X\r\n"),
]


def _raw(port: int, data: bytes):
    """Send ``data``, close the write side, return the status code of the answer (None: no answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            answer = s.recv(4096)
        except OSError:
            return None
    parts = answer.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def hostile_phase(base, port, face):
    import httpx
    from websockets.sync.client import connect

    out = []
    with httpx.Client(timeout=60) as c:
        for name, method, path, kw in hostile_cases(face):
            try:
                r = c.request(method, base + path, **kw)
                status, err = r.status_code, (r.json().get("error") if r.headers.get("content-type", "").startswith(
                    "application/json") and isinstance(r.json(), dict) else None)
            except httpx.HTTPError as e:
                status, err = None, type(e).__name__
            health = httpx.get(base + "/v1/health", timeout=10).status_code
            out.append({"case": name, "status": status, "error": err, "health": health})
        for name, data in RAW_CASES:
            status = _raw(port, data)
            health = httpx.get(base + "/v1/health", timeout=10).status_code
            out.append({"case": name, "status": status, "error": "raw socket", "health": health})
        for name, payload in (("WS binary message", b"\x00\x01"), ("WS not JSON", "{{{"),
                              ("WS unknown type", json.dumps({"type": "dance"})),
                              ("WS bad base64 frame", json.dumps({"type": "frame", "t": 0, "image": "%%%"})),
                              ("WS bomb PNG frame", json.dumps({"type": "frame", "t": 0, "image": base64.b64encode(
                                  _png_claiming(30000, 30000)).decode()})),
                              ("WS NaN time", '{"type": "frame", "t": NaN, "image": "AAAA"}'),
                              ("WS message over the limit", "x" * (6 * 2**20))):
            try:
                with connect(f"ws://127.0.0.1:{port}/v1/live", max_size=2**24, open_timeout=30) as ws:
                    ws.send(payload)
                    m = json.loads(ws.recv(timeout=30))
                    status, err = m.get("status"), m.get("error")
            except Exception as e:  # noqa: BLE001 - a close is an answer too
                status, err = getattr(getattr(e, "rcvd", None), "code", None), type(e).__name__
            health = httpx.get(base + "/v1/health", timeout=10).status_code
            out.append({"case": name, "status": status, "error": err, "health": health})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", default="16,64")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per concurrency level")
    ap.add_argument("--live-seconds", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="OMP/torch threads of the server")
    ap.add_argument("--rate-limit", type=float, default=0.0)
    ap.add_argument("--hostile-rounds", type=int, default=2)
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    import cv2

    face = open(os.path.join(REPO, "examples", "astronaut.jpg"), "rb").read()
    rgb = cv2.imdecode(np.frombuffer(face, np.uint8), cv2.IMREAD_COLOR)
    frame = np.full((480, 640, 3), 60, np.uint8)
    frame[:, 64:576] = cv2.resize(rgb, (512, 480))
    frame_jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()
    with socket.socket() as s:  # a free port on loopback
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    print(f"machine: {machine()}; server: --workers {a.workers}, OMP_NUM_THREADS={a.threads}, "
          f"--rate-limit {a.rate_limit:g}; client and server on the same machine", flush=True)
    proc = _start(a, port)
    results = {"machine": machine(), "args": vars(a)}
    try:
        load_phase(base, face, 2, 5.0)  # warm-up: models loaded
        results["rss_mb_start"] = round(_rss_mb(proc.pid), 1)
        print(f"server RSS after warm-up: {results['rss_mb_start']} MiB", flush=True)
        results["assess"] = []
        for c in (int(x) for x in a.clients.split(",")):
            r = load_phase(base, face, c, a.duration)
            r["rss_mb_after"] = round(_rss_mb(proc.pid), 1)
            results["assess"].append(r)
            print("assess:", json.dumps(r), flush=True)
        if a.live_seconds > 0:
            results["live"] = live_phase(port, frame_jpeg, a.live_seconds, proc.pid)
            results["live"]["rss_mb_after"] = round(_rss_mb(proc.pid), 1)
            status = json.load(urllib.request.urlopen(base + "/v1/status"))
            results["live"]["frames_dropped_by_server"] = status["frames_dropped"]
            print("live:", json.dumps(results["live"]), flush=True)
        results["hostile"] = []
        for k in range(a.hostile_rounds):  # a second round shows whether memory grows per bad request
            results["hostile"] += hostile_phase(base, port, face)
            results[f"rss_mb_after_hostile_round_{k + 1}"] = round(_rss_mb(proc.pid), 1)
            print(f"RSS after hostile round {k + 1}: {results[f'rss_mb_after_hostile_round_{k + 1}']} MiB", flush=True)
        for h in results["hostile"][: len(results["hostile"]) // a.hostile_rounds]:
            print(f"hostile: {h['case']:<32} -> {h['status']} {h['error']}; health {h['health']}", flush=True)
        bad = [h for h in results["hostile"] if h["health"] != 200 or h["status"] == 500]
        results["rss_mb_end"] = round(_rss_mb(proc.pid), 1)
        print(f"hostile cases: {len(results['hostile'])}, answered 500 or unhealthy after: {len(bad)}; "
              f"RSS start {results['rss_mb_start']} MiB, end {results['rss_mb_end']} MiB", flush=True)
        print("assess summary (ms): " + "; ".join(
            f"{r['clients']} clients: p50 {r['p50_ms']}, p99 {r['p99_ms']}, {r['ok_per_s']}/s, errors {r['errors']} "
            f"{r['statuses']}" for r in results["assess"]), flush=True)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    if a.out:
        with open(a.out, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
