"""How far a perfect mouth or brow reader could go on the floors' task, and how far the face mesh reads the mouth.

    python -m benchmarks.face_cue_ceiling [--data DIR]

``benchmarks/face_cue_ratings.csv`` holds one engineer's ratings of 192 FER-2013 **train** faces (96 surprise, 96
neutral, drawn with seed 2025 from the de-duplicated train split; ``train_index`` is the row in
``training.common.fer.load_fer(..., "train")``), made blind to the class (the faces shown in a shuffled grid, 48x48
bicubic to 192): ``mouth`` 0 closed, 1 lips parted, 2 clearly open, X hidden (hand, mask, watermark, cut off);
``brow`` 0 not raised, 1 somewhat, 2 clearly raised, X hidden. A single rater, so a rough ceiling, not a truth.

Prints (i) the AUC surprise vs neutral of the ratings themselves (hidden read as 0): what a reader of mouth opening
or brow raising that agrees with this rater would reach on the floors' task; (ii) for the faces the detector and
mesh find (framing of ``benchmarks/face_cues.py``), the same AUC of the raw measures, and their AUC between faces
rated clearly open (2) and closed (0) whatever the class: how well the mesh reads the mouth itself.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from benchmarks.face_cues import Pipeline, _auc, fer_frame
from benchmarks.metrics import machine
from training.common.fer import data_root, load_fer

RATINGS = Path(__file__).with_name("face_cue_ratings.csv")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None)
    a = p.parse_args(argv)
    import cv2

    from cxsense.encoders.face.cues import ANCHORS, raw_geometry

    cv2.setNumThreads(1)
    rows = list(csv.DictReader(RATINGS.open()))
    x, y, desc = load_fer(data_root(a.data), "train")
    idx = np.array([int(r["train_index"]) for r in rows])
    if not np.array_equal(y[idx], [int(r["label"]) for r in rows]):
        raise SystemExit("the ratings' labels do not match this train split")
    sur = y[idx] == 5
    print(f"machine: {machine()}\nsplit: {desc}; {len(rows)} rated faces ({sur.sum()} surprise, {(~sur).sum()} neutral)")
    rated = {k: np.array([r[k] for r in rows]) for k in ("mouth", "brow")}
    for k, v in rated.items():
        score = np.where(v == "X", "0", v).astype(float)
        counts = {c: (int(np.sum(v[sur] == c)), int(np.sum(v[~sur] == c))) for c in "012X"}
        print(f"{k} ratings (surprise, neutral) by level {counts}; AUC surprise vs neutral of the ratings "
              f"{_auc(score[sur], score[~sur]):.3f} (hidden as 0), {_auc(score[sur & (v != 'X')], score[~sur & (v != 'X')]):.3f} "
              "(hidden left out)")
    pipe = Pipeline()
    geo = []
    for i in idx:
        r = pipe.run(fer_frame(x[i]), iris="network")
        geo.append(None if r is None else raw_geometry(r[1]))
    found = np.array([g is not None for g in geo])
    w = ANCHORS["brow_raise"]["measure"]["upper_lid_raise"]
    meas = {"(lip_gap + lip_height) / 2 (earlier mouth_open)": lambda g: (g["lip_gap"] + g["lip_height"]) / 2,
            "mouth_aperture (mouth_open)": lambda g: g["mouth_aperture"],
            "brow_height (earlier brow_raise; 'fast')": lambda g: g["brow_height"],
            f"brow_height + {w} upper_lid_raise (brow_raise)": lambda g: g["brow_height"] + w * g["upper_lid_raise"]}
    print(f"with a face and a mesh: {found.sum()} of {len(rows)}")
    for k in ("mouth", "brow"):
        v = rated[k]
        score = np.where(v == "X", "0", v).astype(float)
        print(f"  {k} ratings on these faces: AUC surprise vs neutral {_auc(score[found & sur], score[found & ~sur]):.3f}")
    for name, f in meas.items():
        m = np.array([f(g) if g is not None else np.nan for g in geo])
        v = rated["mouth" if "lip" in name or "mouth" in name else "brow"]
        two, zero = found & (v == "2"), found & (v == "0")
        print(f"  {name}: AUC surprise vs neutral {_auc(m[found & sur], m[found & ~sur]):.3f}; rated 2 ({two.sum()}) vs "
              f"rated 0 ({zero.sum()}), any class: {_auc(m[two], m[zero]):.3f}")


if __name__ == "__main__":
    main()
