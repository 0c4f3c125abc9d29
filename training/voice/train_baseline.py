"""Train and choose the voice speaker-baseline head (``voice-baseline``) on RAVDESS training actors 01-18.

    export OMP_NUM_THREADS=1 CXSENSE_DATA=/path/to/shared/data
    # the out-of-fold runs of the shipped recipe, seed 0 (models/voice/MODEL_CARD.md, step 2; ~1 h each on the
    # shared machine, three at a time)
    C="--cache-dir training/runs/voice_n85 --cache-seed 0 --variants 5 --epochs 320 --cmn --pitch-tempo --noise-p 0.85"
    python -m training.voice.train --out training/runs/voice_n85cv3_320_fK_s0 $C --seed 0 --cv-folds 3 --cv-fold K
    # the head (about 2 min): voice-baseline 1.0.0 was written by
    python -m training.voice.train_baseline --cv-runs training/runs/voice_n85cv3_320_f{0,1,2}_s0 \\
        --candidates A D B C --out models/voice/voice_baseline_v1.json --version 1.0.0

Inputs (:mod:`training.voice.baseline_data`): every clip's out-of-fold logits (training actors: the
``train_voice --cv-folds 3`` runs of the shipped recipe, never trained on that actor), its 22 statistics and
its mean log-mel. Pairs (clip, baseline) are built inside each training actor, the baseline never containing
the clip: per clip two ``neutral`` baselines (all of the actor's neutral and calm takes, and 1-6 of them) and
two ``everyday`` baselines (2-10 takes of any emotion).

The rule, written before any dev figure was seen (docs/voice.md, "Speaker baseline"):
candidates A (a shift of the log-probabilities by the baseline's, one weight), B (logistic head on the
log-probabilities, their difference from the baseline's and the statistics' difference) and C (B plus the
mean log-mel difference on 8 directions). The shipped candidate is the one with the highest mean accuracy over
the ``neutral`` (all takes) and ``everyday`` (8 takes) baselines in 6-fold actor-grouped cross-validation on
actors 01-18; within 0.5 points the simpler one. Candidate D (the corrections of B and C on top of the voice
model's log-probabilities, kept with weight 1) was added *after* the first dev figures showed B and C below
the model alone on dev, and entered the same rule; it did not win. B0 (no log-probability difference) and
C-level (C plus the active-speech level relative to the baseline, which depends on the recording chain's gain)
are printed for information and excluded from the rule. Dev actors 19-20 are printed for every candidate and never
used to choose. The regularisation C of the logistic heads is chosen the same way (inner figure: the same
cross-validation). Temperature: NLL on the cross-validated predictions. Classes are balanced in the loss,
so the head, like the voice model, assumes equal class priors.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
N_MEL_DIRECTIONS = 8
#: candidates the rule chooses among, simplest first (D was added after the first dev figures; see the docstring)
RULE = ("A", "D", "B", "C")
GROUPS = {"A": None, "D": ["dlogp", "dstats", "dmel"], "B": ["logp", "dlogp", "dstats"], "C": ["logp", "dlogp", "dstats", "dmel"],
          "B0": ["logp", "dstats"], "C-level": ["logp", "dlogp", "dstats", "dmel", "dlevel"]}
EVAL_SETS = [("neutral", None), ("neutral", 1), ("neutral", 3), ("everyday", 8), ("everyday", 3),
             ("neutral-other-sentence", None)]


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def calibrated_logp(table: dict, T_train: float, T_dev: float) -> np.ndarray:
    """Log-probabilities as the encoder computes them: logits / T + the uniform-prior correction."""
    y = table["label"][table["split"] == "train"]
    prior = np.bincount(y, minlength=7) / len(y)
    bias = -np.log(7 * prior)
    T = np.where(table["split"] == "train", T_train, T_dev)[:, None]
    return log_softmax(table["logits"] / T + bias)


def make_pairs(table, lp, idx, kinds, rng):
    """Feature blocks for pairs: (sample index, baseline means) for each clip in ``idx`` and each (kind, k)."""
    rows = {"i": [], "b_lp": [], "b_st": [], "b_mel": [], "b_lev": [], "kind": []}
    from training.voice.baseline_data import baseline_sets

    for kind, k in kinds:
        ks = [k] * len(idx) if not callable(k) else [k(rng) for _ in idx]
        for i, kk in zip(idx, ks):
            b = baseline_sets(table, np.array([i]), kind, kk, rng)[0]
            if len(b) == 0:
                continue
            rows["i"].append(i)
            rows["b_lp"].append(lp[b].mean(0))
            rows["b_st"].append(table["stats"][b].mean(0))
            rows["b_mel"].append(table["mel"][b].mean(0))
            rows["b_lev"].append(table["level_db"][b].mean())
            rows["kind"].append(kind)
    return {k: np.array(v) for k, v in rows.items()}


def features(table, lp, pairs, spec):
    from cxsense.encoders.voice.baseline import head_features

    i = pairs["i"]
    groups = [g for g in spec["groups"] if g != "dlevel"]
    x = head_features(lp[i], table["stats"][i], table["mel"][i], pairs["b_lp"], pairs["b_st"], pairs["b_mel"],
                      dict(spec, groups=groups))
    if "dlevel" in spec["groups"]:
        x = np.concatenate([x, ((table["level_db"][i] - pairs["b_lev"]) / 10.0)[:, None]], 1)
    return x


def fit_head(x, y, C):
    from sklearn.linear_model import LogisticRegression

    mean, sd = x.mean(0), x.std(0) + 1e-6
    clf = LogisticRegression(C=C, class_weight="balanced", max_iter=2000)
    clf.fit((x - mean) / sd, y)
    return {"mean": mean, "sd": sd, "coef": clf.coef_, "intercept": clf.intercept_}


def fit_offset_head(x, y, offset, C):
    """Multinomial logistic regression on ``x`` with the voice model's log-probabilities as a fixed offset
    (coefficient 1): it learns only the baseline's correction, and with no signal it returns the model.
    L2 penalty ``1 / (2 C n)`` per weight as in scikit-learn; classes balanced."""
    from scipy.optimize import minimize

    mean, sd = x.mean(0), x.std(0) + 1e-6
    xs = (x - mean) / sd
    n, d = xs.shape
    k = offset.shape[1]
    w_cls = (len(y) / (k * np.bincount(y, minlength=k)))[y]
    onehot = np.eye(k)[y]

    def loss(theta):
        W, b = theta[: k * d].reshape(k, d), theta[k * d:]
        z = offset + xs @ W.T + b
        z = z - z.max(1, keepdims=True)
        lse = np.log(np.exp(z).sum(1))
        p = np.exp(z - lse[:, None])
        nll = np.sum(w_cls * (lse - (z * onehot).sum(1)))
        g = (p - onehot) * w_cls[:, None]
        reg = 0.5 / C
        return nll + reg * np.sum(W ** 2), np.concatenate([(g.T @ xs + 2 * reg * W).ravel(), g.sum(0)])

    r = minimize(loss, np.zeros(k * d + k), jac=True, method="L-BFGS-B", options={"maxiter": 2000})
    return {"mean": mean, "sd": sd, "coef": r.x[: k * d].reshape(k, d), "intercept": r.x[k * d:], "offset": True}


def head_logits(h, x, offset=None):
    z = ((x - h["mean"]) / h["sd"]) @ h["coef"].T + h["intercept"]
    return z + offset if h.get("offset") else z


def fit_temperature(z, y):
    from cxsense.metrics import fit_temperature as ft

    return ft(z, y)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--cv-runs", nargs="+", required=True)
    ap.add_argument("--table", default=str(REPO / "training" / "runs" / "voice_baseline_table.npz"))
    ap.add_argument("--out", default=None, help="write the chosen head here (JSON); inside models/: registered")
    ap.add_argument("--version", default="1.0.0")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--candidates", nargs="+", default=["A", "D", "B", "C", "B0", "C-level"])
    args = ap.parse_args(argv)
    from cxsense.metrics import classification_report
    from cxsense.emotions import EMOTIONS
    from training.voice.calibrate import load_oof
    from training.common.data import data_root
    from training.common.ravdess import load_ravdess
    from training.voice.baseline_data import clip_table

    t0 = time.time()
    table = clip_table(data_root(args.data), args.cv_runs, Path(args.table))
    tr = np.flatnonzero(table["split"] == "train")
    dv = np.flatnonzero(table["split"] == "dev")
    y = table["label"]
    # the voice model's own calibration: T of the out-of-fold logits (as calibrate_voice fits it) for the training
    # actors, the shipped model's T for dev
    T_tr = fit_temperature(table["logits"][tr], y[tr])
    lp = calibrated_logp(table, T_tr, float(table["dev_temperature"]))
    print(f"split: pairs inside RAVDESS training actors 01-18 (out-of-fold logits, T {T_tr:.3f}); 6-fold "
          f"actor-grouped cross-validation to choose; dev actors 19-20 (shipped model, T "
          f"{float(table['dev_temperature']):.3f}) reported, not used to choose; {len(tr)} + {len(dv)} clips")
    # population spread of the statistics and the mel directions: training actors only
    st_sd = table["stats"][tr].std(0) + 1e-6
    mel_c = table["mel"][tr] - np.stack([table["mel"][tr][table["speaker"][tr] == s].mean(0)
                                          for s in table["speaker"][tr]])
    _, _, vt = np.linalg.svd(mel_c - mel_c.mean(0), full_matrices=False)
    basis = vt[:N_MEL_DIRECTIONS] / 10.0  # ~unit scale for 10-dB differences
    spec0 = {"stats_sd": st_sd.tolist(), "mel_basis": basis.tolist()}
    rng = np.random.default_rng(args.seed)
    train_kinds = [("neutral", None), ("neutral", lambda r: int(r.integers(1, 7))),
                   ("everyday", lambda r: int(r.integers(2, 11))), ("everyday", lambda r: int(r.integers(2, 11)))]

    def report(name, P, yy):
        r = classification_report(P, yy, EMOTIONS)
        rec = " ".join(f"{c[:3]} {v:.2f}" for c, v in r["per_class_recall"].items())
        return r, (f"{name}: acc {r['accuracy']:.4f} F1 {r['macro_f1']:.4f} ECE {r['ece']:.4f} NLL {r['nll']:.4f} "
                   f"| {rec}")

    actors = sorted(set(table["speaker"][tr]))
    folds = [actors[k::6] for k in range(6)]
    # no-baseline reference (the voice model alone)
    for name, idx in (("training actors, out of fold", tr), ("dev actors 19-20", dv)):
        print("  no baseline, " + report(name, np.exp(lp[idx]), y[idx])[1])

    def run_candidate(cand, C, eval_on, fit_idx, seed):
        """Fit on pairs of ``fit_idx`` clips, return logits on the evaluation pairs of each EVAL_SET."""
        r_ = np.random.default_rng(seed)
        pairs_fit = make_pairs(table, lp, fit_idx, train_kinds, r_)
        out = {}
        if cand == "A":
            ref = pairs_fit["b_lp"].mean(0)
            alphas = np.linspace(0, 1.5, 16)
            zf = [lp[pairs_fit["i"]] - a * (pairs_fit["b_lp"] - ref) for a in alphas]
            yy = y[pairs_fit["i"]]
            accs = [np.mean(z.argmax(1) == yy) for z in zf]
            a = float(alphas[int(np.argmax(accs))])
            model = {"alpha": a, "ref": ref}
        else:
            spec = dict(spec0, groups=GROUPS[cand])
            xf = features(table, lp, pairs_fit, spec)
            model = (fit_offset_head(xf, y[pairs_fit["i"]], lp[pairs_fit["i"]], C) if cand == "D"
                     else fit_head(xf, y[pairs_fit["i"]], C))
        for key, idx in eval_on.items():
            pe = make_pairs(table, lp, idx, [key], np.random.default_rng([seed, 1]))
            if cand == "A":
                z = lp[pe["i"]] - model["alpha"] * (pe["b_lp"] - model["ref"])
            else:
                z = head_logits(model, features(table, lp, pe, dict(spec0, groups=GROUPS[cand])), lp[pe["i"]])
            out[key] = (z, y[pe["i"]])
        return out, model

    results = {}
    for cand in args.candidates:
        for C in ([None] if cand == "A" else [0.001, 0.01, 0.1] if cand == "D" else [0.01, 0.1, 1.0]):
            per = {key: ([], []) for key in EVAL_SETS}
            for f_i, held in enumerate(folds):
                te = tr[np.isin(table["speaker"][tr], held)]
                fit = tr[~np.isin(table["speaker"][tr], held)]
                out, _ = run_candidate(cand, C, {key: te for key in EVAL_SETS}, fit, args.seed + f_i)
                for key, (z, yy) in out.items():
                    per[key][0].append(z)
                    per[key][1].append(yy)
            zs = {key: (np.concatenate(v[0]), np.concatenate(v[1])) for key, v in per.items()}
            zall = np.concatenate([zs[k][0] for k in EVAL_SETS]); yall = np.concatenate([zs[k][1] for k in EVAL_SETS])
            T = fit_temperature(zall, yall)
            accs = {}
            print(f"candidate {cand} C={C} (CV on actors 01-18, T {T:.3f}):")
            for key in EVAL_SETS:
                z, yy = zs[key]
                r, line = report(f"{key[0]} k={key[1] or 'all'}", np.exp(log_softmax(z / T)), yy)
                accs[key] = r["accuracy"]
                print("    " + line)
            score = 0.5 * (accs[("neutral", None)] + accs[("everyday", 8)])
            results[(cand, C)] = (score, T)
            print(f"    rule score {score:.4f}  ({time.time() - t0:.0f} s)")
    ranked = sorted(((s, k) for k, (s, _) in results.items() if k[0] in RULE), reverse=True)
    print(f"ranking (rule: {', '.join(RULE)} only): " + ", ".join(f"{k[0]} C={k[1]} {s:.4f}" for s, k in ranked))
    best_s, best = ranked[0]
    order = {c: i for i, c in enumerate(RULE)}
    for s, k in ranked:  # within 0.5 points, the simpler candidate
        if best_s - s <= 0.005 and order[k[0]] < order[best[0]]:
            best = k
    print(f"chosen by the rule: {best[0]} C={best[1]}")
    # dev figures for every candidate at its best C (fit on all training actors)
    chosen_model = None
    for cand in args.candidates:
        Cs = [(s, k[1]) for k, (s, _) in results.items() if k[0] == cand]
        C = max(Cs)[1]
        T = results[(cand, C)][1]
        out, model = run_candidate(cand, C, {key: dv for key in EVAL_SETS}, tr, args.seed + 100)
        print(f"dev actors 19-20, candidate {cand} C={C} (T {T:.3f}; trained on pairs of actors 01-18):")
        for key in EVAL_SETS:
            z, yy = out[key]
            print("    " + report(f"{key[0]} k={key[1] or 'all'}", np.exp(log_softmax(z / T)), yy)[1])
        if (cand, C) == best:
            chosen_model = (model, T, C)
    if args.out and best[0] != "A":
        model, T, C = chosen_model
        from training.common.model_metadata import provenance, register, voice_baseline_meta, write_json

        licence = "CC BY-NC-SA 4.0 (derived from RAVDESS)"
        command = "python -m training.voice.train_baseline " + " ".join(argv if argv is not None else sys.argv[1:])
        meta = voice_baseline_meta(
            args.version, features=dict(spec0, groups=GROUPS[best[0]]), mean=model["mean"].tolist(),
            sd=model["sd"].tolist(), temperature=T, voice_model="voice-tone 1.2.0", provenance=provenance(
                "RAVDESS actors 01-18, (clip, baseline) pairs of the same actor; out-of-fold logits of the voice-tone "
                f"recipe (runs {[Path(r).name for r in args.cv_runs]}); candidate {best[0]}, C={C}, chosen by 6-fold "
                "actor-grouped cross-validation", licence, command, [{"run": str(r)} for r in args.cv_runs]))
        out = write_json(args.out, {"coef": model["coef"].tolist(), "intercept": model["intercept"].tolist()}, meta)
        print(f"wrote {out}")
        if out.resolve().is_relative_to((REPO / "models").resolve()):
            register("voice-baseline", out, meta, licence=licence + "; non-commercial use only",
                     card="voice/MODEL_CARD.md", origin="trained in this repository by training/voice/train_baseline.py")
            print("registry entry 'voice-baseline' updated")
    print(f"total {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
