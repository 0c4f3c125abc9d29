"""Report printing for the benchmarks (machine, report, memory); the metrics themselves are
:mod:`cxsense.metrics` (one definition each)."""

from __future__ import annotations

import json
import os
import platform
import sys

import numpy as np

from cxsense.metrics import expected_calibration_error

__all__ = ["machine", "print_report", "calibration_noise_floor", "rss_mb"]


def machine() -> str:
    """The machine and library versions, for the header of every benchmark."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import torch

    return (f"{cpu}, {os.cpu_count()} logical cores, Python {platform.python_version()}, "
            f"torch {torch.__version__}, numpy {np.__version__}, {platform.system()} {platform.release()}")


def print_report(title: str, split: str, report: dict, extra: dict | None = None, file=sys.stdout) -> None:
    """Print a report in a human-readable form followed by one JSON line."""
    print(f"== {title}", file=file)
    print(f"split: {split}", file=file)
    print(f"machine: {machine()}", file=file)
    print(f"n={report['n']}  accuracy={report['accuracy']:.4f}  macro-F1={report['macro_f1']:.4f}  "
          f"ECE={report['ece']:.4f}  NLL={report['nll']:.4f}", file=file)
    print("per-class recall: " + ", ".join(f"{c}={r:.3f}" for c, r in report["per_class_recall"].items()), file=file)
    out = {"title": title, "split": split, **report, **(extra or {})}
    print("JSON " + json.dumps(out), file=file)


def calibration_noise_floor(probs: np.ndarray, n_sim: int = 2000, seed: int = 0) -> np.ndarray:
    """ECEs a perfectly calibrated model with these confidences would show on this many items.

    Labels are drawn from the model's own probabilities ``probs`` ``(n, k)`` (seeded), ``n_sim`` times; with
    ~120 items and 15 bins the binned ECE is mostly this sampling noise, so read a measured ECE against it.
    """
    rng = np.random.default_rng(seed)
    probs = np.asarray(probs, dtype=np.float64)
    cum = np.cumsum(probs, 1)
    sims = []
    for _ in range(n_sim):
        u = rng.random((len(probs), 1))
        ys = np.minimum((u > cum).sum(1), probs.shape[1] - 1)
        sims.append(expected_calibration_error(probs, ys))
    return np.array(sims)


def rss_mb() -> float:
    """Resident memory of this process in MB (VmRSS; the peak from getrusage where /proc is absent)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
