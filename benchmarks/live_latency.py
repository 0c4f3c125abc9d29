"""Latency of live sessions (issue 6): the cost of each push and of reading a rolling assessment.

    python -m benchmarks.live_latency [--updates 200] [--threads 1]

Simulated stream: 640x480 RGB frames with one face (the public-domain astronaut portrait) at 5 frames per
second, 16-kHz voiced audio in 0.2-s chunks, and a wrist band (PPG 64 Hz, EDA 4 Hz, NeuroKit2 simulators)
in 1-s chunks after a 60-s history. Reported: medians and 95th percentiles in milliseconds of
``push_frame``, ``push_audio``, ``push_physio`` and ``assessment()`` (face + voice, and face + voice + physio);
``events()`` (facial cue events) over a full 10-s history of the frame pushed at 30 frames per second.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from benchmarks.metrics import machine


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--updates", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    import cv2
    import neurokit2 as nk
    import torch
    from PIL import Image

    torch.set_num_threads(a.threads)
    import cxsense

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    face = cv2.resize(np.asarray(Image.open(os.path.join(repo, "examples", "astronaut.jpg")).convert("RGB")), (240, 240))
    frame = np.full((480, 640, 3), 50, np.uint8)
    frame[120:360, 200:440] = face
    sr = 16000
    dur = max(a.updates * 0.2, 60) + 10
    t = np.arange(int(dur * sr)) / sr
    voice = (0.3 * np.sin(2 * np.pi * np.cumsum(150 * (1 + 0.2 * np.sin(2 * np.pi * 0.7 * t))) / sr)
             * (0.55 + 0.45 * np.sin(2 * np.pi * 3.5 * t))).astype(np.float32)
    ppg = nk.ppg_simulate(duration=int(dur) + 70, sampling_rate=64, heart_rate=75, random_state=0)
    eda = nk.eda_simulate(duration=int(dur) + 70, sampling_rate=4, scr_number=10, noise=0.0, random_state=0) + 2.0

    live = cxsense.LiveSession()
    live.push_frame(frame, 0.0)  # warm-up: models loaded, numba compiled
    live.push_audio(voice[: 3 * sr], sr, 0.0)
    live.assessment()
    times = {k: [] for k in ("push_frame", "push_audio", "push_physio", "assessment face+voice",
                             "assessment face+voice+physio", "events() over 10 s at 30 frames/s")}

    def timed(key, fn, *args):
        t0 = time.perf_counter()
        r = fn(*args)
        times[key].append(1000 * (time.perf_counter() - t0))
        return r

    live = cxsense.LiveSession()
    for k in range(a.updates):  # 0.2 s of stream per update
        ts = k * 0.2
        timed("push_frame", live.push_frame, frame, ts)
        timed("push_audio", live.push_audio, voice[int(ts * sr):int((ts + 0.2) * sr)], sr, ts)
        if k >= 15:
            timed("assessment face+voice", live.assessment)
    live = cxsense.LiveSession()
    live.push_physio({"ppg": (ppg[: 60 * 64], 64), "eda": (eda[: 60 * 4], 4)}, -60.0)
    for k in range(min(a.updates, 60)):  # one update per second
        ts = float(k)
        timed("push_frame", live.push_frame, frame, ts)
        timed("push_audio", live.push_audio, voice[int(ts * sr):int((ts + 1) * sr)], sr, ts)
        i = 60 + k
        timed("push_physio", live.push_physio, {"ppg": (ppg[i * 64:(i + 1) * 64], 64), "eda": (eda[i * 4:(i + 1) * 4], 4)}, ts)
        r = timed("assessment face+voice+physio", live.assessment)
    live = cxsense.LiveSession()
    for k in range(300):  # 10 s at 30 frames a second: the whole cue history
        live.push_frame(frame, k / 30)
    for _ in range(50):
        timed("events() over 10 s at 30 frames/s", live.events)
    print(f"machine: {machine()}; torch threads {a.threads}")
    out = {}
    for k, v in times.items():
        v = np.array(v)
        out[k] = {"median_ms": float(np.median(v)), "p95_ms": float(np.percentile(v, 95)), "n": int(len(v))}
        print(f"{k:<32} median {np.median(v):7.2f} ms   p95 {np.percentile(v, 95):7.2f} ms   (n={len(v)})")
    print(f"last assessment: {r!r}")
    print("JSON " + json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
