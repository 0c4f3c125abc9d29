"""A third family of `mouth_open` candidates: the mouth's shape from the whole lip contours (docs/cues.md).

    OMP_NUM_THREADS=1 python -m benchmarks.face_cue_mouth_shape [--data DIR] [--per-class 1500] [--dev NAME]

Written down before any AUC of these was computed (2026-12-05). The chosen aperture reads two midline points over
two corners; these read the 40 lip points of the contours, which may average out the mesh's per-point error on
48-pixel faces. Candidates, all on the frontal mesh (the similarity fit of ``cues.RIGID``), over the mouth width
(outer corners 61-291) or its square:

- ``inner_area``: area of the inner-lip polygon (20 points) / width^2;
- ``outer_area``: area of the outer-lip polygon (20 points) / width^2;
- ``inner_height5``: mean of five inner-lip vertical gaps / width;
- ``outer_height5``: mean of five outer-lip vertical heights / width;
- ``open_share``: inner area / outer area (how much of the mouth is open).

Rule: on FER-2013 **train** (the ``benchmarks.face_cues --fit`` sample: ``--per-class`` each of surprise and
neutral... and happiness, seed 0), the candidate with the highest AUC surprise vs neutral is adopted only if it beats
the shipped ``mouth_aperture`` on the same faces by 0.01 or more; dev is then read once (``--dev NAME``) and
reported whatever it gives.
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.face_cues import CLASSES, Pipeline, _auc, _sample, fer_frame
from benchmarks.metrics import machine
from training.common.fer import data_root, load_fer

OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
INNER_PAIRS = ((81, 178), (82, 87), (13, 14), (312, 317), (311, 402))
OUTER_PAIRS = ((39, 181), (37, 84), (0, 17), (267, 314), (269, 405))


def _area(p):
    x, y = p[:, 0], p[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def shape_measures(landmarks) -> dict[str, float]:
    from cxsense.encoders.face.cues import RIGID, _similarity, canonical_geometry

    lm = np.asarray(landmarks, np.float64)
    s, r, t = _similarity(canonical_geometry()[list(RIGID)], lm[list(RIGID)])
    f = ((lm - t) @ r) / s
    w = float(np.linalg.norm((f[291] - f[61])[:2]))
    ia, oa = _area(f[list(INNER), :2]), _area(f[list(OUTER), :2])
    return {"inner_area": ia / w**2, "outer_area": oa / w**2,
            "inner_height5": float(np.mean([f[b, 1] - f[a, 1] for a, b in INNER_PAIRS])) / w,
            "outer_height5": float(np.mean([f[b, 1] - f[a, 1] for a, b in OUTER_PAIRS])) / w,
            "open_share": ia / max(oa, 1e-9)}


def rows_of(pipe, x, y, idx):
    out = []
    for i in idx:
        r = pipe.run(fer_frame(x[i]))
        if r is not None:
            out.append({"label": int(y[i]), "mouth_aperture": r[2]["mouth_aperture"], **shape_measures(r[1].landmarks)})
    return out


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=None)
    p.add_argument("--per-class", type=int, default=1500)
    p.add_argument("--dev", default=None, help="read dev once for this candidate")
    a = p.parse_args(argv)
    pipe = Pipeline()
    print("machine:", machine())
    split = "dev" if a.dev else "train"
    x, y, desc = load_fer(data_root(a.data), split)
    idx = _sample(y, None if a.dev else a.per_class)
    rows = rows_of(pipe, x, y, idx)
    col = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    sur, neu = col["label"] == CLASSES["surprise"], col["label"] == CLASSES["neutral"]
    print(f"split: FER-2013 {split} ({desc}); {len(rows)} of {len(idx)} faces with a mesh; surprise {sur.sum()}, "
          f"neutral {neu.sum()}")
    names = [a.dev] if a.dev else ["mouth_aperture", "inner_area", "outer_area", "inner_height5", "outer_height5",
                                   "open_share"]
    if a.dev and a.dev != "mouth_aperture":
        names = ["mouth_aperture", a.dev]
    for n in names:
        print(f"{split} AUC surprise vs neutral of {n}: {_auc(col[n][sur], col[n][neu]):.4f}")


if __name__ == "__main__":
    main()
