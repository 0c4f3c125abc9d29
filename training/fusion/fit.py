"""Fit the late fusion (issue 5) on pseudo-pairs and export ``models/fusion/late_fusion_v1.json``.

    python -m training.fusion.fit                 # fit, choose, export (about a minute once outputs are cached)
    python -m training.fusion.fit --dry-run       # print the comparison only

Pseudo-pairs: no public dataset pairs face, voice and body with emotion labels, so each face sample is
paired with a random voice clip of the same label. Rows are "mix" pairs (60 % both, 20 % face only,
20 % voice only, so that every subset is learnt), 4 draws per face sample.

- **Fit** on pseudo-pairs of the modalities' own **train** splits (FER-2013 Training subset x RAVDESS
  actors 01-18), outputs of the shipped encoders (:mod:`training.fusion.data`).
- **Choose** the L2 strength C and fit the temperature T on **dev** pseudo-pairs (FER-2013 PublicTest
  de-duplicated x actors 19-20): C by the dev NLL after T. The script also prints the ECE with T fitted
  on one half of dev (half of the face images, one actor) and measured on the other (cross-fitted), and,
  for comparison, a fusion fitted on dev pairs themselves (cross-fitted), which was not chosen.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from cxsense.metrics import softmax
from training.common.data import REPO
from training.common.model_metadata import provenance, register, write_json
from training.fusion.data import CACHE, load_outputs, make_pairs, part

OUT = REPO / "models" / "fusion" / "late_fusion_v1.json"
C_GRID = (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 1.0)
DRAWS = 4


def mix_rows(face, voice, seed, draws=DRAWS, mode="mix"):
    Xs, ys = [], []
    for k in range(draws):
        pr = make_pairs(face, voice, np.random.default_rng([seed, k]), mode)
        Xs.append(pr["X"]); ys.append(pr["y"])
    return np.vstack(Xs), np.concatenate(ys)


def nll_acc(P, y):
    """(NLL, accuracy) of probabilities ``P`` ``(n, 7)`` against labels ``y``."""
    from cxsense.metrics import accuracy, nll

    return nll(P, y), accuracy(P, y)


def dev_folds(d, seed=0):
    """[(fit face idx, fit voice idx, score face idx, score voice idx)] x 2 (see the module docstring)."""
    yf = d["face_dev_y"]
    rng = np.random.default_rng(seed)
    half = np.zeros(len(yf), bool)
    for c in range(7):
        idx = rng.permutation(np.flatnonzero(yf == c))
        half[idx[: len(idx) // 2]] = True
    spk = d["voice_dev_speaker"]
    a19, a20 = np.flatnonzero(spk == 19), np.flatnonzero(spk == 20)
    A, B = np.flatnonzero(half), np.flatnonzero(~half)
    return [(A, a19, B, a20), (B, a20, A, a19)]


def crossfit_logits(d, C, seed=0):
    """Cross-fitted dev logits on 'both' pairs and on 'mix' rows, with labels."""
    from cxsense.fusion.estimator import LateFusionClassifier

    out = {"mix": ([], []), "both": ([], [])}
    for k, (fa, va, fb, vb) in enumerate(dev_folds(d, seed)):
        X, y = mix_rows(part(d, "face", "dev", fa), part(d, "voice", "dev", va), seed=[seed, k])
        clf = LateFusionClassifier(C=C).fit(X, y)
        for mode in ("mix", "both"):
            Xe, ye = mix_rows(part(d, "face", "dev", fb), part(d, "voice", "dev", vb), seed=[seed, k, 99], draws=1,
                              mode=mode)
            out[mode][0].append(clf._logits(Xe)); out[mode][1].append(ye)
    return {m: (np.vstack(v[0]), np.concatenate(v[1])) for m, v in out.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    from cxsense.emotions import EMOTIONS
    from cxsense.fusion.estimator import FUSION_TEMPERATURE_GRID, LateFusionClassifier
    from cxsense.fusion.learned import LearnedFusion
    from cxsense.metrics import expected_calibration_error
    from cxsense.metrics import fit_temperature as fit

    def fit_temperature(logits, y):
        return fit(logits, y, FUSION_TEMPERATURE_GRID)

    t0 = time.time()
    d = load_outputs()
    print("fit: pseudo-pairs of FER-2013 Training (class-stratified subset) x RAVDESS actors 01-18; choose C and T on "
          "dev pseudo-pairs: FER-2013 PublicTest de-duplicated (3,292) x RAVDESS actors 19-20")
    print(f"encoder accuracy on own train data: face {np.mean(d['face_train_p'].argmax(1) == d['face_train_y']):.3f}"
          f" (dev {np.mean(d['face_dev_p'].argmax(1) == d['face_dev_y']):.3f}), voice "
          f"{np.mean(d['voice_train_p'].argmax(1) == d['voice_train_y']):.3f}"
          f" (dev {np.mean(d['voice_dev_p'].argmax(1) == d['voice_dev_y']):.3f})")
    Xt, yt = mix_rows(part(d, "face", "train"), part(d, "voice", "train"), seed=[a.seed, 1])
    Xm, ym = mix_rows(part(d, "face", "dev"), part(d, "voice", "dev"), seed=[a.seed, 2], draws=3)
    Xb, yb = mix_rows(part(d, "face", "dev"), part(d, "voice", "dev"), seed=[a.seed, 3], draws=3, mode="both")
    folds = dev_folds(d)
    fold_rows = []
    for k, (fa, va, fb, vb) in enumerate(folds):  # T fitted on (A, actor 19) rows, scored on (B, actor 20) and back
        fold_rows.append((mix_rows(part(d, "face", "dev", fa), part(d, "voice", "dev", va), seed=[a.seed, 4, k], draws=3),
                          mix_rows(part(d, "face", "dev", fb), part(d, "voice", "dev", vb), seed=[a.seed, 5, k], draws=3,
                                   mode="both")))
    best = None
    for C in C_GRID:
        clf = LateFusionClassifier(C=C).fit(Xt, yt)
        T = fit_temperature(clf._logits(Xm), ym)
        nll, acc = nll_acc(softmax(clf._logits(Xm) / T), ym)
        Pb = softmax(clf._logits(Xb) / T)
        _, acc_b = nll_acc(Pb, yb)
        cf_P, cf_y = [], []
        for (Xf, yf), (Xe, ye) in fold_rows:
            Tk = fit_temperature(clf._logits(Xf), yf)
            cf_P.append(softmax(clf._logits(Xe) / Tk)); cf_y.append(ye)
        cf_P, cf_y = np.vstack(cf_P), np.concatenate(cf_y)
        print(f"C={C:<6} T={T:.3f} dev mix NLL {nll:.4f} acc {acc:.4f}; dev both-pairs accuracy {acc_b:.4f} "
              f"ECE {expected_calibration_error(Pb, yb):.4f} (T cross-fitted: ECE {expected_calibration_error(cf_P, cf_y):.4f}, "
              f"accuracy {np.mean(cf_P.argmax(1) == cf_y):.4f})")
        if best is None or nll < best[0]:
            best = (nll, C, T)
    _, C, T = best
    print(f"chosen: C={C}, T={T:.3f} (lowest dev NLL on mix rows)")
    for Cd in (0.003, 0.01):
        cf = crossfit_logits(d, Cd, a.seed)
        Td = fit_temperature(*cf["mix"])
        Pd = softmax(cf["both"][0] / Td)
        print(f"not chosen: fitted on dev pairs (cross-fitted), C={Cd}: both-pairs accuracy "
              f"{np.mean(Pd.argmax(1) == cf['both'][1]):.4f} ECE {expected_calibration_error(Pd, cf['both'][1]):.4f}")
    clf = LateFusionClassifier(C=C).fit(Xt, np.array(EMOTIONS)[yt])  # class names, as users fit it
    clf.temperature_ = T
    # one temperature per subset of categorical modalities, on dev rows of that subset
    order = np.searchsorted(clf.classes_, np.array(EMOTIONS))  # class-name columns -> EMOTIONS indices
    Zm = clf._logits(Xm)
    key = np.where((Xm[:, 0] > 0) & (Xm[:, 8] > 0), "face+voice", np.where(Xm[:, 0] > 0, "face", "voice"))
    subset_T = {}
    for k in ("face+voice",):  # with one categorical modality the shipped fusion passes its own estimate through
        sel = key == k
        subset_T[k] = fit_temperature(Zm[sel][:, order], ym[sel])
        Pk = softmax(Zm[sel][:, order] / subset_T[k])
        print(f"subset {k:<10} T={subset_T[k]:.3f} dev rows {sel.sum()}: accuracy {np.mean(Pk.argmax(1) == ym[sel]):.4f} "
              f"ECE {expected_calibration_error(Pk, ym[sel]):.4f}")
    if a.dry_run:
        print(f"dry run: nothing written ({time.time() - t0:.0f} s)")
        return 0
    from cxsense.registry import model_entry

    fus = LearnedFusion.from_estimator(clf)
    fus.subset_temperatures = subset_T
    encoders = {n: {"version": model_entry(n)["version"], "sha256_at_fit": model_entry(n)["sha256"]}
                for n in ("face-expression", "voice-tone")}
    licence = ("weights: cxsense's own; fitted on outputs of the face (FER-2013, research use) and voice (RAVDESS, CC "
               "BY-NC-SA 4.0) models: non-commercial research use, see card")
    meta = fus.metadata("late-fusion", "1.0.0", provenance(
        "pseudo-pairs: FER-2013 Training (class-stratified subset of 6,379) x RAVDESS actors 01-18, same label, 60% "
        f"both / 20% face only / 20% voice only, {DRAWS} draws per face image, seed {a.seed}", licence,
        "python -m training.fusion.data; python -m training.fusion.fit",
        [{"run": str(CACHE.relative_to(REPO)), "role": "encoder outputs"}],
        rows=int(len(yt)), C=C, temperature_from="dev pseudo-pairs (NLL grid), one per subset of face/voice present",
        encoders=encoders))
    write_json(OUT, {"coef": fus.coef.tolist(), "intercept": fus.intercept.tolist()}, meta)
    e = register("late-fusion", OUT, meta, licence=licence, card="fusion/MODEL_CARD.md")
    print(f"wrote {OUT} sha256 {e['sha256']} ({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
