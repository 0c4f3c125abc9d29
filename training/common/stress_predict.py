"""Stress-Predict (Empatica E4 wrist data) as windows and features for the physiology model.

Protocol (issue 4): 60-s windows with a 30-s hop from the start of each recording, labelled by
the majority of the authors' 1-Hz stress labels (stress if more than half of the window's seconds
are stress). Features are computed by the library's own pipeline
(:func:`cxsense.encoders.physio.pipeline.extract`), exactly as at run time.

Data is read where it lies (``data_root()/physio/stress_predict``), never copied. The feature table
is cached in ``training/runs/physio/`` (ignored by git).

    python -m training.common.stress_predict            # builds/refreshes the cache and prints a summary
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

from cxsense.encoders.physio.pipeline import GROUPS, extract
from cxsense.inputs.physio import load_physio
from training.common.data import REPO, data_root

WINDOW_S = 60
HOP_S = 30
CACHE = REPO / "training" / "runs" / "physio"
CHANNELS = (("bvp", "ppg"), ("eda", "eda"), ("temp", "temp"), ("acc", "acc"))


def stress_predict_dir(root: Path | None = None) -> Path:
    return (root or data_root()) / "physio" / "stress_predict"


def subjects(root: Path | None = None) -> dict[str, str]:
    """Subject id -> split (``train`` or ``dev``) from ``subjects.csv``."""
    with open(stress_predict_dir(root) / "subjects.csv") as f:
        return {r["subject"]: r["split"] for r in csv.DictReader(f)}


def windows(subject: str, root: Path | None = None, window_s: int = WINDOW_S, hop_s: int = HOP_S):
    """Yield ``(start_s, label, phase, mapping)`` for each window of one subject.

    ``mapping`` is the ``{channel: (samples, rate)}`` form that :func:`cxsense.inputs.physio.load_physio`
    takes, the channels cut on the common clock (each signal's own ``*_t0``).
    """
    d = np.load(stress_predict_dir(root) / f"{subject}.npz")
    lab = d["label_1hz"].astype(np.int64)
    phase = d["phase_1hz"].astype(np.int64)
    t0 = float(d["label_t0"])
    for s in range(0, len(lab) - window_s + 1, hop_s):
        m = {}
        ok = True
        for key, name in CHANNELS:
            fs = float(d[f"{key}_fs"])
            i0 = int(round((t0 + s - float(d[f"{key}_t0"])) * fs))
            n = int(round(window_s * fs))
            sig = d[key]
            if i0 < 0 or i0 + n > len(sig):
                ok = False
                break
            m[name] = (sig[i0:i0 + n], fs)
        if not ok:
            continue
        seg = lab[s:s + window_s]
        y = int(seg.mean() > 0.5)
        ph = int(np.bincount(phase[s:s + window_s]).argmax())
        yield s, y, ph, m


def feature_names() -> list[str]:
    return [f for g in GROUPS.values() for f in g]


def build(root: Path | None = None, verbose: bool = True) -> dict:
    """Extract features for every window of every subject. Returns arrays (missing features are NaN here)."""
    names = feature_names()
    rows, ys, subs, starts, phases, gq = [], [], [], [], [], []
    t_all = time.perf_counter()
    for sub in subjects(root):
        t = time.perf_counter()
        for s, y, ph, m in windows(sub, root):
            ex = extract(load_physio(m))
            rows.append([ex.features.get(n, np.nan) for n in names])
            gq.append([ex.group_quality.get(g, 0.0) for g in GROUPS])
            ys.append(y); subs.append(sub); starts.append(s); phases.append(ph)
        if verbose:
            print(f"{sub}: {sum(1 for x in subs if x == sub)} windows in {time.perf_counter() - t:.1f} s", flush=True)
    out = {
        "X": np.array(rows, dtype=np.float64), "y": np.array(ys, np.int64), "subject": np.array(subs),
        "start_s": np.array(starts, np.int64), "phase": np.array(phases, np.int64),
        "group_quality": np.array(gq, np.float64), "feature_names": np.array(names),
        "groups": np.array(list(GROUPS)),
    }
    if verbose:
        print(f"{len(ys)} windows, {np.mean(ys):.1%} stress, {time.perf_counter() - t_all:.0f} s")
    return out


def load_features(root: Path | None = None, rebuild: bool = False) -> dict:
    """The cached feature table (built on first use)."""
    path = CACHE / "features.npz"
    if path.is_file() and not rebuild:
        d = np.load(path)
        if list(d["feature_names"]) == feature_names():
            return {k: d[k] for k in d.files}
    out = build(root)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **out)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--rebuild", action="store_true")
    a = ap.parse_args()
    d = load_features(data_root(a.data), rebuild=a.rebuild)
    X = d["X"]
    print(json.dumps({"windows": int(len(X)), "stress_fraction": float(d["y"].mean()),
                      "missing_fraction": {n: float(np.isnan(X[:, i]).mean()) for i, n in enumerate(d["feature_names"])}},
                     indent=1))


if __name__ == "__main__":
    main()
