"""The face's neutral-baseline correction on the only pairs FER-2013 allows: proxies, not people.

    OMP_NUM_THREADS=1 nice -n 10 python3 -m benchmarks.face_baseline [--data DIR] [--constants FILE.json]

FER-2013 has no person ids, so no dev image comes with a neutral image of the same person, and no registry
package we could use ships labelled expression images with person ids (docs/face.md, "Neutral baseline").
**This benchmark therefore cannot show the gain of a person's own neutral baseline.** It measures what can be
measured on the de-duplicated FER-2013 dev split (3,292 crops), through the shipped base model as ``assess``
runs it (int8, default early exit; :meth:`FaceEncoder.crops_embed`, then
:meth:`NeutralCorrection.apply`, which is what ``encode(crop, FaceOptions(detect=False), baseline=...)`` computes;
checked on the first 40 crops):

* ``no baseline``: the model alone;
* ``stranger's neutral, k=1`` / ``k=3``: the baseline is 1 or 3 *other* dev neutral crops (seeded): a
  baseline that carries no information about the tested face, so the change is the cost of the correction's
  noise (the floor a real baseline starts from);
* ``own neutral crop, augmented`` (neutral dev crops only): the baseline is the same crop through the training
  augmentation (rotation, scale, shift, gamma, erasing; seed 1): the closest proxy for "the same person's
  neutral face", optimistic because it is the same photograph;
* ``expressive baseline by mistake``: the baseline is the tested crop itself, augmented (seed 1): what happens
  when a user passes a non-neutral image as the baseline.

Rows are printed with the registered constants, whose ``ref`` was computed on all dev neutral crops, and with
``ref`` cross-fitted (each half of the dev crops corrected with the ``ref`` of the other half's neutral crops),
which is the honest figure for the stranger rows.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from training.face.baseline_proxies import cross_fitted, dev_probabilities, proxy_rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--constants", default=None, help="candidate constants (JSON) instead of the registered ones")
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from benchmarks.metrics import machine
    from cxsense.metrics import classification_report
    from cxsense.emotions import EMOTIONS
    from cxsense.encoders.face.baseline import FaceBaseline, NeutralCorrection
    from cxsense.encoders.face.encoder import FaceEncoder
    from cxsense.options import FaceOptions
    from training.common.fer import data_root, load_fer

    x, y, split = load_fer(data_root(a.data), "dev")
    print(f"split: {split} (no person ids: proxies only)\nmachine: {machine()}")
    enc = FaceEncoder("base")
    if a.constants:
        with open(a.constants) as f:
            enc._correction = NeutralCorrection.from_document(json.load(f))
    else:
        enc._correction = NeutralCorrection.load()
    corr = enc._correction
    print(f"constants: alpha {corr.alpha}, eps {corr.eps}, ref {np.round(corr.ref, 3).tolist()}")
    P, P_aug = dev_probabilities(enc, x), dev_probabilities(enc, x, seed=1)
    # the same numbers as encode(..., detect_face=False, baseline=...) on a few crops
    from cxsense.inputs.image import load_image

    for i in range(40):
        b = FaceBaseline(P_aug[(i + 1) % len(x)], 1, 1)
        r = enc.encode(load_image(x[i], parameter="face"), FaceOptions(detect=False), baseline=b)
        if not np.allclose(r.probability_vector(), corr.apply(P[i], b), atol=1e-6):
            raise SystemExit(f"crop {i}: encode(..., baseline=) differs from the batch computation")
    neutral = EMOTIONS.index("neutral")
    out = {}
    for label, corr_for in (("registered ref (all dev neutral crops)", lambda i: corr),
                            ("cross-fitted ref (other half's neutral crops)", cross_fitted(P, y, neutral, {
                                "eps": corr.eps, "alpha": corr.alpha, "version": corr.version}))):
        print(f"== {label}")
        for name, (Q, yy) in proxy_rows(P, P_aug, y, corr_for, neutral).items():
            r = classification_report(Q, yy, EMOTIONS)
            rec = " ".join(f"{c[:3]} {v:.3f}" for c, v in r["per_class_recall"].items())
            print(f"  {name:>48}: n {r['n']} acc {r['accuracy']:.4f} F1 {r['macro_f1']:.4f} ECE {r['ece']:.4f} "
                  f"| recall {rec}")
            out[f"{label} / {name}"] = {k: r[k] for k in ("n", "accuracy", "macro_f1", "ece", "per_class_recall")}
    print("JSON " + json.dumps({"title": "face neutral baseline, proxies", "split": split, "results": out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
