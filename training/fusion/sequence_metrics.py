"""Scoring session sequences offline (issue 24, item 3): what a session's step saw, fused again, and segment figures.

Used by ``benchmarks/session_sequences.py`` (the figures) and ``training/fusion/step_calibration.py`` (the choice).
The steps come from :mod:`training.fusion.sequences`. Definitions:

- a segment's **steps** are the 1-s steps that start inside it; per step, the person with the most frames
  (two faces on screen together keep the voice out, as in the session);
- a segment's label is the **argmax of the mean of its steps' probabilities** (primary); the majority of its
  steps' emotions (ties to the earliest step's) is given beside it; a segment without any usable step counts as
  wrong;
- **face alone**: the same over the pooled face of each step with a face; **voice alone**: over each step's voice
  with quality > 0;
- per-class recall, macro-F1 (over the 7 classes) and the ECE of the mean probabilities; step accuracy counts
  every step against its segment's label.
"""

from __future__ import annotations

import numpy as np

from cxsense.metrics import expected_calibration_error

NONE = -1  # no estimate for a segment


def _result(modality: str, vec, details=None):
    from cxsense.emotions import EMOTIONS, circumplex_va, stress_from_va
    from cxsense.encoders.base import ModalityResult

    p = np.asarray(vec[:7], dtype=np.float64)
    q = float(vec[7])
    if q <= 0:
        return ModalityResult(modality, None, np.zeros(1, np.float32), 0.0, details=dict(details or {}))
    p = p / p.sum()
    v, a = circumplex_va(p)
    return ModalityResult(modality, dict(zip(EMOTIONS, map(float, p))), np.zeros(1, np.float32), q, v, a,
                          stress_from_va(v, a), details=dict(details or {}))


def step_inputs(step: dict):
    """``(results, exclude, person)`` of one cached step, as the session gave them to ``fuse``: the pooled face
    of the person with the most frames (:func:`cxsense.session.tracking.pool_face`) and the voice."""
    from cxsense.session.steps import VOICE_NOT_ATTRIBUTED
    from cxsense.session.tracking import pool_face

    results, person = {}, "-"
    if step["persons"]:
        person = max(step["persons"], key=lambda p: (len(step["persons"][p]), -int(p[1:])))
        face = pool_face([_result("face", v) for v in step["persons"][person]], step["n"])
        if face is not None:
            results["face"] = face
    if step["voice"] is not None:
        results["voice"] = _result("voice", step["voice"], {"signal": {"speech_s": step["voice"][8]}})
    together = step.get("together", len(step["persons"]) > 1)
    exclude = {"voice": VOICE_NOT_ATTRIBUTED} if "voice" in results and together else None
    return results, exclude, person


def segment_steps(videos: list[dict]):
    """Yield ``(video index, segment label, [step, ...])`` for every segment."""
    for k, v in enumerate(videos):
        for seg, (a, b) in zip(v["segments"], v["spans"]):
            yield k, seg["label"], [s for s in v["steps"] if a - 1e-6 <= s["t"] < b - 1e-6]


def step_probs(steps: list[dict], fusion=None, modality: str | None = None) -> list:
    """Per step, the probabilities of ``fuse`` (or of one modality alone), None for a step without signal."""
    from cxsense.errors import NoSignalError
    from cxsense.fusion import fuse

    out = []
    for s in steps:
        results, exclude, _ = step_inputs(s)
        p = None
        if modality is not None:
            r = results.get(modality)
            p = r.probability_vector() if r is not None and r.quality > 0 else None
        else:
            try:
                a = fuse(results, exclude=exclude, fusion=fusion)
                p = np.array(list(a.probabilities.values())) if a.categorical_evidence else None
            except NoSignalError:
                pass
        out.append(p)
    return out


def smoothed(probs: list, lam: float) -> list:
    """Temporal smoothing (tried, not shipped): each step's log-probabilities plus ``lam`` times its neighbours'."""
    z = [None if p is None else np.log(np.clip(p, 1e-6, 1)) for p in probs]
    out = []
    for i, zi in enumerate(z):
        if zi is None:
            out.append(None)
            continue
        t = zi + lam * sum(z[j] for j in (i - 1, i + 1) if 0 <= j < len(z) and z[j] is not None)
        e = np.exp(t - t.max())
        out.append(e / e.sum())
    return out


def report(pred: np.ndarray, y: np.ndarray, P: np.ndarray | None = None) -> dict:
    """Accuracy, per-class recall, macro-F1 (``pred == NONE`` is wrong) and the ECE of ``P``."""
    from cxsense.emotions import EMOTIONS

    rec, f1 = {}, []
    for c, e in enumerate(EMOTIONS):
        tp = np.sum((pred == c) & (y == c))
        r = tp / max(1, np.sum(y == c))
        pr = tp / max(1, np.sum(pred == c))
        rec[e] = float(r)
        f1.append(0.0 if r + pr == 0 else 2 * r * pr / (r + pr))
    out = {"n": int(len(y)), "accuracy": float(np.mean(pred == y)), "macro_f1": float(np.mean(f1)),
           "per_class_recall": rec}
    if P is not None:
        ok = pred != NONE
        out["ece"] = expected_calibration_error(P[ok], y[ok]) if ok.any() else float("nan")
    return out


def evaluate(videos: list[dict], fusion=None, modality: str | None = None, smooth: float = 0.0) -> dict:
    """Segment (mean-probability and majority) and step figures of one fusion or modality over cached videos;
    ``smooth`` > 0 smooths each video's steps first (:func:`smoothed`)."""
    probs = {}
    for v in videos:
        ps = step_probs(v["steps"], fusion, modality)
        probs.update(zip(map(id, v["steps"]), smoothed(ps, smooth) if smooth else ps))
    mean_pred, maj_pred, P, Y, step_ok, vid = [], [], [], [], [], []
    for k, y, steps in segment_steps(videos):
        ps = [probs[id(s)] for s in steps if probs[id(s)] is not None]
        Y.append(y); vid.append(k)
        if not ps:
            mean_pred.append(NONE); maj_pred.append(NONE); P.append(np.full(7, 1 / 7))
            step_ok += [False] * len(steps)
            continue
        m = np.mean(ps, 0)
        P.append(m)
        mean_pred.append(int(m.argmax()))
        votes = [int(p.argmax()) for p in ps]
        counts = np.bincount(votes, minlength=7)
        maj_pred.append(next(v for v in votes if counts[v] == counts.max()))
        step_ok += [v == y for v in votes] + [False] * (len(steps) - len(ps))
    Y, P = np.array(Y), np.array(P)
    out = report(np.array(mean_pred), Y, P)
    out["majority_accuracy"] = float(np.mean(np.array(maj_pred) == Y))
    out["majority_macro_f1"] = report(np.array(maj_pred), Y)["macro_f1"]
    out["step_accuracy"] = float(np.mean(step_ok))
    out["correct"] = (np.array(mean_pred) == Y).astype(int).tolist()
    kinds = np.array([seg["degrade"] for v in videos for seg in v["segments"]])
    if len(set(kinds)) > 1:
        out["accuracy_by_face_degradation"] = {k: float(np.mean(np.array(out["correct"])[kinds == k]))
                                               for k in sorted(set(kinds))}
    out["video"] = vid
    return out


def paired_interval(a: dict, b: dict, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    """90 % bootstrap interval (videos resampled) of segment accuracy ``a`` minus ``b`` on the same segments."""
    d = np.array(a["correct"]) - np.array(b["correct"])
    vid = np.array(a["video"])
    groups = [np.flatnonzero(vid == v) for v in np.unique(vid)]
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(n):
        idx = np.concatenate([groups[i] for i in rng.integers(0, len(groups), len(groups))])
        stats.append(d[idx].mean())
    return float(np.quantile(stats, 0.05)), float(np.quantile(stats, 0.95))
