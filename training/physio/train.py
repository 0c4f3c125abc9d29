"""Train the physiology stress model on Stress-Predict (wrist E4) and export it as plain JSON.

Two gradient-boosted tree ensembles (depth-2 trees, balanced class weights) on the pipeline's window features:

* ``window``: the window's features only (no per-person baseline); v1.1.0: scikit-learn's
  HistGradientBoostingClassifier with missing features routed as learned (``--window-model hgb``; ``gb`` is
  v1.0.0's GradientBoostingClassifier, ``ens`` adds a binned additive logistic model);
* ``baseline`` (GradientBoostingClassifier): the window's features plus their differences from the person's resting baseline
  (the mean features of up to :data:`BASELINE_MAX_WINDOWS` 60-s windows recorded before the first task).

Each is followed by Platt calibration (fit on out-of-fold scores of the train subjects, 5 subject-grouped folds),
so that the stress output is a probability under the training prevalence. Trees, imputation
medians, feature scaling and calibration are written to ``models/physio/physio_stress_v1.json``
(no pickle) and read by :mod:`cxsense.encoders.physio.model` with its own NumPy predictor.

Split: train = the 25 ``train`` subjects of ``subjects.csv``; dev = S04, S09, S14 (model choice and
check only). Seeded (``--seed``); single-threaded.

    OMP_NUM_THREADS=1 nice -n 10 python -m training.physio.train --seed 0
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from training.common.data import REPO, data_root
from training.common.model_metadata import STRESS_LICENCE, physio_stress_meta, provenance, register, write_json
from training.common.stress_predict import CACHE, load_features

VERSION = "1.1.0"
#: Recipe of the no-baseline ("window") model; the baseline model stays gradient boosting ("gb").
WINDOW_MODEL = "hgb"
OUT = REPO / "models" / "physio" / "physio_stress_v1.json"
BASELINE_MAX_WINDOWS = 5
GB_PARAMS = dict(n_estimators=200, max_depth=2, learning_rate=0.05, subsample=0.8, min_samples_leaf=20)


# ----------------------------------------------------------------------------- data helpers

def baseline_masks(d: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per window: is it a baseline window (before the first stress second, at most 5 per subject),
    and does it come after its subject's baseline (the windows evaluated with a baseline)."""
    s, start = d["subject"], d["start_s"]
    is_base = np.zeros(len(s), bool)
    after = np.zeros(len(s), bool)
    root = data_root()
    import csv
    first = {}
    with open(root / "physio" / "stress_predict" / "stress_segments.csv") as f:
        for r in csv.DictReader(f):
            first[r["subject"]] = min(first.get(r["subject"], 1e9), float(r["start_s"]))
    for u in np.unique(s):
        idx = np.flatnonzero(s == u)
        cand = [i for i in idx if start[i] + 60 <= first[u]][:BASELINE_MAX_WINDOWS]
        is_base[cand] = True
        end = max(start[i] + 60 for i in cand) if cand else 0
        after[idx] = start[idx] >= end
    return is_base, after


def baseline_features(X: np.ndarray, s: np.ndarray, is_base: np.ndarray) -> np.ndarray:
    """Each window's subject baseline (nanmean of its baseline windows), NaN where none."""
    B = np.full_like(X, np.nan)
    for u in np.unique(s):
        m = s == u
        b = X[m & is_base]
        if len(b):
            with np.errstate(all="ignore"):
                import warnings
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    B[m] = np.nanmean(b, 0)
    return B


def with_delta(X: np.ndarray, B: np.ndarray) -> np.ndarray:
    return np.hstack([X, X - B])


# ----------------------------------------------------------------------------- model

def fit_gb(X: np.ndarray, y: np.ndarray, seed: int):
    """Median-impute, then fit balanced gradient-boosted depth-2 trees. Returns (model, medians)."""
    from sklearn.ensemble import GradientBoostingClassifier

    med = np.nanmedian(X, 0)
    med = np.where(np.isfinite(med), med, 0.0)
    Xi = np.where(np.isnan(X), med, X)
    w = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    m = GradientBoostingClassifier(random_state=seed, **GB_PARAMS).fit(Xi, y, sample_weight=w)
    return m, med


def export_trees(m) -> dict:
    """Flatten a fitted binary GradientBoostingClassifier into arrays (for the NumPy predictor)."""
    feat, thr, left, right, val, roots = [], [], [], [], [], []
    off = 0
    for est in m.estimators_[:, 0]:
        t = est.tree_
        roots.append(off)
        feat += t.feature.tolist()
        thr += t.threshold.tolist()
        left += [int(c) + off if c >= 0 else -1 for c in t.children_left.tolist()]
        right += [int(c) + off if c >= 0 else -1 for c in t.children_right.tolist()]
        val += t.value[:, 0, 0].tolist()
        off += t.node_count
    init = m._raw_predict_init(np.zeros((1, m.n_features_in_)))[0, 0]
    return {"feature": feat, "threshold": thr, "left": left, "right": right, "value": val, "roots": roots,
            "learning_rate": m.learning_rate, "init": float(init)}


# ----------------------------------------------------------------------------- v1.1 window model: HGB + additive (binned logistic) ensemble

HGB_PARAMS = dict(max_iter=150, max_depth=2, learning_rate=0.05, min_samples_leaf=40, l2_regularization=1.0)
GAM_BINS = 8
GAM_C = 0.01
#: The trees route missing features as learned (``missing_left`` in the file) instead of median imputation.
NATIVE_MISSING = True


def _impute(X: np.ndarray, med: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(X), med, X)


def _medians(X: np.ndarray) -> np.ndarray:
    med = np.nanmedian(X, 0)
    return np.where(np.isfinite(med), med, 0.0)


def _gam_edges(Xi: np.ndarray, nb: int = GAM_BINS) -> list[np.ndarray]:
    """Per feature, the distinct inner quantile edges of ``nb`` equal-count bins."""
    return [np.unique(np.quantile(Xi[:, j], np.arange(1, nb) / nb)) for j in range(Xi.shape[1])]


def _gam_onehot(Xi: np.ndarray, edges: list[np.ndarray]) -> np.ndarray:
    """One-hot bin membership; bin k = number of edges strictly below x (a tree's ``x <= t`` goes left)."""
    cols = []
    for j, e in enumerate(edges):
        k = (Xi[:, j:j + 1] > e[None, :]).sum(1)
        cols.append(np.eye(len(e) + 1)[k])
    return np.hstack(cols)


class WindowEnsemble:
    """Balanced gradient-boosted depth-2 trees (HistGradientBoosting) plus an additive model (L2 logistic
    regression on per-feature quantile bins), each score divided by its training SD and summed.
    Both parts are sums of trees, so the ensemble exports to one flat tree list."""

    def __init__(self, seed: int = 0, native_missing: bool = NATIVE_MISSING, additive: bool = True):
        self.seed = seed
        self.additive = additive
        self.native_missing = native_missing

    def fit(self, X: np.ndarray, y: np.ndarray) -> "WindowEnsemble":
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.linear_model import LogisticRegression

        self.med = _medians(X)
        Xi = _impute(X, self.med)
        Xh = X if self.native_missing else Xi
        self.hgb = HistGradientBoostingClassifier(class_weight="balanced", random_state=self.seed,
                                                  **HGB_PARAMS).fit(Xh, y)
        self.sd_h = float(np.std(self.hgb.decision_function(Xh))) or 1.0
        if not self.additive:
            self.edges, self.gam, self.sd_g = [], None, 1.0
            return self
        self.edges = _gam_edges(Xi)
        self.gam = LogisticRegression(C=GAM_C, class_weight="balanced", max_iter=5000).fit(
            _gam_onehot(Xi, self.edges), y)
        self.sd_g = float(np.std(self.gam.decision_function(_gam_onehot(Xi, self.edges)))) or 1.0
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        Xi = _impute(X, self.med)
        z = self.hgb.decision_function(X if self.native_missing else Xi) / self.sd_h
        if self.gam is not None:
            z = z + self.gam.decision_function(_gam_onehot(Xi, self.edges)) / self.sd_g
        return z

    def export(self) -> dict:
        """Flat tree arrays for :class:`cxsense.encoders.physio.model.TreeModel` (learning rate 1)."""
        feat, thr, left, right, val, roots, miss = [], [], [], [], [], [], []
        init = float(np.ravel(self.hgb._baseline_prediction)[0]) / self.sd_h
        for (pred,) in self.hgb._predictors:
            nodes = pred.nodes
            off = len(feat)
            roots.append(off)
            for nd in nodes:
                leaf = bool(nd["is_leaf"])
                feat.append(0 if leaf else int(nd["feature_idx"]))
                thr.append(0.0 if leaf else float(nd["num_threshold"]))
                left.append(-1 if leaf else int(nd["left"]) + off)
                right.append(-1 if leaf else int(nd["right"]) + off)
                val.append(float(nd["value"]) / self.sd_h if leaf else 0.0)
                miss.append(False if leaf else bool(nd["missing_go_to_left"]))
        w = self.gam.coef_[0] / self.sd_g if self.gam is not None else np.zeros(0)
        init += float(self.gam.intercept_[0]) / self.sd_g if self.gam is not None else 0.0
        pos = 0
        for j, e in enumerate(self.edges):
            wj = w[pos:pos + len(e) + 1]
            pos += len(e) + 1
            init += float(wj[0])
            for k, t in enumerate(e):  # stump: x > t adds the step between bins k and k+1
                off = len(feat)
                roots.append(off)
                feat += [j, 0, 0]
                thr += [float(t), 0.0, 0.0]
                left += [off + 1, -1, -1]
                right += [off + 2, -1, -1]
                val += [0.0, 0.0, float(wj[k + 1] - wj[k])]
                miss += [bool(self.med[j] <= t), False, False]  # missing = the training median's side
        out = {"feature": feat, "threshold": thr, "left": left, "right": right, "value": val, "roots": roots,
               "learning_rate": 1.0, "init": init}
        if self.native_missing:
            out["missing_left"] = miss
        return out

    def importance(self, X: np.ndarray) -> np.ndarray:
        """Per-feature share: HGB split gains and the SD of each additive term, averaged (each sums to 1)."""
        g = np.zeros(X.shape[1])
        for (pred,) in self.hgb._predictors:
            for nd in pred.nodes:
                if not nd["is_leaf"]:
                    g[int(nd["feature_idx"])] += max(float(nd["gain"]), 0.0)
        if self.gam is None:
            return g / max(g.sum(), 1e-12)
        oh = _gam_onehot(_impute(X, self.med), self.edges)
        a = np.zeros(X.shape[1])
        pos = 0
        for j, e in enumerate(self.edges):
            n = len(e) + 1
            a[j] = np.std(oh[:, pos:pos + n] @ self.gam.coef_[0][pos:pos + n])
            pos += n
        return 0.5 * g / max(g.sum(), 1e-12) + 0.5 * a / max(a.sum(), 1e-12)


def raw_score(m, med, X) -> np.ndarray:
    return m.decision_function(np.where(np.isnan(X), med, X))


def platt(z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Fit p = sigmoid(a*z + b) by (nearly unregularised) logistic regression."""
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1e4, max_iter=1000).fit(z.reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def fit_model(kind: str, X: np.ndarray, y: np.ndarray, seed: int):
    """``"gb"``: :func:`fit_gb`; ``"ens"``: :class:`WindowEnsemble`. Returns an object with ``decision_function``."""
    if kind == "ens":
        return WindowEnsemble(seed).fit(X, y)
    if kind == "hgb":
        return WindowEnsemble(seed, additive=False).fit(X, y)
    m, med = fit_gb(X, y, seed)
    return _GB(m, med)


class _GB:
    def __init__(self, m, med):
        self.m, self.med = m, med

    def decision_function(self, X):
        return raw_score(self.m, self.med, X)

    def export(self):
        return export_trees(self.m)

    def importance(self, X):
        return self.m.feature_importances_


def loso_scores(X, y, s, seed, log=None, kind: str = "gb"):
    """Out-of-fold raw scores, leave one subject out."""
    z = np.zeros(len(y))
    for u in np.unique(s):
        te = s == u
        z[te] = fit_model(kind, X[~te], y[~te], seed).decision_function(X[te])
        if log:
            log(f"  fold {u} done")
    return z


def grouped_scores(X, y, s, seed, folds, kind: str = "gb"):
    """Out-of-fold raw scores with subjects split into ``folds`` groups (sorted subject ids, round robin)."""
    subs = sorted(np.unique(s))
    fold_of = {u: i % folds for i, u in enumerate(subs)}
    f = np.array([fold_of[u] for u in s])
    z = np.zeros(len(y))
    for k in range(folds):
        te = f == k
        z[te] = fit_model(kind, X[~te], y[~te], seed).decision_function(X[te])
    return z


def loso_calibrated(z, y, s):
    """Calibrate each held-out subject's scores with Platt parameters fit on the other subjects' OOF scores."""
    p = np.zeros(len(y))
    for u in np.unique(s):
        te = s == u
        a, b = platt(z[~te], y[~te])
        p[te] = sigmoid(a * z[te] + b)
    return p


def evaluate(p, y, thr, s=None) -> dict:
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    from cxsense.metrics import binary_ece

    pred = p >= thr
    out = {
        "n": int(len(y)),
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
        "recall_stress": float(pred[y == 1].mean()),
        "recall_nonstress": float((~pred[y == 0]).mean()),
        "auc": float(roc_auc_score(y, p)),
        "ece": binary_ece(p, y),
        "balanced_accuracy_at_0.5": float(balanced_accuracy_score(y, p >= 0.5)),
    }
    if s is not None:
        per = []
        for u in np.unique(s):
            m = s == u
            if len(np.unique(y[m])) == 2:
                per.append(balanced_accuracy_score(y[m], pred[m]))
        out["per_subject_ba_mean"] = float(np.mean(per))
    return out


# ----------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description="Train the physiology stress model (Stress-Predict).")
    ap.add_argument("--data", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--loso", action="store_true",
                    help="also compute leave-one-subject-out figures (25 fits per model; benchmarks/physio_stress.py "
                         "computes them too)")
    ap.add_argument("--window-model", choices=("hgb", "ens", "gb"), default=WINDOW_MODEL,
                    help="recipe of the no-baseline model: hgb (v1.1: HistGradientBoosting, missing features "
                         "routed as learned), ens (hgb + binned logistic) or gb (v1.0)")
    ap.add_argument("--calib-folds", type=int, default=5,
                    help="subject-grouped folds whose out-of-fold scores fit the Platt calibration")
    a = ap.parse_args()
    t0 = time.time()
    root = data_root(a.data)
    d = load_features(root)
    names = [str(n) for n in d["feature_names"]]
    groups = [str(g) for g in d["groups"]]
    X, y, s = d["X"], d["y"], d["subject"]
    from training.common.stress_predict import subjects

    sp = subjects(root)
    tr = np.array([sp[u] == "train" for u in s])
    dv = np.array([sp[u] == "dev" for u in s])
    is_base, after = baseline_masks(d)
    B = baseline_features(X, s, is_base)
    XD = with_delta(X, B)
    prev = float(y[tr].mean())
    log = lambda m: print(f"[{time.time() - t0:6.0f} s] {m}", flush=True)
    log(f"train {tr.sum()} windows of {len(np.unique(s[tr]))} subjects, dev {dv.sum()} windows of "
        f"{len(np.unique(s[dv]))} subjects, stress prevalence (train) {prev:.3f}")

    report = {}
    models = {}
    recipe = {"window": a.window_model, "baseline": "gb"}
    for kind, XX in (("window", X), ("baseline", XD)):
        log(f"{kind}: {recipe[kind]}; subject-grouped folds on train")
        zc = grouped_scores(XX[tr], y[tr], s[tr], a.seed, a.calib_folds, recipe[kind])
        pa, pb = platt(zc, y[tr])
        log(f"{kind}: Platt a={pa:.4f} b={pb:.4f} from {a.calib_folds}-fold subject-grouped scores")
        if a.loso:
            z = loso_scores(XX[tr], y[tr], s[tr], a.seed, log, recipe[kind])
            p = loso_calibrated(z, y[tr], s[tr])
            rows = after[tr] if kind == "baseline" else np.ones(tr.sum(), bool)
            report[f"loso_{kind}"] = evaluate(p[rows], y[tr][rows], prev, s[tr][rows])
            if kind == "window":
                report["loso_window_after_baseline_period"] = evaluate(p[after[tr]], y[tr][after[tr]], prev,
                                                                       s[tr][after[tr]])
            log(f"{kind}: LOSO {report[f'loso_{kind}']}")
        m = fit_model(recipe[kind], XX[tr], y[tr], a.seed)
        med = m.med
        pdv = sigmoid(pa * m.decision_function(XX[dv]) + pb)
        rows = after[dv] if kind == "baseline" else np.ones(dv.sum(), bool)
        report[f"dev_{kind}"] = evaluate(pdv[rows], y[dv][rows], prev, s[dv][rows])
        log(f"{kind}: dev {report[f'dev_{kind}']}")
        imp = m.importance(XX[tr])
        cols = names if kind == "window" else names + [f"delta_{n}" for n in names]
        models[kind] = {"features": cols, "impute": med.tolist(), "trees": m.export(), "recipe": recipe[kind],
                        "calibration": {"a": pa, "b": pb},
                        "importance": {c: float(v) for c, v in zip(cols, imp)}}

    # feature scaling for the embedding (train windows)
    mu = np.nanmean(X[tr], 0)
    sd = np.nanstd(X[tr], 0) + 1e-9
    gimp = {g: 0.0 for g in groups}
    from cxsense.encoders.physio.pipeline import GROUPS

    for g, fs in GROUPS.items():
        gimp[g] = float(sum(models["window"]["importance"][f] for f in fs))
    cal = {kind: models[kind].pop("calibration") for kind in models}
    command = "python -m training.physio.train " + " ".join(sys.argv[1:])
    meta = physio_stress_meta(
        VERSION, architecture={
            "window": {"hgb": f"sklearn HistGradientBoostingClassifier {HGB_PARAMS} (balanced class weights; "
                              "missing features follow the learned direction), score / its training SD, exported "
                              "to arrays; Platt calibration",
                       "ens": f"sklearn HistGradientBoostingClassifier {HGB_PARAMS} (balanced) + L2 logistic "
                              f"regression (C={GAM_C}) on {GAM_BINS} quantile bins per feature, each score / its "
                              "training SD, summed; exported as one tree list (the additive part as stumps); Platt "
                              "calibration",
                       "gb": f"sklearn GradientBoostingClassifier {GB_PARAMS}; Platt calibration"}[a.window_model],
            "baseline": f"sklearn GradientBoostingClassifier {GB_PARAMS} exported to arrays; Platt calibration"},
        groups={g: list(GROUPS[g]) for g in groups}, group_weights=gimp, window_s=60,
        baseline_max_windows=BASELINE_MAX_WINDOWS, feature_mean=mu.tolist(), feature_sd=sd.tolist(),
        calibration={**cal, "decision_threshold": prev}, figures=report,
        provenance=provenance("Stress-Predict (Iqbal et al. 2022), 25 train subjects, wrist E4 PPG/EDA/TEMP/ACC, MIT "
                              "licence", STRESS_LICENCE, command,
                              [{"run": str(CACHE.relative_to(REPO)), "role": "feature cache"}],
                              seed=a.seed, train_seconds=round(time.time() - t0, 1)))
    path = write_json(a.out, {"models": models}, meta, compact=True)
    log(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    if path.resolve() == OUT.resolve():
        register("physio-stress", path, meta, licence=STRESS_LICENCE, card="physio/MODEL_CARD.md")
        print("registered physio-stress in models/registry.json")
    print("JSON " + json.dumps(report))


if __name__ == "__main__":
    main()
