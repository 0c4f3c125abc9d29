"""Jaw-drop rules compared on the same frames: timelines saved by ``benchmarks.cue_video --timelines``.

    python -m benchmarks.cue_rules TL.pkl [TL2.pkl ...] [--rev 5974cb0 --rev 1725689] [--every 2]
                                   [--params '{"open_rest_rise": 3.0}' ...] [--diagnose [JSON]]

Each rule is :func:`cxsense.session.cue_events.jaw_drop_events` as in this tree ("tree") or as in a git revision
(``--rev``: the file at that commit, loaded apart; 5974cb0 is the third rule, 1725689 the fourth). ``--every 2`` keeps
every second frame (10 -> 5 frames per second, the session pipeline's default step). Per file and rule: hits within
1 s of the change, events in neutral-only, mouth-only and speech-like clips, extra events, and the onset minus the
change's midpoint (docs/cues.md, "Session events"). ``--params JSON`` (repeatable) adds this tree's rule with
those keyword arguments (candidates). Over all files, the score is hits minus speech-like events. ``--diagnose``
(optionally with a JSON object of keyword arguments: that variant of this tree's rule): per clip the rule misses, the medians of ``mouth_open``, ``brow_raise``, ``surprise`` and ``eyes_open`` over
the rest (2-4 s) and after the change (4.5-6.5 s), the frames without a mesh, and the rise of ``mouth_open``'s logit
(median after minus median at rest); then, over all clips, the range of that logit within each neutral-only clip and
its rise in the clips the rule finds. The split and faces are those of the ``cue_video`` run that saved
the file (its log says which).
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import types

import numpy as np

from benchmarks.metrics import machine

CHANGE_MID = 4.15  # benchmarks.cue_video: HOLD + RAMP / 2


def rule_at(rev: str):
    """``jaw_drop_events`` from ``cxsense/session/cue_events.py`` at git revision ``rev``."""
    src = subprocess.run(["git", "show", f"{rev}:cxsense/session/cue_events.py"], check=True, capture_output=True,
                         text=True).stdout.replace("from ..errors import", "from cxsense.errors import")
    mod = types.ModuleType(f"cue_events_{rev}")
    exec(compile(src, f"cue_events@{rev}", "exec"), mod.__dict__)
    return mod.jaw_drop_events


def score(timelines: dict, rule, every: int = 1) -> dict:
    """Counts of one rule over the clips of one ``cue_video --timelines`` file."""
    out = {"clips": 0, "hits": 0, "neutral_only": 0, "extra": 0, "mouth_only": 0, "speech": 0, "missed": []}
    lat = []
    for (name, change), tl in timelines.items():
        ev = rule(tl.iloc[::every].reset_index(drop=True))
        if change == "True":
            d = np.asarray(ev["time"], float) - CHANGE_MID
            hit = bool(len(d) and np.min(np.abs(d)) <= 1.0)
            out["clips"] += 1
            out["hits"] += hit
            out["extra"] += max(0, len(ev) - 1)
            lat += [float(d[np.argmin(np.abs(d))])] if len(d) else []
            out["missed"] += [] if hit else [name]
        else:
            out["neutral_only" if change == "False" else change] += len(ev)
    out["onset_median_s"] = round(float(np.median(lat)), 3) if lat else None
    out["onset_range_s"] = [round(min(lat), 2), round(max(lat), 2)] if lat else None
    return out


REST, AFTER = (2.0, 4.0), (4.5, 6.5)  # seconds of a cue_video clip: the rest before the change, the hold after it


def _logit(v):
    v = np.clip(np.asarray(v, float), 1e-6, 1 - 1e-6)
    return np.log(v / (1 - v))


def diagnose(timelines: dict, rule) -> dict:
    """Prints the misses of ``rule`` (see the module docstring); returns the logit ranges and rises."""
    wander, rises = [], []
    for (name, change), tl in timelines.items():
        t = tl["time"].to_numpy(float)
        rest, after = (t >= REST[0]) & (t < REST[1]), (t >= AFTER[0]) & (t < AFTER[1])
        z = _logit(tl["mouth_open"]) if "mouth_open" in tl else np.full(len(t), np.nan)
        z[~np.isfinite(tl["mouth_open"].to_numpy(float) if "mouth_open" in tl else z)] = np.nan
        if change == "False":
            if np.isfinite(z).any():
                wander.append(float(np.nanmax(z) - np.nanmin(z)))
            continue
        if change != "True":
            continue
        rise = float(np.nanmedian(z[after]) - np.nanmedian(z[rest])) if np.isfinite(z[after]).any() else float("nan")
        if len(rule(tl)):
            rises.append(rise)
            continue
        parts = []
        for c in ("mouth_open", "brow_raise", "surprise", "eyes_open"):
            v = tl[c].to_numpy(float) if c in tl else np.full(len(t), np.nan)
            a = np.nanmedian(v[rest]) if np.isfinite(v[rest]).any() else float("nan")
            b = np.nanmedian(v[after]) if np.isfinite(v[after]).any() else float("nan")
            parts.append(f"{c} {a:.2f} -> {b:.2f}")
        print(f"  missed {name}: " + ", ".join(parts) + f"; frames without a mesh {int(np.isnan(z).sum())} of "
              f"{len(z)}; logit rise {rise:+.2f}")
    return {"neutral_only_logit_range": [min(wander), max(wander)] if wander else None,
            "hit_logit_rise": [min(rises), max(rises)] if rises else None}


def main(argv=None):
    from cxsense.session.cue_events import jaw_drop_events

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("timelines", nargs="+", help="pickles written by benchmarks.cue_video --timelines")
    p.add_argument("--rev", action="append", default=[], help="also the rule at this git revision (repeatable)")
    p.add_argument("--every", type=int, default=1, help="keep every N-th frame (2: 10 -> 5 frames per second)")
    p.add_argument("--params", action="append", default=[], help="also this tree's rule with these keyword "
                   "arguments (a JSON object; repeatable)")
    p.add_argument("--diagnose", nargs="?", const="{}", default=None, metavar="JSON",
                   help="the misses of this tree's rule (with these keyword arguments), and logit ranges")
    a = p.parse_args(argv)
    import functools

    rules = ([(f"rev {r}", rule_at(r)) for r in a.rev] + [("tree", jaw_drop_events)]
             + [(f"tree {q}", functools.partial(jaw_drop_events, **json.loads(q))) for q in a.params])
    print(f"timelines from benchmarks.cue_video --timelines: {', '.join(a.timelines)}; every {a.every} frame(s); "
          f"machine: {machine()}")
    results = []
    for path in a.timelines:
        with open(path, "rb") as fh:
            tls = pickle.load(fh)
        for label, rule in rules:
            r = {"file": path, "rule": label, **score(tls, rule, a.every)}
            results.append(r)
            print(f"{path} {label}: {r['hits']} of {r['clips']} within 1 s; neutral-only {r['neutral_only']}, extra "
                  f"{r['extra']}, mouth-only {r['mouth_only']}, speech-like {r['speech']}; onset median "
                  f"{r['onset_median_s']} s, range {r['onset_range_s']}; missed {r['missed']}")
    if a.diagnose is not None:
        ranges = {"neutral_only_logit_range": [], "hit_logit_rise": []}
        rule = functools.partial(jaw_drop_events, **json.loads(a.diagnose))
        for path in a.timelines:
            with open(path, "rb") as fh:
                print(f"{path}, this tree's rule {a.diagnose}:")
                for k, v in diagnose(pickle.load(fh), rule).items():
                    ranges[k] += v or []
        print("all files: logit(mouth_open) range within a neutral-only clip {:.2f} to {:.2f}; logit rise (median "
              "after minus median at rest) in the clips found {:.2f} to {:.2f}".format(
                  min(ranges["neutral_only_logit_range"]), max(ranges["neutral_only_logit_range"]),
                  min(ranges["hit_logit_rise"]), max(ranges["hit_logit_rise"])))
    for label, _ in rules:
        rs = [r for r in results if r["rule"] == label]
        tot = {k: sum(r[k] for r in rs) for k in ("hits", "clips", "neutral_only", "extra", "mouth_only", "speech")}
        print(f"all files, {label}: {tot['hits']} of {tot['clips']} within 1 s; neutral-only {tot['neutral_only']}, "
              f"extra {tot['extra']}, mouth-only {tot['mouth_only']}, speech-like {tot['speech']}; "
              f"score {tot['hits'] - tot['speech']}")
    print("JSON " + json.dumps({"title": "jaw_drop rules on saved cue_video timelines", "every": a.every,
                                "results": [{k: v for k, v in r.items() if k != "missed"} for r in results]}))


if __name__ == "__main__":
    main()
