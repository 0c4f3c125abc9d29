"""Compare voice recipes out of fold: the training actors' logits from ``training.voice.train --cv-folds`` runs.

    python3 -m benchmarks.voice_oof voice_cv3 voice_cv3e160 voice_cv3e320 voice_n85cv3_320

Each argument is a run-name prefix under ``training/runs/`` (git-ignored, made by the commands in
models/voice/MODEL_CARD.md): the folders ``<prefix>_f{0,1,2}_s{seed}`` hold the logits that each fold's run wrote
for the six actors it did not see. For each prefix it prints, per seed and for the seeds averaged, accuracy,
macro-F1, NLL and ECE (15 bins) over all 1,080 files of RAVDESS actors 01-18, with one NLL-fitted temperature
and the training prior (for the uniform-prior, cross-fitted figures of a shipped file, see
``training.voice.calibrate``). The dev actors 19-20 are not used.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from benchmarks.metrics import machine
from cxsense.metrics import expected_calibration_error, fit_temperature, softmax
from training.voice.calibrate import load_oof

RUNS = Path(__file__).resolve().parents[1] / "training" / "runs"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("prefix", nargs="+", help="run-name prefix under training/runs, e.g. voice_cv3e320")
    ap.add_argument("--folds", type=int, default=3)
    a = ap.parse_args(argv)
    print("split: out of fold, RAVDESS actors 01-18 (1,080 files), 3 actor-grouped folds; dev actors 19-20 not used")
    print(f"machine: {machine()}")
    print("temperature: NLL-fitted on the files themselves (training prior), so ECE is optimistic by a little")
    out = {}
    for prefix in a.prefix:
        seeds = sorted({int(p.name.rsplit("_s", 1)[1]) for p in RUNS.glob(f"{prefix}_f*_s*")
                        if (p / "oof_logits.npz").is_file()})
        if not seeds:
            print(f"{prefix}: no finished runs under {RUNS}")
            continue
        groups = [[s] for s in seeds] + ([seeds] if len(seeds) > 1 else [])
        for group in groups:
            runs = [str(RUNS / f"{prefix}_f{k}_s{s}") for s in group for k in range(a.folds)]
            missing = [r for r in runs if not (Path(r) / "oof_logits.npz").is_file()]
            if missing:
                print(f"{prefix} seeds {group}: missing {', '.join(Path(m).name for m in missing)}")
                continue
            z, y, _, _ = load_oof(runs)
            t = fit_temperature(z, y)
            p = softmax(z / t)
            nll = float(-np.log(p[np.arange(len(y)), y] + 1e-12).mean())
            acc, f1 = float(np.mean(p.argmax(1) == y)), float(f1_score(y, p.argmax(1), average="macro"))
            out[f"{prefix} seeds {','.join(map(str, group))}"] = {"n": int(len(y)), "accuracy": acc, "macro_f1": f1,
                                                                  "nll": nll, "temperature": t}
            print(f"{prefix} seeds {group}: n={len(y)} accuracy {acc:.4f} macro-F1 {f1:.4f} NLL {nll:.4f} "
                  f"ECE {expected_calibration_error(p, y):.4f} T {t:.3f}")
    print("JSON " + json.dumps({"title": "voice out of fold", "results": out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
