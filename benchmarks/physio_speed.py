"""Speed of the physio encoder: median milliseconds per 60-s window, one thread.

Wrist windows (Stress-Predict dev subject S04: PPG 64 Hz, EDA 4 Hz, TEMP 4 Hz, ACC 32 Hz) and a
chest-strap window (NeuroKit2's resting ECG + RSP at 100 Hz, and a 250-Hz resampled ECG). The time
covers ``load_physio`` + ``PhysioEncoder.encode`` (checks, features, model), not the first-call
imports. Run it with the machine otherwise idle for meaningful figures.

    OMP_NUM_THREADS=1 python -m benchmarks.physio_speed
"""

from __future__ import annotations

import json
import os
import time

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np

from benchmarks.metrics import machine
from cxsense.encoders.physio.encoder import PhysioEncoder
from cxsense.inputs.physio import load_physio
from training.common.data import data_root
from training.common.stress_predict import windows


CPU = []


def timeit(enc, mapping, repeat=1):
    c = time.process_time()
    t = time.perf_counter()
    for _ in range(repeat):
        enc.encode(load_physio(mapping))
    CPU.append((time.process_time() - c) / repeat * 1000)
    return (time.perf_counter() - t) / repeat * 1000


def main():
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    enc = PhysioEncoder()
    wins = [m for i, (_, _, _, m) in enumerate(windows("S04")) if i % 2 == 0][:50]
    enc.encode(load_physio(wins[0]))  # warm-up (imports)
    CPU.clear()
    wrist = [timeit(enc, m) for m in wins]
    wrist_cpu = list(CPU)
    d = np.load(data_root() / "physio" / "neurokit_examples" / "bio_resting_5min_100hz.npz")
    chest = {"ecg": (d["ecg"][:6000], 100.0), "rsp": (d["rsp"][:6000], 100.0)}
    from scipy.signal import resample_poly

    ecg250 = {"ecg": (resample_poly(d["ecg"][:6000].astype(np.float64), 5, 2), 250.0)}
    chest_t = [timeit(enc, chest) for _ in range(30)]
    ecg_t = [timeit(enc, ecg250) for _ in range(30)]
    res = {
        "wrist_60s_ms_median": float(np.median(wrist)), "wrist_windows": len(wrist),
        "chest_ecg_rsp_100hz_60s_ms_median": float(np.median(chest_t)),
        "ecg_250hz_60s_ms_median": float(np.median(ecg_t)),
        "wrist_60s_cpu_ms_median": float(np.median(wrist_cpu)),
        "load_average": os.getloadavg()[0],
    }
    print("== physio encoder speed (one thread)")
    print("split: Stress-Predict S04 (dev), 50 windows of 60 s; NeuroKit2 bio_resting_5min first 60 s")
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f}")
    print(f"wrist PPG64+EDA4+TEMP4+ACC32, 60 s: median {res['wrist_60s_ms_median']:.2f} ms per window "
          f"(process CPU time {res['wrist_60s_cpu_ms_median']:.2f} ms)")
    print(f"chest ECG+RSP 100 Hz, 60 s:        median {res['chest_ecg_rsp_100hz_60s_ms_median']:.2f} ms")
    print(f"ECG 250 Hz, 60 s:                  median {res['ecg_250hz_60s_ms_median']:.2f} ms")
    print("JSON " + json.dumps(res))


if __name__ == "__main__":
    main()
