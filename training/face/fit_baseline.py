"""Fit the face neutral-baseline constants (``face-baseline``: ``ref``, ``eps``, ``alpha``).

    OMP_NUM_THREADS=1 nice -n 10 python -m training.face.fit_baseline [--out models/face/face_baseline_v1.json]

* ``ref``: the shipped base model's mean calibrated probabilities over the de-duplicated FER-2013 dev neutral
  crops (as ``assess`` computes them: int8, default early exit). It is what the model says for a neutral face
  of the population, a calibration constant like the face temperature (also fitted on dev). Train crops would
  not do: the networks were trained on them and read them as neutral far more surely than an unseen face.
* ``eps = 0.02``: floor added to the probabilities before the logarithm, fixed in advance, so that classes the
  model all but rules out do not dominate the offset.
* ``alpha``: the rule, fixed before any figure was printed: the largest of 0.25, 0.5, 0.75 and 1 whose
  "stranger's neutral, k=1" row (a baseline that says nothing about the tested face; ``ref`` cross-fitted over
  halves of dev) costs at most 1.0 point of accuracy against no baseline and keeps ECE <= 0.05; none: 0.25.
  The proxies that could reward a larger alpha (the same photograph as its own baseline) are circular and are
  not used to choose. With no person ids in FER-2013 the gain on real people cannot be measured here
  (``benchmarks/face_baseline.py``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from training.common.data import REPO

EPS = 0.02
ALPHAS = (0.25, 0.5, 0.75, 1.0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--out", default=None, help="write the constants (JSON); inside models/: registered")
    ap.add_argument("--version", default="1.0.0")
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from cxsense.metrics import classification_report
    from training.face.baseline_proxies import cross_fitted, dev_probabilities, proxy_rows
    from cxsense.emotions import EMOTIONS
    from cxsense.encoders.face.encoder import FaceEncoder
    from training.common.fer import data_root, load_fer

    x, y, split = load_fer(data_root(a.data), "dev")
    enc = FaceEncoder("base")
    info = enc.info()["expression"]
    print(f"split: {split}; model {info['name']} {info['version']} ({info['precision']}, early exit "
          f"{info.get('early_exit', {}).get('threshold')})")
    neutral = EMOTIONS.index("neutral")
    P, P_aug = dev_probabilities(enc, x), dev_probabilities(enc, x, seed=1)
    ref = P[y == neutral].mean(0)
    print(f"ref (mean over {int((y == neutral).sum())} dev neutral crops): {np.round(ref, 4).tolist()}")
    chosen = ALPHAS[0]
    for alpha in ALPHAS:
        rows = proxy_rows(P, P_aug, y, cross_fitted(P, y, neutral, {"eps": EPS, "alpha": alpha}), neutral)
        r0 = classification_report(*rows["no baseline"], EMOTIONS)
        line = []
        for name, (Q, yy) in rows.items():
            r = classification_report(Q, yy, EMOTIONS)
            line.append(f"{name} acc {r['accuracy']:.4f} F1 {r['macro_f1']:.4f} ECE {r['ece']:.4f}")
        rs = classification_report(*rows["stranger's neutral, k=1"], EMOTIONS)
        ok = (r0["accuracy"] - rs["accuracy"] <= 0.010) and rs["ece"] <= 0.05
        print(f"alpha {alpha}: " + "; ".join(line) + f" -> rule {'met' if ok else 'not met'}")
        if ok:
            chosen = alpha
    print(f"chosen alpha {chosen}")
    if a.out:
        from training.common.model_metadata import face_baseline_meta, provenance, register, write_json

        licence = "same terms as the face model (FER-2013: research and evaluation)"
        command = "python -m training.face.fit_baseline " + " ".join(argv if argv is not None else sys.argv[1:])
        meta = face_baseline_meta(a.version, ref=ref.tolist(), eps=EPS, alpha=chosen, provenance=provenance(
            f"{split}; ref over its neutral crops through {info['name']} {info['version']} ({info['precision']}, "
            "default early exit); alpha by the rule in training/face/fit_baseline.py", licence, command))
        out = write_json(a.out, {}, meta)
        print(f"wrote {out}")
        if out.resolve().is_relative_to((REPO / "models").resolve()):
            register("face-baseline", out, meta, licence=licence, card="face/MODEL_CARD.md",
                     origin="fitted in this repository by training/face/fit_baseline.py")
            print("registry entry 'face-baseline' updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
