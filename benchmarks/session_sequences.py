"""Segment accuracy of sessions on dev sequences (issue 24, item 3): posed faces with same-emotion speech.

    python -m benchmarks.session_sequences [--degrade none|blur|lowres|jpeg|small|mixed] [--seed 0] [--data PATH]

The sequences (:mod:`training.fusion.sequences`): FER-2013 PublicTest faces (de-duplicated) and every RAVDESS
clip of actors 19-20, one emotion per segment, 5 segments per video, each video run through
``cxsense.analyze_session`` with the default policy (5 analysed frames per second, 1-s steps, 3-s voice windows).
What each step saw is cached; the fusions below are applied to the same steps offline, each through
``cxsense.fusion.fuse`` (exactly what the session does: the first line checks that the shipped fusion applied
offline gives the session's own rows). Segment label (argmax of the steps' mean probabilities), face alone, voice
alone, recall, macro-F1: :mod:`training.fusion.sequence_metrics`.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from benchmarks.metrics import machine
from training.fusion.sequence_metrics import evaluate, paired_interval, step_inputs


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


def fuse_cost(videos: list[dict], fusions: dict, n: int = 300) -> dict:
    """Median microseconds of one ``fuse`` call on cached steps with a face and a voice, per fusion."""
    import time

    from cxsense.fusion import fuse

    steps = [step_inputs(s) for v in videos for s in v["steps"]]
    steps = [(r, e) for r, e, _ in steps if "face" in r and "voice" in r and not e][:n]
    out = {}
    for name, f in fusions.items():
        t = []
        for r, e in steps:
            t0 = time.perf_counter()
            fuse(r, exclude=e, fusion=f)
            t.append(time.perf_counter() - t0)
        out[name] = 1e6 * float(np.median(t))
    return out


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
    from training.fusion.sequences import build
    from cxsense.fusion import get_fusion

    split, videos = build("dev", a.seed, a.degrade, limit=a.limit, data=a.data)
    print(f"machine: {machine()}")
    print(f"split: {split}")
    print(describe(videos))
    worst, checked = session_check(videos)
    print(f"shipped fusion offline vs the sessions' own rows: largest probability difference {worst:.2e} "
          f"({checked} of {len(videos)} videos made with this fusion file or as pairs)")
    fusions = comparison_fusions()
    cost = fuse_cost(videos, fusions)
    print("fuse() per step with a face and a voice, median: " + ", ".join(f"{k} {v:.0f} us" for k, v in cost.items()))
    res = {name: evaluate(videos, f) for name, f in fusions.items()}
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
