"""The shipped physiology model on windows of 30 to 120 s (issue 4 allows them; the model trained on 60 s).

Split: the dev subjects of Stress-Predict (S04, S09, S14), never trained on. Each window length ``L`` is cut
with a 30-s hop from the start of each recording and labelled by the majority of its 1-Hz labels (the
protocol's rule, with ``L`` in place of 60 s). Every window goes through ``PhysioEncoder.encode`` with no
baseline, one by one, as ``cxsense.assess(physio=...)`` would see it. Balanced accuracy uses the model's
stored threshold (the training prevalence). Three subjects are few: read differences of a few points as noise.

    OMP_NUM_THREADS=1 python -m benchmarks.physio_window_length [--lengths 30,45,60,90,120]
"""

from __future__ import annotations

import argparse
import json
import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np

from benchmarks.metrics import machine
from training.common.stress_predict import subjects, windows
from training.physio.train import evaluate


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", default="30,45,60,90,120", help="window lengths in seconds, comma-separated")
    a = ap.parse_args()
    from cxsense.encoders.physio.encoder import PhysioEncoder
    from cxsense.inputs.physio import load_physio

    enc = PhysioEncoder()
    thr = float(enc._model.meta["decision_threshold"])
    info = enc.info()
    dev = sorted(u for u, v in subjects().items() if v == "dev")
    print(f"machine: {machine()}")
    print(f"split: Stress-Predict dev subjects {', '.join(dev)}; 30-s hop, majority label; no baseline; "
          f"trees {info['version']}, shape network {info['shape_model']['version']}, threshold {thr:.3f}")
    print(f"{'window':>7} {'n':>5} {'stress share':>12} {'BA':>6} {'rec stress':>10} {'rec non':>8} {'AUC':>6} "
          f"{'ECE':>6} {'no signal':>9}")
    out = {}
    for length in (int(x) for x in a.lengths.split(",")):
        P, Y, S, none = [], [], [], 0
        for u in dev:
            for _, lab, _, mp in windows(u, window_s=length):
                r = enc.encode(load_physio(mp))
                if r.stress is None:
                    none += 1
                P.append(r.stress if r.stress is not None else thr)
                Y.append(lab)
                S.append(u)
        P, Y, S = np.array(P), np.array(Y), np.array(S)
        r = evaluate(P, Y, thr, S)
        r["no_signal_windows"] = none
        out[f"{length}s"] = r
        print(f"{length:>6}s {r['n']:>5} {Y.mean():>12.3f} {r['balanced_accuracy']:>6.3f} {r['recall_stress']:>10.3f} "
              f"{r['recall_nonstress']:>8.3f} {r['auc']:>6.3f} {r['ece']:>6.3f} {none:>9}")
    print("JSON " + json.dumps(out))


if __name__ == "__main__":
    main()
