"""The late-fusion classifier as a scikit-learn estimator (``fit``, ``predict_proba``, ``classes_``).

It is a multinomial logistic regression over quality-gated modality blocks. ``X`` is laid out in
blocks, one per modality: a quality column ``q`` in [0, 1] followed by that modality's features (see
:mod:`cxsense.fusion.features`). The logits are

    z = b + sum over modalities m of  q_m * (W_m x_m + c_m)

so a modality with ``q = 0`` adds exactly nothing (masked, not imputed), and a lower-quality one counts
for less. Because ``z`` is linear in the parameters given ``q``, fitting is an L2-penalised logistic
regression on the gated design ``[q_m * x_m, q_m]``. An optional temperature, fitted on out-of-fold
logits (``calibration_cv``; :func:`cxsense.metrics.fit_temperature` on :data:`FUSION_TEMPERATURE_GRID`),
calibrates the probabilities.

With ``blocks=None`` every column is one ungated block (a plain logistic regression), which is what
scikit-learn's generic estimator checks exercise.

Use it on your own paired recordings::

    from cxsense.fusion import LateFusionClassifier, feature_rows, LearnedFusion, set_fusion
    X = feature_rows(assessments)                # one row per assessment (its modality results)
    clf = LateFusionClassifier(calibration_cv=5).fit(X, labels)   # labels: names from EMOTIONS
    set_fusion(LearnedFusion.from_estimator(clf))   # cxsense.assess now uses it
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..metrics import fit_temperature
from .features import CATEGORICAL_BLOCKS, gated_design

__all__ = ["LateFusionClassifier", "FUSION_TEMPERATURE_GRID"]

#: The fusion's temperature grid (161 points, log-spaced over [0.25, 4]); the shipped fusion's temperatures
#: were chosen on it, so refitting reproduces them.
FUSION_TEMPERATURE_GRID = np.exp(np.linspace(np.log(0.25), np.log(4.0), 161))


class LateFusionClassifier(ClassifierMixin, BaseEstimator):
    """Quality-gated multinomial logistic late fusion (see the module docstring).

    Parameters
    ----------
    blocks : sequence of (name, width), "default" or None, default "default"
        Column layout of ``X``. ``"default"`` is :data:`cxsense.fusion.features.CATEGORICAL_BLOCKS`
        (face then voice, 8 columns each). ``None``: all columns form one ungated block.
    C : float, default 1.0
        Inverse strength of the L2 penalty.
    calibration_cv : int or None, default None
        If set, fit a temperature on out-of-fold logits from this many stratified folds.
    max_iter : int, default 1000

    Attributes
    ----------
    classes_ : np.ndarray of the class labels
    coef_ : np.ndarray [shape=(n_classes, n_design)], intercept_ : np.ndarray [shape=(n_classes,)]
        On the gated design; two classes are expanded to two rows (a softmax over both).
    temperature_ : float
    n_features_in_ : int
    """

    def __init__(self, blocks="default", C=1.0, calibration_cv=None, max_iter=1000):
        self.blocks = blocks
        self.C = C
        self.calibration_cv = calibration_cv
        self.max_iter = max_iter

    def _blocks(self):
        return CATEGORICAL_BLOCKS if isinstance(self.blocks, str) and self.blocks == "default" else self.blocks

    def _check_layout(self, n_features: int) -> None:
        blocks = self._blocks()
        if blocks is not None and sum(1 + int(w) for _, w in blocks) != n_features:
            raise ValueError(f"X has {n_features} columns; the blocks {list(blocks)} need "
                             f"{sum(1 + int(w) for _, w in blocks)}")

    def _lr(self):
        return LogisticRegression(C=self.C, max_iter=self.max_iter)

    def fit(self, X, y, sample_weight=None):
        """Fit on rows ``X`` (see ``blocks``) and labels ``y``; returns self."""
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        self._check_layout(X.shape[1])
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"need samples of at least 2 classes; got 1 class: {self.classes_[0]!r}")
        D = gated_design(X, self._blocks())
        lr = self._lr().fit(D, y_idx, sample_weight=sample_weight)
        coef, icpt = lr.coef_, lr.intercept_
        if coef.shape[0] == 1:  # binary: a softmax over [-z/2, z/2] equals the sigmoid of z
            coef = np.vstack([-coef / 2, coef / 2])
            icpt = np.array([-icpt[0] / 2, icpt[0] / 2])
        self.coef_, self.intercept_ = coef, icpt
        self.n_iter_ = lr.n_iter_
        self.temperature_ = 1.0
        if self.calibration_cv:
            from sklearn.model_selection import StratifiedKFold

            oof = np.zeros((len(y_idx), len(self.classes_)))
            folds = StratifiedKFold(int(self.calibration_cv), shuffle=True, random_state=0)
            for tr, te in folds.split(D, y_idx):
                m = self._lr().fit(D[tr], y_idx[tr])
                z = m.decision_function(D[te])
                if z.ndim == 1:
                    z = np.stack([-z / 2, z / 2], 1)
                full = np.full((len(te), len(self.classes_)), -1e3)
                full[:, m.classes_] = z
                oof[te] = full
            self.temperature_ = fit_temperature(oof, y_idx, FUSION_TEMPERATURE_GRID)
        return self

    def _logits(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return gated_design(X, self._blocks()) @ self.coef_.T + self.intercept_

    def decision_function(self, X):
        """Logits ``(n, n_classes)`` before the temperature; ``(n,)`` (second minus first) for two classes."""
        z = self._logits(X)
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z

    def predict_proba(self, X):
        """Calibrated class probabilities ``(n, n_classes)``, columns ordered as ``classes_``."""
        z = self._logits(X) / self.temperature_
        z = z - z.max(1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(1, keepdims=True)

    def predict(self, X):
        """The most probable class of each row."""
        idx = np.argmax(self.predict_proba(X), axis=1)
        return self.classes_[idx]
