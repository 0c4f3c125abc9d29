"""The stress model: gradient-boosted trees read from plain JSON and evaluated with NumPy (no pickle).

File layout (written by ``training/physio/train.py``)::

    {"cxsense": {cxsense's metadata block (cxsense.modelmeta): architecture {"family": "cxsense-physio-gbt",
                 "groups", "group_weights", ...}, input {"window_s", ...}, normalisation {"feature_mean",
                 "feature_sd"}, calibration {"window": {"a", "b"}, "baseline": {"a", "b"}, "decision_threshold"}},
     "models": {"window" | "baseline": {"features": [...], "impute": [...],
                "trees": {"feature", "threshold", "left", "right", "value", "roots",
                          "learning_rate", "init"}}}}

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
from ...modelmeta import ModelMeta

__all__ = ["TreeModel", "StressModel", "FAMILY", "SUPPORTED_MAJOR"]

#: ``architecture.family`` of the files this module reads.
FAMILY = "cxsense-physio-gbt"
SUPPORTED_MAJOR = 1


class TreeModel:
    """One calibrated tree ensemble: features -> stress probability.

    Parameters
    ----------
    spec : dict, ``{"features", "impute", "trees", "calibration": {"a", "b"}}`` (see the module docstring)
    """

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
    """The shipped file: a window model, a baseline model and the metadata block.

    Parameters
    ----------
    path : the JSON file
    meta : ModelMeta, its checked metadata block (from :func:`cxsense.registry.model_file`)
    """

    def __init__(self, path: Path, meta: ModelMeta):
        if meta.family != FAMILY:
            raise ModelError(f"{path} is not a {FAMILY} file (family {meta.family!r})")
        major = int(str(meta.version).split(".")[0])
        if major != SUPPORTED_MAJOR:
            raise ModelError(f"physio model {path} has version {meta.version}; this cxsense reads "
                             f"version {SUPPORTED_MAJOR}.x")
        try:
            spec = json.loads(Path(path).read_text())
            groups, weights = meta.require("architecture", "groups", "group_weights", where=str(path))
            cal = meta.require("calibration", "window", "baseline", "decision_threshold", where=str(path))
            self.window = TreeModel(dict(spec["models"]["window"], calibration=cal[0]))
            self.baseline = TreeModel(dict(spec["models"]["baseline"], calibration=cal[1]))
            self.decision_threshold = float(cal[2])
            self.window_s = float(meta.require("input", "window_s", where=str(path)))
            self.feature_names = list(self.window.features)
            mean, sd = meta.require("normalisation", "feature_mean", "feature_sd", where=str(path))
            self.mean = np.asarray(mean, dtype=np.float64)
            self.sd = np.asarray(sd, dtype=np.float64)
            self.groups: dict[str, list[str]] = {g: list(v) for g, v in groups.items()}
            w = {g: float(weights[g]) for g in self.groups}
        except (OSError, KeyError, TypeError, ValueError) as e:
            raise ModelError(f"physio model {path} is incomplete: {e!r}") from e
        tot = sum(w.values()) or 1.0
        self.group_weights = {g: v / tot for g, v in w.items()}
        self.meta = meta
        self.version = meta.version
