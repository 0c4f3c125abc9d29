"""Stress detection on Stress-Predict: leave-one-subject-out figures, the dev subjects, and the anchor.

Protocol (issue 4): 60-s windows, 30-s hop, majority label; split by subject.

1. LOSO over the 25 train subjects, the shipped recipe (no baseline: scikit-learn's
   HistGradientBoosting, depth-2 trees, missing features routed as learned, ``--window-model hgb``, plus the
   shape network of ``training/physio/train_shape.py`` on the window's centred series, the two scores
   combined with the shipped file's spreads; with baseline: gradient-boosted depth-2 trees on the features and
   their differences from the resting mean, plus the same shape scores; Platt calibration fit on the other
   subjects' out-of-fold scores): without a baseline on all windows (trees alone, shape network alone, both);
   with and without the per-person resting baseline on the windows after the baseline period.
2. The anchor: the same features + a random forest (100 trees, balanced), LOSO, with and without
   each subject's own z-normalisation (the issue quotes 0.634 and 0.711).
3. Dev subjects S04, S09, S14 through the shipped model (``PhysioEncoder.encode``), window by
   window, with no baseline; and with the baseline (the recording's first windows before the first task).

Balanced accuracy uses the decision threshold stored with the model (the training prevalence,
0.333: the Bayes rule for balanced accuracy under a calibrated probability); BA at 0.5 is printed too.

    OMP_NUM_THREADS=1 python -m benchmarks.physio_stress [--no-anchor] [--no-shape-loso]

The shape network's LOSO trains 25 networks (about 13 min on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np

from benchmarks.metrics import machine
from training.common.stress_predict import load_features, subjects, windows
from training.physio.train import (WINDOW_MODEL, baseline_features, baseline_masks, evaluate, loso_calibrated,
                                   loso_scores, with_delta)


def anchor_rf(X, y, s, znorm: bool, seed: int = 0) -> np.ndarray:
    from sklearn.ensemble import RandomForestClassifier

    X = X.copy()
    if znorm:
        for u in np.unique(s):
            m = s == u
            X[m] = (X[m] - np.nanmean(X[m], 0)) / (np.nanstd(X[m], 0) + 1e-9)
    p = np.zeros(len(y))
    for u in np.unique(s):
        te = s == u
        med = np.nanmedian(X[~te], 0)
        a, b = np.where(np.isnan(X[~te]), med, X[~te]), np.where(np.isnan(X[te]), med, X[te])
        rf = RandomForestClassifier(100, min_samples_leaf=2, class_weight="balanced", random_state=seed, n_jobs=1)
        p[te] = rf.fit(a, y[~te]).predict_proba(b)[:, 1]
    return p


def line(name, r):
    return (f"{name:58s} n={r['n']:5d} BA={r['balanced_accuracy']:.3f} (BA@0.5 {r['balanced_accuracy_at_0.5']:.3f}) "
            f"recall stress={r['recall_stress']:.3f} non-stress={r['recall_nonstress']:.3f} "
            f"AUC={r['auc']:.3f} ECE={r['ece']:.3f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-anchor", action="store_true", help="skip the random-forest anchor (slow on a busy machine)")
    ap.add_argument("--no-baseline-loso", action="store_true",
                    help="skip the with-baseline LOSO (slow; its model is unchanged since v1.0.0)")
    ap.add_argument("--no-shape-loso", action="store_true",
                    help="skip the shape network's LOSO (25 network fits); the no-baseline rows are then the trees' alone")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--window-model", choices=("hgb", "ens", "gb"), default=WINDOW_MODEL,
                    help="recipe of the no-baseline model in LOSO (default: the shipped one)")
    a = ap.parse_args()
    d = load_features()
    X, y, s = d["X"], d["y"], d["subject"]
    sp = subjects()
    tr = np.array([sp[u] == "train" for u in s])
    is_base, after = baseline_masks(d)
    XD = with_delta(X, baseline_features(X, s, is_base))
    prev = float(y[tr].mean())
    out = {}
    print("== physio stress (Stress-Predict, wrist E4)")
    print(f"split: LOSO over the 25 train subjects ({tr.sum()} windows); dev S04, S09, S14 through the shipped "
          "model; 60-s windows, 30-s hop, majority label; threshold = train prevalence "
          f"{prev:.3f}")
    print(f"machine: {machine()}")
    yt, st = y[tr], s[tr]
    print(f"no-baseline recipe: {a.window_model}; baseline recipe: gb")
    zt = loso_scores(X[tr], yt, st, a.seed, kind=a.window_model)
    p = loso_calibrated(zt, yt, st)
    if not a.no_shape_loso:
        from cxsense.encoders.physio.encoder import SHAPE_MODEL_NAME
        from cxsense.encoders.physio.shape_model import ShapeModel
        from cxsense.registry import model_path
        from training.physio.train_shape import aligned, build_sequences, grouped_shape_scores

        out["loso_window_trees_alone"] = evaluate(p, yt, prev, st)
        print(line("LOSO, no baseline, trees alone", out["loso_window_trees_alone"]))
        sh = ShapeModel(model_path(SHAPE_MODEL_NAME))
        seqs = build_sequences()
        train_subs = sorted(u for u, v in sp.items() if v == "train")
        zs = aligned(grouped_shape_scores(seqs, train_subs, len(train_subs), a.seed, log=lambda m: None),
                     st, d["start_s"][tr])
        out["loso_window_shape_alone"] = evaluate(loso_calibrated(zs, yt, st), yt, prev, st)
        print(line("LOSO, no baseline, shape network alone", out["loso_window_shape_alone"]))
        print(f"ensemble: trees / {sh.tree_scale:.4f} + shape / {sh.shape_scale:.4f} (the shipped file's spreads)")
        p = loso_calibrated(zt / sh.tree_scale + zs / sh.shape_scale, yt, st)
    out["loso_window"] = evaluate(p, yt, prev, st)
    print(line("LOSO, no baseline, all windows" + ("" if a.no_shape_loso else " (shipped: trees + shape)"),
               out["loso_window"]))
    m = after[tr]
    out["loso_window_after_baseline"] = evaluate(p[m], yt[m], prev, st[m])
    print(line("LOSO, no baseline, windows after the baseline period", out["loso_window_after_baseline"]))
    if not a.no_baseline_loso:
        zb = loso_scores(XD[tr], yt, st, a.seed)
        pb = loso_calibrated(zb, yt, st)
        if not a.no_shape_loso:
            out["loso_baseline_trees_alone"] = evaluate(pb[m], yt[m], prev, st[m])
            print(line("LOSO, with resting baseline, trees alone", out["loso_baseline_trees_alone"]))
            bt, bs, _, _ = sh.ensembles["baseline"]
            pb = loso_calibrated(zb / bt + zs / bs, yt, st)
        out["loso_baseline"] = evaluate(pb[m], yt[m], prev, st[m])
        print(line("LOSO, with resting baseline, same windows" + ("" if a.no_shape_loso else " (shipped: trees + shape)"),
                   out["loso_baseline"]))
    if not a.no_anchor:
        for z in (False, True):
            pa = anchor_rf(X[tr], yt, st, z, a.seed)
            k = "anchor_rf_subject_z" if z else "anchor_rf"
            out[k] = evaluate(pa, yt, 0.5, st)
            print(line(f"anchor: features + RF{' + subject z-norm' if z else ''} (threshold 0.5)", out[k]))

    # dev subjects through the shipped encoder
    from cxsense.encoders.physio.encoder import PhysioEncoder
    from cxsense.inputs.physio import load_physio

    enc = PhysioEncoder()
    first_task = {}
    import csv

    from training.common.data import data_root

    with open(data_root() / "physio" / "stress_predict" / "stress_segments.csv") as f:
        for r in csv.DictReader(f):
            first_task[r["subject"]] = min(first_task.get(r["subject"], 1e9), float(r["start_s"]))
    P, PB, Y, S, Q = [], [], [], [], []
    for u in [k for k, v in sp.items() if v == "dev"]:
        ws = list(windows(u))
        base_w = [w for w in ws if w[0] + 60 <= first_task[u]][:5]
        base_end = max(w[0] + 60 for w in base_w)
        bmap = {}
        for ch in base_w[0][3]:
            fs = base_w[0][3][ch][1]
            sig = np.concatenate([w[3][ch][0][: int(30 * fs)] for w in base_w[:-1]] + [base_w[-1][3][ch][0]])
            bmap[ch] = (sig, fs)
        base = load_physio(bmap)
        for start, lab, _, mp in ws:
            r = enc.encode(load_physio(mp))
            P.append(r.stress if r.stress is not None else prev)
            Q.append(r.quality)
            if start >= base_end:
                rb = enc.encode(load_physio(mp), baseline=base)
                PB.append((rb.stress if rb.stress is not None else prev, lab, u))
            Y.append(lab)
            S.append(u)
    P, Y, S = np.array(P), np.array(Y), np.array(S)
    out["dev_encoder_window"] = evaluate(P, Y, prev, S)
    out["dev_encoder_window"]["no_signal_windows"] = int(np.sum(np.array(Q) == 0))
    print(line("dev via PhysioEncoder, no baseline", out["dev_encoder_window"]))
    pb_, yb_, sb_ = (np.array(v) for v in zip(*PB))
    out["dev_encoder_baseline"] = evaluate(pb_.astype(float), yb_.astype(int), prev, sb_)
    print(line("dev via PhysioEncoder, with baseline (windows after it)", out["dev_encoder_baseline"]))
    for u in np.unique(S):
        mm = S == u
        r = evaluate(P[mm], Y[mm], prev)
        print(f"  dev {u}: BA={r['balanced_accuracy']:.3f} AUC={r['auc']:.3f}")
    print("JSON " + json.dumps(out))


if __name__ == "__main__":
    main()
