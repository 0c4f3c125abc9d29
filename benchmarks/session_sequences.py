"""Segment accuracy of sessions on dev sequences (issue 24, item 3): posed faces with same-emotion speech.

    python -m benchmarks.session_sequences [--degrade none|blur|lowres|jpeg|small|mixed] [--seed 0] [--data PATH]

The sequences (:mod:`benchmarks.sequences_data`): FER-2013 PublicTest faces (de-duplicated) and every RAVDESS
clip of actors 19-20, one emotion per segment, 5 segments per video, each video run through
``cxsense.analyze_session`` with the default policy (5 analysed frames per second, 1-s steps, 3-s voice windows).
What each step saw is cached; the fusions below are applied to the same steps offline, each through
``cxsense.fusion.fuse`` (exactly what the session does: the first line checks that the shipped fusion applied
offline gives the session's own rows).

Definitions:

- a segment's **steps** are the 1-s steps that start inside it; per step, the person with the most frames
  (two faces on screen together keep the voice out, as in the session);
- a segment's label is the **argmax of the mean of its steps' probabilities** (primary); the majority of its
  steps' emotions (ties to the earliest step's) is printed beside it; a segment without any usable step counts
  as wrong;
- **face alone**: the same over the pooled face of each step with a face; **voice alone**: over each step's
  voice with quality > 0;
- per-class recall, macro-F1 (over the 7 classes) and the ECE of the mean probabilities; step accuracy counts
  every step against its segment's label.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from benchmarks.metrics import expected_calibration_error, machine

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


def session_check(videos: list[dict]) -> tuple[float, int]:
    """Largest difference between the shipped fusion applied offline and the rows the sessions made, and the number
    of videos checked: a video cached before a step calibration was shipped is checked as pairs, one cached with
    another calibration file is not checked."""
    from cxsense.errors import NoSignalError
    from cxsense.fusion import fuse, get_fusion

    worst, checked = 0.0, 0
    for v in videos:
        fusion = get_fusion()
        made, now = (v.get("fusion") or {}).get("step_calibration"), getattr(fusion, "step_calibration", None)
        if made is None and now is not None:
            fusion = fusion.with_step_calibration(None)
        elif made is not None and (now is None or made != dict(now.meta)):
            continue
        checked += 1
        for s in v["steps"]:
            results, exclude, person = step_inputs(s)
            row = next((r for r in s["rows"] if r["person"] == person), None)
            try:
                a = fuse(results, exclude=exclude, fusion=fusion)
            except NoSignalError:
                continue
            if row is not None and row["emotion"] != "no_signal":
                worst = max(worst, float(np.abs(np.array(list(a.probabilities.values())) - row["p"]).max()))
    return worst, checked


def describe(videos: list[dict]) -> str:
    steps = [s for v in videos for s in v["steps"]]
    face = np.mean([bool(s["persons"]) for s in steps])
    multi = np.mean([s.get("together", len(s["persons"]) > 1) for s in steps])
    voice = np.mean([s["voice"] is not None and s["voice"][7] > 0 for s in steps])
    wall = sum(v["seconds"] for v in videos)
    dur = sum(v["duration_s"] for v in videos)
    return (f"{len(steps)} steps: a face in {face:.1%} (two together in {multi:.1%}), a voice in {voice:.1%}; "
            f"sessions ran {dur:.0f} s of video in {wall:.0f} s ({dur / wall:.2f}x real time, shared machine)")


def print_result(name: str, r: dict) -> None:
    rec = ", ".join(f"{e} {v:.3f}" for e, v in r["per_class_recall"].items())
    print(f"  {name:<34} segment accuracy {r['accuracy']:.3f} macro-F1 {r['macro_f1']:.3f} "
          f"ECE {r.get('ece', float('nan')):.3f} | majority {r['majority_accuracy']:.3f} (macro-F1 "
          f"{r['majority_macro_f1']:.3f}) | step accuracy {r['step_accuracy']:.3f}\n      recall: {rec}")
    if "accuracy_by_face_degradation" in r:
        print("      segment accuracy by face degradation: "
              + ", ".join(f"{k} {v:.3f}" for k, v in r["accuracy_by_face_degradation"].items()))


def comparison_fusions() -> dict:
    """The fusions compared: the one in use, and the same without its step calibration (session steps as pairs)."""
    from cxsense.fusion import get_fusion

    shipped = get_fusion()
    out = {"shipped fusion (get_fusion)": shipped}
    if getattr(shipped, "step_calibration", None) is not None:
        out["as pairs (no step calibration)"] = shipped.with_step_calibration(None)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--degrade", default="none", choices=["none", "blur", "lowres", "jpeg", "small", "mixed"])
    ap.add_argument("--limit", type=int, default=None, help="only the first N videos (a quick look)")
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from benchmarks.sequences_data import build
    from cxsense.fusion import get_fusion

    split, videos = build("dev", a.seed, a.degrade, limit=a.limit, data=a.data)
    print(f"machine: {machine()}")
    print(f"split: {split}")
    print(describe(videos))
    worst, checked = session_check(videos)
    print(f"shipped fusion offline vs the sessions' own rows: largest probability difference {worst:.2e} "
          f"({checked} of {len(videos)} videos made with this fusion file or as pairs)")
    res = {name: evaluate(videos, f) for name, f in comparison_fusions().items()}
    first = next(iter(res.values()))
    res["shipped + temporal smoothing 0.5 (tried, not shipped)"] = evaluate(videos, get_fusion(), smooth=0.5)
    res["face alone"] = evaluate(videos, modality="face")
    res["voice alone"] = evaluate(videos, modality="voice")
    for name, r in res.items():
        print_result(name, r)
    if "as pairs (no step calibration)" in res:
        pairs = res["as pairs (no step calibration)"]
        lo, hi = paired_interval(first, pairs)
        print(f"  step calibration minus pairs: segment accuracy {first['accuracy'] - pairs['accuracy']:+.3f}"
              f" (90 % bootstrap interval over videos {lo:+.3f} to {hi:+.3f})")
    for r in res.values():
        r.pop("correct"); r.pop("video")
    print("JSON " + json.dumps({"split": split, "degrade": a.degrade, "results": res}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
