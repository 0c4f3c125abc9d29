"""Screens of shape-network variants against the shipped recipe, on 5-fold out-of-fold scores (train subjects).

Split: Stress-Predict, the 25 ``train`` subjects in the 5 subject-grouped folds that calibrate the shipped
ensemble (sorted ids, round robin); scored on the protocol's 60-s windows at a 30-s hop (2,711). The dev and
held-back subjects are not touched, and neither is the leave-one-subject-out figure of issue 4's floor: these
screens decide whether a variant deserves a LOSO run at all. Each variant prints the network alone and the
shipped ensemble rule (trees / their spread + network / its spread, Platt-calibrated); BA at the training
prevalence.

Variants (the shipped recipe is ``seed0``: width 32, 12 epochs):
  ``seed1``, ``seed2``       the recipe with other seeds; ``seeds012`` averages the three networks' logits
  ``width64``                twice the channels
  ``epochs24``               twice the epochs (the one-cycle schedule stretched)
  ``aux05``, ``aux10``       an auxiliary 5-class head (rest before any task, recovery = rest within 300 s of a
                             task, Stroop, interview, hyperventilation; Stress-Predict's ``phase_1hz``) with
                             weight 0.5 or 1.0; the head is dropped after training

    OMP_NUM_THREADS=1 python -m training.experiments.screen_physio_shape [--variants seed0,seed1,...]   # all: about 20 min
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from training.common.stress_predict import load_features, stress_predict_dir, subjects
from training.physio.train_shape import aligned, build_sequences, grouped_shape_scores

VARIANTS = {
    "seed0": dict(seed=0), "seed1": dict(seed=1), "seed2": dict(seed=2),
    "width64": dict(seed=0, width=64), "epochs24": dict(seed=0, epochs=24),
    "aux05": dict(seed=0, aux_weight=0.5), "aux10": dict(seed=0, aux_weight=1.0),
}
AVERAGES = {"seeds012": ("seed0", "seed1", "seed2")}
RECOVERY_S = 300


def phase_classes(d: dict, root=None) -> np.ndarray:
    """Per series window: the majority protocol phase (0 rest, 1 Stroop, 2 interview, 3 hyperventilation),
    with rest split into 0 (no task in the previous ``RECOVERY_S`` seconds) and 4 (recovery)."""
    cache: dict[str, np.ndarray] = {}
    out = []
    for u, s in zip(d["subject"], d["start_s"]):
        u, s = str(u), int(s)
        if u not in cache:
            cache[u] = np.load(stress_predict_dir(root) / f"{u}.npz")["phase_1hz"].astype(np.int64)
        ph = cache[u]
        m = int(np.bincount(ph[s:s + 60], minlength=4).argmax())
        out.append(4 if m == 0 and s > 0 and np.any(ph[max(0, s - RECOVERY_S):s] > 0) else m)
    return np.array(out, np.int64)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--variants", default=",".join(list(VARIANTS) + list(AVERAGES)))
    a = ap.parse_args()
    from training.common.data import data_root
    from training.physio.train import evaluate, grouped_scores, platt, sigmoid

    t0 = time.time()
    log = lambda m: print(f"[{time.time() - t0:6.0f} s] {m}", flush=True)
    root = data_root(a.data)
    train_subs = sorted(u for u, v in subjects(root).items() if v == "train")
    f = load_features(root)
    tr = np.isin(f["subject"], train_subs)
    y, s, st = f["y"][tr], f["subject"][tr], f["start_s"][tr]
    prev = float(y.mean())
    print(f"split: Stress-Predict train subjects ({len(train_subs)}), 5 subject-grouped folds, {tr.sum()} "
          f"protocol windows (60 s, 30-s hop); BA at the training prevalence {prev:.3f}")
    d = build_sequences(root)
    zt = grouped_scores(f["X"][tr], y, s, 0, 5, "hgb")
    wanted = a.variants.split(",")
    need = {v for v in wanted if v in VARIANTS} | {m for v in wanted if v in AVERAGES for m in AVERAGES[v]}
    aux = phase_classes(d, root) if any("aux_weight" in VARIANTS[v] for v in need) else None
    z = {}
    for v in [v for v in VARIANTS if v in need]:
        kw = dict(VARIANTS[v])
        seed = kw.pop("seed")
        z[v] = aligned(grouped_shape_scores(d, train_subs, 5, seed, lambda m: None,
                                            aux=aux if "aux_weight" in kw else None, **kw), s, st)
        log(f"{v} trained")
    for v, members in AVERAGES.items():
        if v in wanted:
            z[v] = np.mean([z[m] for m in members], axis=0)

    def row(name, score):
        ca, cb = platt(score, y)
        r = evaluate(sigmoid(ca * score + cb), y, prev)
        print(f"{name:28s} BA {r['balanced_accuracy']:.4f}  AUC {r['auc']:.4f}  ECE {r['ece']:.4f}")

    row("trees alone", zt)
    for v in wanted:
        row(f"{v}: network alone", z[v])
        row(f"{v}: trees + network", zt / zt.std() + z[v] / z[v].std())


if __name__ == "__main__":
    main()
