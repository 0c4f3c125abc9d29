"""The stress model: gradient-boosted trees read from plain JSON and evaluated with NumPy (no pickle).

File layout (written by ``training/train_physio.py``)::

    {"meta": {"format": "cxsense-physio-gbt", "version": ..., "groups": ..., "group_weights": ...,
              "feature_mean": [...], "feature_sd": [...], "decision_threshold": ..., ...},
     "models": {"window" | "baseline": {"features": [...], "impute": [...],
                "trees": {"feature", "threshold", "left", "right", "value", "roots",
                          "learning_rate", "init"},
                "calibration": {"a", "b"}}}}

A node goes left when ``x[feature] <= threshold`` (scikit-learn's rule); leaves have ``left == -1``.
With the optional ``trees["missing_left"]`` (one boolean per node), a missing feature follows that
direction (learned by the trees) instead of being imputed with the training median.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ...errors import ModelError

__all__ = ["TreeModel", "StressModel", "FORMAT", "SUPPORTED_MAJOR"]

FORMAT = "cxsense-physio-gbt"
SUPPORTED_MAJOR = 1


class TreeModel:
    """One calibrated tree ensemble: features -> stress probability."""

    def __init__(self, spec: dict):
        self.features: list[str] = list(spec["features"])
        self.impute = np.asarray(spec["impute"], dtype=np.float64)
        t = spec["trees"]
        self.feature = np.asarray(t["feature"], dtype=np.int64)
        self.threshold = np.asarray(t["threshold"], dtype=np.float64)
        self.left = np.asarray(t["left"], dtype=np.int64)
        self.right = np.asarray(t["right"], dtype=np.int64)
        self.value = np.asarray(t["value"], dtype=np.float64)
        self.roots = np.asarray(t["roots"], dtype=np.int64)
        self.learning_rate = float(t["learning_rate"])
        self.init = float(t["init"])
        ml = t.get("missing_left")
        self.missing_left = None if ml is None else np.asarray(ml, dtype=bool)
        self.a = float(spec["calibration"]["a"])
        self.b = float(spec["calibration"]["b"])
        n = len(self.feature)
        if not (len(self.threshold) == len(self.left) == len(self.right) == len(self.value) == n) or \
                len(self.impute) != len(self.features) or \
                (self.missing_left is not None and len(self.missing_left) != n):
            raise ModelError("physio model: inconsistent tree arrays")
        inner = self.left >= 0
        if np.any(self.feature[inner] >= len(self.features)) or np.any(self.left[inner] >= n) or np.any(self.right[inner] >= n):
            raise ModelError("physio model: tree arrays point outside the model")

    def vector(self, feats: dict) -> np.ndarray:
        """Features in model order; missing ones are NaN for trees with ``missing_left``, otherwise
        imputed with the training medians."""
        x = np.array([feats.get(f, np.nan) for f in self.features], dtype=np.float64)
        return np.where(np.isfinite(x), x, np.nan if self.missing_left is not None else self.impute)

    def raw(self, x: np.ndarray) -> float:
        """Boosted log-odds (balanced classes) of one imputed vector."""
        node = self.roots.copy()
        for _ in range(64):  # depth bound
            inner = self.left[node] >= 0
            if not inner.any():
                break
            v = x[self.feature[node]]
            go_left = v <= self.threshold[node]
            if self.missing_left is not None:
                go_left = np.where(np.isnan(v), self.missing_left[node], go_left)
            nxt = np.where(go_left, self.left[node], self.right[node])
            node = np.where(inner, nxt, node)
        return self.init + self.learning_rate * float(self.value[node].sum())

    def predict(self, feats: dict) -> tuple[float, float]:
        """(calibrated stress probability, raw score)."""
        z = self.raw(self.vector(feats))
        p = 1.0 / (1.0 + math.exp(-(self.a * z + self.b)))
        return float(min(max(p, 0.0), 1.0)), z


class StressModel:
    """The shipped file: a window model, a baseline model and the metadata."""

    def __init__(self, path: Path):
        try:
            spec = json.loads(Path(path).read_text())
            meta = spec["meta"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ModelError(f"cannot read the physio model {path}: {e}") from e
        if meta.get("format") != FORMAT:
            raise ModelError(f"{path} is not a {FORMAT} file (format {meta.get('format')!r})")
        major = int(str(meta.get("version", "0")).split(".")[0])
        if major != SUPPORTED_MAJOR:
            raise ModelError(f"physio model {path} has version {meta.get('version')}; this cxsense reads "
                             f"version {SUPPORTED_MAJOR}.x")
        try:
            self.meta = meta
            self.window = TreeModel(spec["models"]["window"])
            self.baseline = TreeModel(spec["models"]["baseline"])
            self.feature_names = list(self.window.features)
            self.mean = np.asarray(meta["feature_mean"], dtype=np.float64)
            self.sd = np.asarray(meta["feature_sd"], dtype=np.float64)
            self.groups: dict[str, list[str]] = {g: list(v) for g, v in meta["groups"].items()}
            w = {g: float(meta["group_weights"][g]) for g in self.groups}
        except (KeyError, TypeError, ValueError) as e:
            raise ModelError(f"physio model {path} is incomplete: {e}") from e
        tot = sum(w.values()) or 1.0
        self.group_weights = {g: v / tot for g, v in w.items()}
        self.version = str(meta["version"])
