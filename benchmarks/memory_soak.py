"""Memory over many calls: resident memory (RSS) while ``assess`` runs N times on face, voice and physio inputs.

    python -m benchmarks.memory_soak [--calls 10000]

Inputs are synthetic (the shipped example face as a 48x48 crop, 1 s of a synthetic vowel-like voice, a 60-s
simulated wrist window), so the run needs no data folder. Prints RSS after warm-up and every 10% of the calls.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]




def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=10000)
    a = p.parse_args(argv)
    import cv2
    import neurokit2 as nk
    import torch
    from PIL import Image

    torch.set_num_threads(1)
    import cxsense
    from benchmarks.metrics import machine, rss_mb

    rgb = np.asarray(Image.open(REPO / "examples" / "astronaut.jpg").convert("RGB"))
    crop = cv2.resize(cv2.cvtColor(rgb[60:190, 160:290], cv2.COLOR_RGB2GRAY), (48, 48))
    t = np.arange(16000) / 16000
    f0 = 140 + 30 * np.sin(2 * np.pi * 3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 16000
    voice = (0.3 * sum(np.sin(k * phase) / k for k in range(1, 12)) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)
    voice /= np.abs(voice).max() * 1.25
    physio = {"ppg": (nk.ppg_simulate(duration=60, sampling_rate=64, heart_rate=72, random_state=0), 64),
              "eda": (nk.eda_simulate(duration=60, sampling_rate=4, scr_number=3, random_state=0), 4)}

    def one():
        cxsense.assess(face=crop, detect_face=False)
        try:
            cxsense.assess(voice=(voice, 16000))
        except cxsense.NoSignalError:
            pass
        cxsense.assess(physio=physio)

    for _ in range(20):
        one()
    trace = [(0, rss_mb())]
    t0 = time.time()
    step = max(1, a.calls // 10)
    for i in range(1, a.calls + 1):
        one()
        if i % step == 0:
            trace.append((i, rss_mb()))
    print("== memory soak: assess(face crop) + assess(voice 1 s) + assess(physio 60 s) per iteration")
    print("split: none (synthetic inputs)")
    print(f"machine: {machine()}")
    for i, m in trace:
        print(f"after {i:6d} iterations: RSS {m:8.1f} MB")
    growth = trace[-1][1] - trace[1][1] if len(trace) > 1 else 0.0
    print(f"growth from 10% to 100% of the run: {growth:+.1f} MB; {time.time() - t0:.0f} s")
    print("JSON " + json.dumps({"title": "memory soak", "iterations": a.calls, "rss_mb": trace, "growth_mb_10_to_100": growth}))


if __name__ == "__main__":
    main()
