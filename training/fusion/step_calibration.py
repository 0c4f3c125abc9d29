"""Fit the session step calibration (issue 24, item 3) and export ``models/fusion/step_calibration_v1.json``.

    python -m training.fusion.step_calibration            # fit, compare on dev, export and register
    python -m training.fusion.step_calibration --dry-run  # print the comparison only

Data: session sequences (:mod:`training.fusion.sequences`) run through ``cxsense.analyze_session`` and cached per
step. **Fit** on train sequences: FER-2013 Training faces x RAVDESS actors 01-18 (2 clips per actor and label,
252 segments), once with clean faces and once with degraded ones (``mixed``: blur, low resolution, JPEG, small
faces); **choose** on dev sequences: FER-2013 PublicTest x every clip of actors 19-20 (120 segments), clean and
degraded (seed 0). ``python -m benchmarks.session_sequences --seed 1`` then checks the choice on other dev faces in
other orders of the same clips. Only steps with a pooled face and a usable voice are fitted (the others are not changed).

Candidates (see :mod:`cxsense.fusion.session` for the formula; ``F``, ``V`` are the shipped pair fusion's terms):

- ``pair``: the pair fusion as shipped (weights 1, its intercept, its face+voice temperature);
- ``equal priors``: the same with ``class_bias = 0`` (nothing fitted);
- ``weights``: ``class_bias = 0``, face and voice weights fitted on train steps (multinomial NLL, temperature 1),
  then the temperature chosen on dev steps (NLL); the weights' ratio comes from train, their scale from dev;
- ``weights + bias``: the same with the class bias fitted too (L2 0.01 toward 0);
- ``weights by frames``: face weight ``a_f * s ** g`` (``s``: share of the step's frames with the face), to see
  whether the pooled face's weight should depend on how many frames it pooled.

The exported candidate is the one with the best mean dev segment accuracy over the two dev sets among those whose
fear and disgust recall stay >= 0.5 on clean dev; ties go to fewer fitted parameters.
"""

from __future__ import annotations

import argparse
import json
import os
import platform

import numpy as np
from scipy.optimize import minimize

from training.common.data import REPO

OUT = REPO / "models" / "fusion" / "step_calibration_v1.json"
LICENCE = ("weights: cxsense's own; fitted on outputs of the face (FER-2013, research use) and voice (RAVDESS, "
           "CC BY-NC-SA 4.0) models: non-commercial research use")
ORIGIN = "training/fusion/step_calibration.py on session sequences (training/fusion/sequences.py)"
#: (split, faces, seed) of the sequence sets fitted on and chosen on.
SETS = {"train": [("train", "none", 0), ("train", "mixed", 0)],
        "dev": [("dev", "none", 0), ("dev", "mixed", 0)]}


def step_arrays(videos: list[dict], pair) -> dict:
    """Per step with a pooled face and a usable voice: the pair fusion's face and voice terms, the share of
    frames with the face, the segment's label."""
    from training.fusion.sequence_metrics import segment_steps, step_inputs
    from cxsense.fusion.features import feature_row
    from cxsense.fusion.session import frame_share, is_pooled_step

    F, V, n, y, ok = [], [], [], [], []
    for _, label, steps in segment_steps(videos):
        for s in steps:
            results, exclude, _ = step_inputs(s)
            usable = {k: r for k, r in results.items() if r.quality > 0 and k not in (exclude or {})}
            if not is_pooled_step(usable):
                continue
            f, v = pair.block_terms(feature_row(usable)[None])
            F.append(f[0]); V.append(v[0]); n.append(frame_share(usable["face"])); y.append(label)
            ok.append([usable[m].probability_vector().argmax() == label for m in ("face", "voice")])
    return {"F": np.array(F), "V": np.array(V), "n": np.array(n, float), "y": np.array(y), "ok": np.array(ok, float)}


def logits(th: np.ndarray, d: dict, kind: str) -> np.ndarray:
    af, av = th[0], th[1]
    g = th[2] if kind == "frames" else 0.0
    b = np.concatenate([th[3:9], [0.0]]) if kind == "bias" else np.zeros(7)
    return (af * d["n"][:, None] ** g) * d["F"] + av * d["V"] + b


def nll(z: np.ndarray, y: np.ndarray) -> float:
    z = z - z.max(1, keepdims=True)
    return float(-np.mean(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(1))))


def fit(d: dict, kind: str) -> np.ndarray:
    th0 = np.array([1.0, 1.0, 0.0] + [0.0] * 6)
    free = {"weights": [0, 1], "frames": [0, 1, 2], "bias": [0, 1] + list(range(3, 9))}[kind]

    def obj(x):
        th = th0.copy(); th[free] = x
        return nll(logits(th, d, kind), d["y"]) + 0.01 * float(np.sum(th[3:9] ** 2))

    r = minimize(obj, th0[free], method="L-BFGS-B", bounds=[(0.05, 20) if i < 2 else (-3, 3) for i in free])
    th = th0.copy(); th[free] = r.x
    return th


def choose_temperature(z: np.ndarray, y: np.ndarray) -> float:
    grid = np.exp(np.linspace(np.log(0.2), np.log(5.0), 161))
    return float(grid[int(np.argmin([nll(z / t, y) for t in grid]))])


def candidates(pair, train: dict, dev: dict) -> dict:
    """name -> (StepCalibration, number of fitted parameters, fitted values)."""
    from cxsense.emotions import EMOTIONS
    from cxsense.fusion.session import StepCalibration

    b_pair = np.zeros(7)
    b_pair[[EMOTIONS.index(c) for c in pair.classes]] = pair.intercept
    t_pair = pair.subset_temperatures.get("face+voice", pair.temperature)
    out = {"pair": (StepCalibration(1.0, 1.0, b_pair, t_pair, meta={"version": "pair"}), 0, {}),
           "equal priors": (StepCalibration(1.0, 1.0, np.zeros(7), t_pair, meta={"version": "equal priors"}), 0, {})}
    for name, kind, k in (("weights", "weights", 3), ("weights + bias", "bias", 9), ("weights by frames", "frames", 4)):
        th = fit(train, kind)
        T = choose_temperature(logits(th, dev, kind), dev["y"])
        b = np.concatenate([th[3:9], [0.0]]) if kind == "bias" else np.zeros(7)
        out[name] = (StepCalibration(float(th[0]), float(th[1]), b, T, float(th[2]), meta={"version": name}), k,
                     {"face_weight": th[0], "voice_weight": th[1], "frames_exponent": th[2],
                      "class_bias": b.round(3).tolist(), "T": T})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--dry-run", action="store_true")
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from training.fusion.sequence_metrics import evaluate
    from training.fusion.sequences import build
    from cxsense.fusion.learned import LearnedFusion

    pair = LearnedFusion.load(__import__("cxsense.registry", fromlist=["x"]).model_path("late-fusion"))  # no step part
    videos, arrays, splits = {}, {}, []
    for part, keys in SETS.items():
        for key in keys:
            desc, videos[key] = build(key[0], key[2], key[1], data=a.data)
            splits.append(desc)
        parts = [step_arrays(videos[k], pair) for k in keys]
        arrays[part] = {f: np.concatenate([p[f] for p in parts]) for f in parts[0]}
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical cores, Python "
          f"{platform.python_version()}")
    print("split:\n  " + "\n  ".join(splits))
    print(f"fitted steps (pooled face + voice): train {len(arrays['train']['y'])}, dev {len(arrays['dev']['y'])}")
    for part in ("train", "dev"):
        f_ok, v_ok = arrays[part]["ok"].mean(0)
        print(f"  {part} steps read right by the face alone {f_ok:.3f}, by the voice alone {v_ok:.3f}")
    cands = candidates(pair, arrays["train"], arrays["dev"])
    rows, dev_keys = {}, SETS["dev"]
    for name, (cal, k, vals) in cands.items():
        fusion = pair.with_step_calibration(cal)
        z_dev = cal.logits(arrays["dev"]["F"], arrays["dev"]["V"], arrays["dev"]["n"])
        r = rows[name] = {"k": k, "params": {k2: (round(float(v), 4) if np.isscalar(v) else v) for k2, v in vals.items()},
                          "dev_step_nll": nll(z_dev, arrays["dev"]["y"]),
                          "sets": {f"{d} s{sd}": evaluate(videos[(sp, d, sd)], fusion) for sp, d, sd in dev_keys}}
        clean = [e for n, e in r["sets"].items() if n.startswith("none")]
        r["mean_accuracy"] = float(np.mean([e["accuracy"] for e in r["sets"].values()]))
        r["clean_fear_disgust"] = min(float(np.mean([e["per_class_recall"][c] for e in clean])) for c in ("fear", "disgust"))
        print(f"\n== {name} ({k} fitted) {r['params']}\n   dev steps with face+voice: NLL {r['dev_step_nll']:.4f}; "
              f"mean segment accuracy {r['mean_accuracy']:.3f}")
        for n, e in r["sets"].items():
            print(f"   dev {n:<8}: segment accuracy {e['accuracy']:.3f} macro-F1 {e['macro_f1']:.3f} step accuracy "
                  f"{e['step_accuracy']:.3f} | recall " + ", ".join(f"{c} {v:.2f}" for c, v in e["per_class_recall"].items()))
    ok = [n for n, r in rows.items() if r["clean_fear_disgust"] >= 0.5]
    best = max(ok, key=lambda n: (round(rows[n]["mean_accuracy"], 6), -rows[n]["k"]))
    from training.fusion.sequence_metrics import paired_interval

    print(f"\nchosen: {best}")
    for n in rows[best]["sets"]:
        e, p0 = rows[best]["sets"][n], rows["pair"]["sets"][n]
        lo, hi = paired_interval(e, p0)
        print(f"  {best} minus pair, dev {n}: segment accuracy {e['accuracy'] - p0['accuracy']:+.3f} "
              f"(90 % bootstrap interval over videos {lo:+.3f} to {hi:+.3f})")
    for r in rows.values():
        for e in r["sets"].values():
            e.pop("correct"); e.pop("video")
    print("JSON " + json.dumps({"split": splits, "results": rows, "chosen": best}, default=float))
    if a.dry_run or best == "pair":
        return 0
    cal = cands[best][0]
    from cxsense.registry import model_entry
    from training.common.model_metadata import provenance, register, write_json

    meta = cal.metadata("step-calibration", "1.0.0", provenance(
        "train sequences (training/fusion/sequences.py): FER-2013 Training x RAVDESS actors 01-18, 2 clips per actor "
        "and label, 252 segments, clean and degraded faces; steps with a pooled face and a voice", LICENCE,
        "python -m training.fusion.step_calibration",
        [{"run": "training/runs/sequences", "role": "session sequences, cached per step"}],
        candidate=best, params=rows[best]["params"],
        choose="dev sequences: FER-2013 PublicTest x RAVDESS actors 19-20 (seed 0), clean and degraded faces",
        late_fusion={"version": model_entry("late-fusion")["version"], "sha256_at_fit": model_entry("late-fusion")["sha256"]}))
    write_json(OUT, {"class_bias": [float(v) for v in cal.class_bias]}, meta)
    e = register("step-calibration", OUT, meta, licence=LICENCE, card="fusion/MODEL_CARD.md", origin=ORIGIN)
    print(f"wrote {OUT}, SHA-256 {e['sha256']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
