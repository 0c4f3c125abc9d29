"""The shape network: a small 1-D CNN over a window's centred 4-Hz series, evaluated with NumPy.

Three convolutions (batch norms folded in at export), ReLU, max pooling by 2 after the first two,
then the mean and the maximum over time of the last layer, then one linear unit: a stress logit
that sees how the signals move within the window, never their levels (see :mod:`.sequences`).
Written by ``training/physio/train_shape.py``; read here without PyTorch.

File (safetensors): tensors ``conv{1,2,3}.weight`` ``[out, in, k]``, ``conv{1,2,3}.bias``, ``head.weight``
``[1, 2 * out3]``, ``head.bias``; cxsense's metadata block (:mod:`cxsense.modelmeta`) with
``architecture.family`` ``"cxsense-physio-shape"``, ``input`` ``{"channels": [...], "fs": 4.0}``,
``normalisation`` ``{"channel_scale": [...]}`` and ``calibration``
``{"ensemble": {"tree_scale", "shape_scale", "a", "b"}, "ensemble_baseline": {...same keys...}}``.

The stress probability is ``sigmoid(a * (tree / tree_scale + shape / shape_scale) + b)``: the tree
model's and this network's raw scores, each divided by its spread on out-of-fold data, summed with
equal weight, then Platt-calibrated on out-of-fold data; ``ensemble`` goes with the no-baseline tree
model, ``ensemble_baseline`` with the baseline tree model.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ...errors import ModelError
from ...modelmeta import ModelMeta, read_meta
from .sequences import SHAPE_CHANNELS, SHAPE_FS

__all__ = ["ShapeModel", "FAMILY", "MIN_STEPS"]

#: ``architecture.family`` of the files this module reads.
FAMILY = "cxsense-physio-shape"
SUPPORTED_MAJOR = 1
#: Fewest time steps the network accepts (after two poolings by 2 at least one step remains).
MIN_STEPS = 8


def _conv_relu(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """'Same' 1-D convolution (odd kernel) + bias + ReLU; x [C, T], w [O, C, K] -> [O, T]."""
    k = w.shape[2]
    xp = np.pad(x, ((0, 0), (k // 2, k // 2)))
    cols = np.lib.stride_tricks.sliding_window_view(xp, k, axis=1)  # [C, T, K]
    y = w.reshape(w.shape[0], -1) @ cols.transpose(0, 2, 1).reshape(-1, cols.shape[1])  # [O, C*K] @ [C*K, T]
    y += b[:, None]
    return np.maximum(y, 0.0, out=y)


def _pool2(x: np.ndarray) -> np.ndarray:
    t = (x.shape[1] // 2) * 2
    return x[:, :t].reshape(x.shape[0], -1, 2).max(2)


class ShapeModel:
    """The shipped shape network and the ensemble's calibration.

    Parameters
    ----------
    path : the safetensors file
    meta : ModelMeta, optional
        Its checked metadata block (from :func:`cxsense.registry.model_file`); read from the file when None.
    """

    def __init__(self, path: Path, meta: ModelMeta | None = None):
        meta = read_meta(path) if meta is None else meta
        if meta.family != FAMILY:
            raise ModelError(f"{path} is not a {FAMILY} file (family {meta.family!r})")
        if int(str(meta.version).split(".")[0]) != SUPPORTED_MAJOR:
            raise ModelError(f"physio shape model {path} has version {meta.version}; this cxsense reads "
                             f"version {SUPPORTED_MAJOR}.x")
        channels, fs = meta.require("input", "channels", "fs", where=str(path))
        if list(channels) != list(SHAPE_CHANNELS) or float(fs) != SHAPE_FS:
            raise ModelError(f"physio shape model {path} reads channels {channels} at {fs} Hz; "
                             f"this cxsense computes {list(SHAPE_CHANNELS)} at {SHAPE_FS} Hz")
        try:
            from safetensors import safe_open

            with safe_open(str(path), framework="numpy") as f:
                t = {k: f.get_tensor(k).astype(np.float64) for k in f.keys()}
            self.layers = [(t[f"conv{i}.weight"], t[f"conv{i}.bias"]) for i in (1, 2, 3)]
            self.head_w = t["head.weight"].reshape(-1)
            self.head_b = float(t["head.bias"].reshape(-1)[0])
            self.scale = np.asarray(meta.require("normalisation", "channel_scale", where=str(path)), dtype=np.float64)
            self.ensembles = {}
            for key, name in (("ensemble", "window"), ("ensemble_baseline", "baseline")):
                e = meta.require("calibration", key, where=str(path))
                self.ensembles[name] = (float(e["tree_scale"]), float(e["shape_scale"]), float(e["a"]), float(e["b"]))
            self.tree_scale, self.shape_scale, self.a, self.b = self.ensembles["window"]
        except (OSError, KeyError, TypeError, ValueError, IndexError) as e:
            raise ModelError(f"physio shape model {path} is incomplete: {e!r}") from e
        cin = len(SHAPE_CHANNELS)
        shapes_ok = (self.layers[0][0].shape[1] == cin and len(self.scale) == cin
                     and self.layers[1][0].shape[1] == self.layers[0][0].shape[0]
                     and self.layers[2][0].shape[1] == self.layers[1][0].shape[0]
                     and len(self.head_w) == 2 * self.layers[2][0].shape[0]
                     and all(w.shape[2] % 2 == 1 and len(b) == w.shape[0] for w, b in self.layers))
        scales_ok = all(t > 0 and sh > 0 for t, sh, _, _ in self.ensembles.values())
        if not shapes_ok or not scales_ok or not np.all(self.scale > 0):
            raise ModelError(f"physio shape model {path}: inconsistent tensor shapes or scales")
        self.meta = meta
        self.version = meta.version

    def raw(self, seq: np.ndarray) -> float:
        """The network's stress logit for one window's series ``[len(SHAPE_CHANNELS), T]``."""
        x = np.asarray(seq, dtype=np.float64) / self.scale[:, None]
        if x.shape[1] < MIN_STEPS:
            x = np.pad(x, ((0, 0), (0, MIN_STEPS - x.shape[1])))
        (w1, b1), (w2, b2), (w3, b3) = self.layers
        h = _pool2(_conv_relu(x, w1, b1))
        h = _pool2(_conv_relu(h, w2, b2))
        h = _conv_relu(h, w3, b3)
        z = np.concatenate([h.mean(1), h.max(1)])
        return float(z @ self.head_w + self.head_b)

    def combine(self, tree_raw: float, shape_raw: float, tree_model: str = "window") -> tuple[float, float]:
        """(calibrated stress probability, ensemble score) from the two raw scores; ``tree_model`` is the tree
        model that gave ``tree_raw``: ``"window"`` (no baseline) or ``"baseline"``."""
        ts, ss, a, b = self.ensembles[tree_model]
        z = tree_raw / ts + shape_raw / ss
        p = 1.0 / (1.0 + math.exp(-min(max(a * z + b, -50.0), 50.0)))
        return float(min(max(p, 0.0), 1.0)), float(z)
