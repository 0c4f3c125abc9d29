"""Heart and breathing rates (and SCR counts) of the physio pipeline on NeuroKit2's real example recordings.

Compares with the figures in ``../shared/data/physio/neurokit_examples/README.md`` (computed there with
neurokit2 0.3.0's full ``*_process`` functions and a scipy cross-check). Whole recordings, plus the
median over 60-s windows (30-s hop), as the encoder sees them.

    python -m benchmarks.physio_rates
"""

from __future__ import annotations

import json

import numpy as np

from benchmarks.metrics import machine
from cxsense.encoders.physio import features as F
from cxsense.encoders.physio.pipeline import extract
from cxsense.inputs.physio import load_physio
from training.common.data import data_root

#: (file, channel, measure, README figure)
REFERENCE = [
    ("bio_eventrelated_100hz", "ecg", "hr", 60.6),
    ("bio_eventrelated_100hz", "rsp", "rsp_rate", 17.6),
    ("bio_eventrelated_100hz", "eda", "scr_count", 9),
    ("bio_resting_5min_100hz", "ecg", "hr", 87.0),
    ("bio_resting_5min_100hz", "ppg", "hr", 87.0),
    ("bio_resting_5min_100hz", "rsp", "rsp_rate", 15.9),
    ("ecg_1000hz", "ecg", "hr", 58.8),
]


def whole(sig: np.ndarray, fs: float, ch: str, measure: str) -> float:
    if ch in ("ecg", "ppg"):
        beats, _ = F.heart_beats(sig, fs, ch)
        _, e, _ = F.heart_features(beats, len(sig) / fs)
        return e.get("hr", float("nan"))
    if ch == "rsp":
        f, _, _ = F.rsp_features(sig, fs)
        return f.get("rsp_rate", float("nan"))
    _, e, _ = F.eda_features(sig, fs)
    return e.get("scr_count", float("nan"))


def windowed(sig: np.ndarray, fs: float, ch: str) -> float:
    vals = []
    n = min(int(60 * fs), len(sig))  # a recording shorter than 60 s is one window
    for i0 in range(0, len(sig) - n + 1, int(30 * fs)):
        ex = extract(load_physio({ch: (sig[i0:i0 + n], fs)}))
        if ch in ("ecg", "ppg"):
            v = ex.extra.get(ch, {}).get("hr")
        elif ch == "rsp":
            v = ex.features.get("rsp_rate")
        else:
            v = ex.extra.get("eda", {}).get("scr_count")
        if v is not None:
            vals.append(v)
    return float(np.median(vals)) if vals else float("nan")


def main():
    folder = data_root() / "physio" / "neurokit_examples"
    print("== physio rates on NeuroKit2 example recordings")
    print(f"split: all three example recordings in {folder} (no training on them)")
    print(f"machine: {machine()}")
    rows = []
    for name, ch, measure, ref in REFERENCE:
        d = np.load(folder / f"{name}.npz")
        fs = float(d["sampling_rate"])
        sig = d[ch].astype(np.float64)
        w = whole(sig, fs, ch, measure)
        m = windowed(sig, fs, ch) if measure != "scr_count" else float("nan")
        rows.append({"recording": name, "channel": ch, "measure": measure, "readme": ref, "whole": w,
                     "median_60s_windows": m, "abs_error_whole": abs(w - ref)})
        print(f"{name:24s} {ch:4s} {measure:9s} README {ref:6.1f}   ours: whole {w:6.1f}   "
              f"60-s windows median {m:6.1f}")
    clean = [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()} for r in rows]
    print("JSON " + json.dumps(clean))


if __name__ == "__main__":
    main()
