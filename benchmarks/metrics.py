"""Shared metrics and report printing for the benchmarks (accuracy, per-class recall, macro-F1, ECE)."""

from __future__ import annotations

import json
import os
import platform
import sys

import numpy as np


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """Top-label ECE with ``n_bins`` equal-width confidence bins (Guo et al. 2017)."""
    probs = np.asarray(probs, dtype=np.float64)
    conf = probs.max(1)
    correct = (probs.argmax(1) == labels).astype(np.float64)
    edges = np.linspace(0, 1, n_bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def binary_ece(p: np.ndarray, y: np.ndarray, n_bins: int = 10) -> float:
    """ECE of a binary probability ``p`` of the positive class."""
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    edges = np.linspace(0, 1, n_bins + 1)
    ece = 0.0
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        m = (p >= lo) & ((p < hi) if i < n_bins - 1 else (p <= hi))
        if m.any():
            ece += m.mean() * abs(y[m].mean() - p[m].mean())
    return float(ece)


def classification_report(probs: np.ndarray, labels: np.ndarray, class_names) -> dict:
    """Accuracy, per-class recall and precision, macro-F1, ECE and NLL of probabilistic predictions."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels)
    pred = probs.argmax(1)
    k = len(class_names)
    cm = np.zeros((k, k), dtype=int)
    np.add.at(cm, (labels, pred), 1)
    recall = np.divide(np.diag(cm), cm.sum(1), out=np.zeros(k), where=cm.sum(1) > 0)
    precision = np.divide(np.diag(cm), cm.sum(0), out=np.zeros(k), where=cm.sum(0) > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=(precision + recall) > 0)
    present = cm.sum(1) > 0
    nll = float(-np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1))))
    return {
        "n": int(len(labels)),
        "accuracy": float((pred == labels).mean()),
        "macro_f1": float(f1[present].mean()),
        "ece": expected_calibration_error(probs, labels),
        "nll": nll,
        "per_class_recall": {c: float(r) for c, r, pr in zip(class_names, recall, present) if pr},
        "per_class_precision": {c: float(p) for c, p, pr in zip(class_names, precision, present) if pr},
        "confusion": cm.tolist(),
    }


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
